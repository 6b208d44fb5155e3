"""The pose stream: source → estimator → One Euro filter → retarget, one frame at a time.

:func:`pose_stream` is a generator of :class:`CapturedFrame`; the stage, the headset and the
mirror feed consume it (or a take file written from it). Closing the generator releases the
source and the landmarker.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Generator
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from capture.estimator import PoseEstimator
from capture.filters import LandmarkSmoother, OneEuroFilter
from capture.landmarks import LandmarkFrame
from capture.models import ModelName, bundle_path
from capture.pose import Pose
from capture.retarget import retarget
from capture.sources import ImageFrame, Source

STAGES = ("decode", "inference", "filter", "retarget")


@dataclass(frozen=True, slots=True)
class CaptureSettings:
    """How a capture runs. Filter parameters are :class:`OneEuroFilter`'s (Hz, 1/m, Hz)."""

    model: ModelName = "lite"
    smoothing: bool = True
    min_cutoff: float = 1.0
    beta: float = 6.0
    d_cutoff: float = 1.0
    # The camera's vertical field of view in degrees, for root motion; None: the source's own
    # (a landmarks file's header) or capture.camera.DEFAULT_VFOV_DEG, a typical webcam's.
    vfov_deg: float | None = None


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

    __slots__ = ("_made",)

    def __init__(self) -> None:
        self._made: dict[ModelName, PoseEstimator] = {}

    def get(self, model: ModelName) -> PoseEstimator:
        if model not in self._made:
            self._made[model] = PoseEstimator(bundle_path(model))
        return self._made[model]

    def close(self) -> None:
        for estimator in self._made.values():
            estimator.close()
        self._made.clear()


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
    previous: Pose | None = None
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
            smooth = smoother(raw) if smoother is not None and raw is not None else raw
            filtered = time.perf_counter()
            pose = retarget(smooth, fallback=previous) if smooth is not None else None
            done = time.perf_counter()
            previous = pose or previous
            yield CapturedFrame(
                item.t,
                raw,
                pose,
                {
                    "decode": (decoded - start) * 1e3,
                    "inference": (inferred - decoded) * 1e3,
                    "filter": (filtered - inferred) * 1e3,
                    "retarget": (done - filtered) * 1e3,
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
