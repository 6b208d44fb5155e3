"""The pose stream: source → estimators (body, then face on a crop the body locates) → One Euro
filter → retarget → face track, one frame at a time.

:func:`pose_stream` is a generator of :class:`CapturedFrame`; the stage, the headset and the
mirror feed consume it (or a take file written from it). Closing the generator releases the
source and the landmarker.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Generator
from dataclasses import dataclass, field, replace

import numpy as np
from numpy.typing import NDArray

from capture.estimator import PoseEstimator
from capture.face_estimator import FaceEstimator
from capture.face_track import FaceTracker
from capture.filters import LandmarkSmoother, OneEuroFilter
from capture.landmarks import FaceLandmarks, LandmarkFrame
from capture.models import ModelName, bundle_path, face_bundle_path
from capture.pose import Pose
from capture.retarget import retarget
from capture.sources import ImageFrame, Source

STAGES = ("decode", "inference", "face", "filter", "retarget")


@dataclass(frozen=True, slots=True)
class CaptureSettings:
    """How a capture runs. Filter parameters are :class:`OneEuroFilter`'s (Hz, 1/m, Hz).
    ``face``: run the face landmarker on image frames (every ``face_every``-th frame; the
    frames between reuse the last face found)."""

    model: ModelName = "lite"
    smoothing: bool = True
    min_cutoff: float = 1.0
    beta: float = 6.0
    d_cutoff: float = 1.0
    face: bool = True
    face_every: int = 1

    def __post_init__(self) -> None:
        if self.face_every < 1:
            raise ValueError(f"face_every must be 1 or more frames, got {self.face_every}")


@dataclass(frozen=True, slots=True)
class CapturedFrame:
    """One frame of the pose stream.

    ``landmarks`` are the estimator's raw world landmarks (before smoothing), ``pose`` the
    retargeted pose (None when nobody was found), ``timings`` milliseconds per stage, and
    ``image`` the source's RGB picture (None for recorded landmarks): private to the actor.
    """

    t: float
    landmarks: LandmarkFrame | None
    pose: Pose | None
    timings: dict[str, float]
    image: NDArray[np.uint8] | None = None


class Estimators:
    """Pose estimators made on first use, one per model, kept until :meth:`close`. A source
    played again and again (a room looping its clip) reuses one landmarker instead of making
    and dropping one a pass, which MediaPipe does not give all the memory back for."""

    __slots__ = ("_face", "_made")

    def __init__(self) -> None:
        self._made: dict[ModelName, PoseEstimator] = {}
        self._face: FaceEstimator | None = None

    def get(self, model: ModelName) -> PoseEstimator:
        if model not in self._made:
            self._made[model] = PoseEstimator(bundle_path(model))
        return self._made[model]

    def face(self) -> FaceEstimator:
        if self._face is None:
            self._face = FaceEstimator(face_bundle_path())
        return self._face

    def close(self) -> None:
        for estimator in self._made.values():
            estimator.close()
        self._made.clear()
        if self._face is not None:
            self._face.close()
            self._face = None


def pose_stream(
    source: Source, settings: CaptureSettings | None = None, estimators: Estimators | None = None
) -> Generator[CapturedFrame, None, None]:
    """Capture ``source`` frame by frame. The source is closed when the generator ends, and
    the estimator too unless ``estimators`` (the caller's, to reuse) was given."""
    settings = settings or CaptureSettings()
    smoother = (
        LandmarkSmoother(OneEuroFilter(settings.min_cutoff, settings.beta, settings.d_cutoff))
        if settings.smoothing
        else None
    )
    own = estimators is None
    estimators = estimators or Estimators()
    face_tracker = FaceTracker()
    last_face: FaceLandmarks | None = None
    previous: Pose | None = None
    images = 0
    try:
        frames = source.frames()
        while True:
            start = time.perf_counter()
            try:
                item = next(frames)
            except StopIteration:
                return
            decoded = time.perf_counter()
            if isinstance(item, ImageFrame):
                raw = estimators.get(settings.model).estimate(item)
            else:
                raw = item
            inferred = time.perf_counter()
            if isinstance(item, ImageFrame) and raw is not None and settings.face:
                # The face only where a body locates it; between scheduled runs, the last one.
                if images % settings.face_every == 0:
                    last_face = estimators.face().estimate(item, raw)
                raw = replace(raw, face=last_face)
            images += isinstance(item, ImageFrame)
            faced = time.perf_counter()
            smooth = smoother(raw) if smoother is not None and raw is not None else raw
            filtered = time.perf_counter()
            pose = retarget(smooth, fallback=previous) if smooth is not None else None
            retargeted = time.perf_counter()
            if pose is not None and smooth is not None:
                pose = face_tracker(pose, smooth)
            done = time.perf_counter()
            previous = pose or previous
            yield CapturedFrame(
                item.t,
                raw,
                pose,
                {
                    "decode": (decoded - start) * 1e3,
                    "inference": (inferred - decoded) * 1e3,
                    "face": (faced - inferred + done - retargeted) * 1e3,
                    "filter": (filtered - faced) * 1e3,
                    "retarget": (retargeted - filtered) * 1e3,
                },
                item.rgb if isinstance(item, ImageFrame) else None,
            )
    finally:
        if own:
            estimators.close()
        source.close()


@dataclass(slots=True)
class CaptureStats:
    """Running figures for a live readout: rates over the whole run, latencies over a window."""

    window: int = 90
    frames: int = 0
    detected: int = 0
    started: float = field(default_factory=time.perf_counter)
    _recent: dict[str, deque[float]] = field(default_factory=dict)

    def add(self, frame: CapturedFrame) -> None:
        self.frames += 1
        self.detected += frame.pose is not None
        for stage, ms in frame.timings.items():
            self._recent.setdefault(stage, deque(maxlen=self.window)).append(ms)

    @property
    def detection_rate(self) -> float:
        return self.detected / self.frames if self.frames else 0.0

    @property
    def fps(self) -> float:
        elapsed = time.perf_counter() - self.started
        return self.frames / elapsed if elapsed > 0 else 0.0

    def median_ms(self, stage: str) -> float:
        values = self._recent.get(stage)
        return float(np.median(values)) if values else 0.0

    def readout(self) -> dict[str, str]:
        """Short fields for a progress bar's postfix."""
        fields = {"fps": f"{self.fps:.1f}", "pose": f"{self.detection_rate:.0%}"}
        fields.update({stage: f"{self.median_ms(stage):.1f}ms" for stage in STAGES})
        return fields
