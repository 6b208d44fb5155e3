"""From the face landmarker's raw weights to the pose's face track: calibrated, filtered, with
gaze and a confidence that fades when the face is lost.

- Neutral calibration: an actor's resting face does not read as all zeros (MediaPipe sees a
  little squint or smile in most). The median weights over one second with a face (the first
  second of a take, or one second from :meth:`FaceTracker.calibrate`, "relax, look at the
  camera") are the neutral ``n``; each weight is then ``clip((w − n) / (1 − n), 0, 1)``, so a
  resting face drives a resting avatar and a full expression still reaches 1.
- Filter: a One Euro filter per weight. A blink is 100–150 ms, 3–4 frames at 30 fps; a high
  beta opens the filter wide as soon as a weight moves fast, so a blink keeps its depth, while
  at rest the low cutoff removes the landmarker's frame-to-frame jitter.
- Lost face: the last face is held briefly (a blink of tracking), then eased to neutral, its
  confidence fading to 0.
- Gaze ``[yaw, pitch]`` (avatar space, :mod:`capture.face`) from the ``eyeLook*`` weights of
  both eyes: the actor looking to their own left (left eye out, right eye in) is yaw +.
- The head's rotation (``FaceLandmarks.rotation``) is recorded with the landmarks (takes written
  with ``--landmarks``, the actor's page's messages) but drives nothing yet: the head bone
  follows the body's head landmarks.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from capture.calibration import NeutralWindow
from capture.face import ARKIT_COUNT, ARKIT_INDEX, Face
from capture.filters import OneEuroFilter
from capture.landmarks import FaceLandmarks, FloatArray, LandmarkFrame
from capture.pose import Pose

MAX_NEUTRAL = 0.9  # a weight resting higher than this is a bad calibration, not a face
HOLD_S = 0.25  # a lost face is held this long...
EASE_S = 0.5  # ...then eased to neutral over this long
# Filter: cutoff 1.5 Hz at rest; beta 5 Hz per unit/s: a blink (≈ 30 units/s) opens it to over
# 50 Hz within a frame; the speed estimate's own cutoff is quick enough to catch a blink's start.
MIN_CUTOFF_HZ = 1.5
BETA = 5.0
D_CUTOFF_HZ = 4.0
# How far the eyes turn at eyeLook* = 1 (radians): about ARKit's range.
MAX_YAW = math.radians(30.0)
MAX_PITCH = math.radians(25.0)

_EYE = {
    name: ARKIT_INDEX[f"eyeLook{name}"]
    for name in (
        "InLeft", "InRight", "OutLeft", "OutRight", "UpLeft", "UpRight", "DownLeft", "DownRight"
    )
}  # fmt: skip


def calibrated(weights: FloatArray, neutral: FloatArray) -> FloatArray:
    """``clip((w − n) / (1 − n), 0, 1)``: the neutral reads 0, a full weight still 1."""
    n = np.clip(neutral, 0.0, MAX_NEUTRAL)
    out: FloatArray = np.clip((weights - n) / (1.0 - n), 0.0, 1.0)
    return out


def gaze_from_weights(weights: FloatArray) -> FloatArray:
    """``[yaw, pitch]`` radians, avatar space: yaw + toward the actor's (and avatar's) left,
    pitch + up, from the two eyes' eyeLook weights averaged."""
    w = {name: float(weights[i]) for name, i in _EYE.items()}
    left = (w["OutLeft"] - w["InLeft"] + w["InRight"] - w["OutRight"]) / 2.0
    up = (w["UpLeft"] + w["UpRight"] - w["DownLeft"] - w["DownRight"]) / 2.0
    return np.array([left * MAX_YAW, up * MAX_PITCH])


class FaceTracker:
    """``pose.face`` from each frame's raw face (``frame.face``): call once per frame, in time
    order, with or without a face. A stream that never had a face keeps ``pose.face`` as is."""

    __slots__ = ("_calibration", "_filter", "_last", "_last_t", "_lost_at")

    def __init__(self) -> None:
        self._filter = OneEuroFilter(MIN_CUTOFF_HZ, BETA, D_CUTOFF_HZ, max_gap=HOLD_S + EASE_S)
        self._calibration = NeutralWindow(np.zeros(ARKIT_COUNT))
        self._last: Face | None = None
        self._lost_at: float | None = None
        self._last_t: float | None = None

    @property
    def neutral(self) -> FloatArray:
        return self._neutral().copy()

    def _neutral(self) -> FloatArray:
        value = self._calibration.value
        assert value is not None  # it starts as zeros
        return value

    @property
    def calibrating(self) -> bool:
        return self._calibration.running

    def calibrate(self, t: float) -> None:
        """Take the next second of face from ``t`` as the actor's neutral ("relax, look at the
        camera")."""
        self._calibration.start(t)

    def __call__(self, pose: Pose, frame: LandmarkFrame) -> Pose:
        face = self.face(frame.t, frame.face)
        return pose if face is None else replace(pose, face=face)

    def face(self, t: float, raw: FaceLandmarks | None) -> Face | None:
        """The filtered face at ``t`` given the landmarker's ``raw`` face (None: not found)."""
        if self._last_t is not None and t < self._last_t:
            # The source started again (a looping clip): a new performance's face.
            self._filter.reset()
            self._last, self._lost_at = None, None
        self._last_t = t
        if raw is None:
            return self._lost(t)
        self._calibration.add(t, raw.blendshapes)
        weights = calibrated(raw.blendshapes, self._neutral())
        if self._lost_at is not None:
            self._filter.reset()  # after a loss, start from what is seen, not from neutral
        smooth = np.clip(self._filter(t, weights[:, None])[:, 0], 0.0, 1.0)
        self._last = Face(smooth, gaze_from_weights(smooth), raw.score)
        self._lost_at = None
        return self._last

    def _lost(self, t: float) -> Face | None:
        if self._last is None:
            return None
        if self._lost_at is None:
            self._lost_at = t
        gone = max(t - self._lost_at, 0.0)
        keep = min(1.0, max(0.0, 1.0 - (gone - HOLD_S) / EASE_S))  # 1 while held, then eased
        # Confidence fades from the first lost frame: what is held is not being seen.
        fade = max(0.0, 1.0 - gone / (HOLD_S + EASE_S))
        return Face(self._last.weights * keep, self._last.gaze * keep, self._last.confidence * fade)
