"""The pose stream: source → body estimator → left/right swap guard → face and hands on crops the
body locates → :class:`Performer` (One Euro filter → retarget with the actor's neutral head →
hand track → face track → root motion through the camera model), one frame at a time.

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

from capture.camera import DEFAULT_VFOV_DEG, CameraModel
from capture.estimator import PoseEstimator
from capture.face_estimator import FaceEstimator
from capture.face_track import FaceTracker
from capture.filters import LandmarkSmoother, OneEuroFilter
from capture.hand_estimator import HandEstimator
from capture.hands import HandTracker
from capture.landmarks import FaceLandmarks, LandmarkFrame
from capture.models import ModelName, bundle_path, face_bundle_path, hand_bundle_path
from capture.motion import RootMotion
from capture.pose import Pose
from capture.retarget import NeutralHead, retarget
from capture.sources import ImageFrame, Source, source_camera
from capture.swap import SwapGuard

STAGES = ("decode", "inference", "face", "hands", "filter", "retarget", "motion")


@dataclass(frozen=True, slots=True)
class CaptureSettings:
    """How a capture runs. Filter parameters are :class:`OneEuroFilter`'s (Hz, 1/m, Hz).
    ``face``: run the face landmarker on image frames (every ``face_every``-th frame; the
    frames between reuse the last face found). ``hands``: run the hand landmarker on crops
    around the body's wrists."""

    model: ModelName = "lite"
    smoothing: bool = True
    min_cutoff: float = 1.0
    beta: float = 6.0
    d_cutoff: float = 1.0
    # The camera's vertical field of view in degrees, for root motion; None: the source's own
    # (a landmarks file's header) or capture.camera.DEFAULT_VFOV_DEG, a typical webcam's.
    vfov_deg: float | None = None
    face: bool = True
    face_every: int = 1
    hands: bool = True
    # Each frame looks at one hand, in turn (the other repeats its last result): half the
    # cost, the same detection rate on real video.
    alternate_hands: bool = True

    def __post_init__(self) -> None:
        if self.face_every < 1:
            raise ValueError(f"face_every must be 1 or more frames, got {self.face_every}")


@dataclass(frozen=True, slots=True)
class CapturedFrame:
    """One frame of the pose stream.

    ``landmarks`` are what the estimators saw (world and image landmarks with left and right
    put back where the body model swapped them, the face and the hands; before smoothing),
    ``pose`` the
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

    __slots__ = ("_face", "_hands", "_made")

    def __init__(self) -> None:
        self._made: dict[ModelName, PoseEstimator] = {}
        self._face: FaceEstimator | None = None
        self._hands: HandEstimator | None = None

    def get(self, model: ModelName) -> PoseEstimator:
        if model not in self._made:
            self._made[model] = PoseEstimator(bundle_path(model))
        return self._made[model]

    def face(self) -> FaceEstimator:
        if self._face is None:
            self._face = FaceEstimator(face_bundle_path())
        return self._face

    def hands(self, alternate: bool) -> HandEstimator:
        if self._hands is None or self._hands.alternate != alternate:
            if self._hands is not None:
                self._hands.close()
            self._hands = HandEstimator(hand_bundle_path(), alternate=alternate)
        return self._hands

    def prepare(self, settings: CaptureSettings) -> None:
        """Load now every model ``settings`` will use (a second or more each), so that a room
        is ready when it says it is, rather than at its first frame."""
        self.get(settings.model)
        if settings.face:
            self.face()
        if settings.hands:
            self.hands(settings.alternate_hands)

    def close(self) -> None:
        for estimator in self._made.values():
            estimator.close()
        self._made.clear()
        if self._face is not None:
            self._face.close()
            self._face = None
        if self._hands is not None:
            self._hands.close()
            self._hands = None


class Performer:
    """Everything that turns one stream's landmark frames into poses, and its state: the swap
    guard, the landmark filter, the head's neutral tilt, the retargeter's memory of the last
    pose, the hand and face trackers and root motion. One per stream, used on the capture
    thread only; another thread asks for a calibration by message, and that thread calls
    :meth:`calibrate`."""

    __slots__ = ("_face", "_hands", "_head", "_previous", "_root", "_smoother", "_swaps")

    def __init__(self, settings: CaptureSettings) -> None:
        self._swaps = SwapGuard()
        self._smoother = (
            LandmarkSmoother(OneEuroFilter(settings.min_cutoff, settings.beta, settings.d_cutoff))
            if settings.smoothing
            else None
        )
        self._head = NeutralHead()
        self._face = FaceTracker()
        self._hands = HandTracker()
        # MediaPipe's first frames of a person misjudge their size, so their distance: on the
        # demo clip by 2 m over the first 0.3 s. The avatar starts on its mark after that.
        self._root = RootMotion(settle_s=0.5)
        self._previous: Pose | None = None

    def calibrate(self, t: float) -> None:
        """The actor relaxes and looks at the camera for a second from ``t``: their resting
        face and head tilt become the avatar's rest."""
        self._head.calibrate(t)
        self._face.calibrate(t)

    def guard(self, raw: LandmarkFrame) -> LandmarkFrame:
        """``raw`` with left and right put back where the body model swapped them: before the
        hands are looked for, as each hand is matched to the body's wrist on its side."""
        return self._swaps(raw)

    def __call__(
        self, raw: LandmarkFrame, timings: dict[str, float], camera: CameraModel | None = None
    ) -> Pose:
        """The pose for ``raw`` (guarded, not modified), placed on the floor through ``camera``
        when known; adds each stage's milliseconds to ``timings``."""
        start = time.perf_counter()
        smooth = self._smoother(raw) if self._smoother is not None else raw
        filtered = time.perf_counter()
        pose = retarget(smooth, fallback=self._previous, head_rest=self._head(smooth))
        retargeted = time.perf_counter()
        pose = self._hands(pose, smooth)
        handed = time.perf_counter()
        pose = self._face(pose, smooth)
        faced = time.perf_counter()
        # The retargeter's memory is the pose before root motion: it holds rotations only.
        self._previous = pose
        pose = self._root(smooth, pose, camera)
        done = time.perf_counter()
        timings["filter"] = (filtered - start) * 1e3
        timings["retarget"] = (retargeted - filtered) * 1e3
        timings["hands"] = timings.get("hands", 0.0) + (handed - retargeted) * 1e3
        timings["face"] = timings.get("face", 0.0) + (faced - handed) * 1e3
        timings["motion"] = (done - faced) * 1e3
        return pose


def pose_stream(
    source: Source,
    settings: CaptureSettings | None = None,
    estimators: Estimators | None = None,
    performer: Performer | None = None,
) -> Generator[CapturedFrame, None, None]:
    """Capture ``source`` frame by frame. The source is closed when the generator ends, and
    the estimators too unless ``estimators`` (the caller's, to reuse) was given. ``performer``
    (the caller's, to calibrate it between frames) carries the solving state; a new one when
    not given."""
    settings = settings or CaptureSettings()
    own = estimators is None
    estimators = estimators or Estimators()
    performer = performer or Performer(settings)
    last_face: FaceLandmarks | None = None
    images = 0
    camera = source_camera(source, settings.vfov_deg)
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
                height, width = item.rgb.shape[:2]
                if camera is None or (camera.width, camera.height) != (width, height):
                    vfov = DEFAULT_VFOV_DEG if settings.vfov_deg is None else settings.vfov_deg
                    camera = CameraModel(width, height, vfov)
            else:
                raw = item
                # Per frame: an actor's page tells its picture size when it can, and may change.
                camera = source_camera(source, settings.vfov_deg)
            raw = performer.guard(raw) if raw is not None else None
            inferred = time.perf_counter()
            if isinstance(item, ImageFrame) and raw is not None and settings.face:
                # The face only where a body locates it; between scheduled runs, the last one.
                if images % settings.face_every == 0:
                    last_face = estimators.face().estimate(item, raw)
                raw = replace(raw, face=last_face)
            faced = time.perf_counter()
            if isinstance(item, ImageFrame) and raw is not None and settings.hands:
                left, right = estimators.hands(settings.alternate_hands).estimate(item, raw)
                raw = replace(raw, left_hand=left, right_hand=right)
            images += isinstance(item, ImageFrame)
            handed = time.perf_counter()
            timings = {
                "decode": (decoded - start) * 1e3,
                "inference": (inferred - decoded) * 1e3,
                "face": (faced - inferred) * 1e3,
                "hands": (handed - faced) * 1e3,
            }
            pose = performer(raw, timings, camera) if raw is not None else None
            yield CapturedFrame(
                item.t, raw, pose, timings, item.rgb if isinstance(item, ImageFrame) else None
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
