"""MediaPipe pose landmarks: names, one frame of them, and the change of axes into avatar space.

MediaPipe world landmarks are metres with the origin at the hip midpoint, +x to the image's right,
+y down and +z away from the camera. The actor faces the camera, so the actor's left side is on
the image's right. Avatar space (VRM 1.0 normalized) is Y up, the avatar facing +Z and its left
hand on +X: a half turn about X, so the avatar mirrors the actor the way a person expects.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import IntEnum

import numpy as np
from numpy.typing import NDArray

from capture.errors import LandmarkShapeError

FloatArray = NDArray[np.float64]

LANDMARK_COUNT = 33
# World landmarks are metres from the hips; a person spans about two. Far larger values are not
# landmarks, and squaring them in the retargeter would overflow to NaN.
MAX_LANDMARK_METRES = 100.0

# MediaPipe world axes → avatar axes: (x, y, z) → (x, -y, -z).
_MEDIAPIPE_TO_AVATAR = np.array([1.0, -1.0, -1.0])


class Landmark(IntEnum):
    """BlazePose's 33 landmarks, in MediaPipe's order. LEFT/RIGHT are the actor's own sides."""

    NOSE = 0
    LEFT_EYE_INNER = 1
    LEFT_EYE = 2
    LEFT_EYE_OUTER = 3
    RIGHT_EYE_INNER = 4
    RIGHT_EYE = 5
    RIGHT_EYE_OUTER = 6
    LEFT_EAR = 7
    RIGHT_EAR = 8
    MOUTH_LEFT = 9
    MOUTH_RIGHT = 10
    LEFT_SHOULDER = 11
    RIGHT_SHOULDER = 12
    LEFT_ELBOW = 13
    RIGHT_ELBOW = 14
    LEFT_WRIST = 15
    RIGHT_WRIST = 16
    LEFT_PINKY = 17
    RIGHT_PINKY = 18
    LEFT_INDEX = 19
    RIGHT_INDEX = 20
    LEFT_THUMB = 21
    RIGHT_THUMB = 22
    LEFT_HIP = 23
    RIGHT_HIP = 24
    LEFT_KNEE = 25
    RIGHT_KNEE = 26
    LEFT_ANKLE = 27
    RIGHT_ANKLE = 28
    LEFT_HEEL = 29
    RIGHT_HEEL = 30
    LEFT_FOOT_INDEX = 31
    RIGHT_FOOT_INDEX = 32


@dataclass(frozen=True, slots=True)
class LandmarkFrame:
    """One frame of world landmarks as MediaPipe returns them.

    ``t`` is the source's timestamp in seconds (never the wall clock), ``xyz`` is (33, 3) in
    metres in MediaPipe world axes, ``visibility`` is (33,) in [0, 1]. Arrays are read-only.
    """

    t: float
    xyz: FloatArray
    visibility: FloatArray

    @classmethod
    def from_array(
        cls, t: float, values: NDArray[np.floating] | list[list[float]]
    ) -> LandmarkFrame:
        """Build a frame from (33, 3) or (33, 4) values; the 4th column is visibility (default 1).

        Refused: another shape, NaN or infinite values, positions beyond
        :data:`MAX_LANDMARK_METRES`, visibility outside [0, 1], a time that is not finite.
        """
        try:
            arr = np.array(values, dtype=np.float64)
        except (TypeError, ValueError, OverflowError):
            raise LandmarkShapeError("landmarks must be numbers") from None
        if arr.ndim != 2 or arr.shape[0] != LANDMARK_COUNT or arr.shape[1] not in (3, 4):
            raise LandmarkShapeError(
                f"expected {LANDMARK_COUNT} landmarks of 3 or 4 values, got shape {arr.shape}"
            )
        if not np.all(np.isfinite(arr)):
            raise LandmarkShapeError("landmarks contain NaN or infinite values")
        if not math.isfinite(t):
            raise LandmarkShapeError(f"landmark time must be finite seconds, got {t}")
        xyz = arr[:, :3].copy()
        vis = arr[:, 3].copy() if arr.shape[1] == 4 else np.ones(LANDMARK_COUNT)
        if np.any(np.abs(xyz) > MAX_LANDMARK_METRES):
            raise LandmarkShapeError(
                f"landmark positions must be within {MAX_LANDMARK_METRES:g} m of the hips"
            )
        if np.any((vis < 0.0) | (vis > 1.0)):
            raise LandmarkShapeError("landmark visibility must be in [0, 1]")
        xyz.flags.writeable = False
        vis.flags.writeable = False
        return cls(t=float(t), xyz=xyz, visibility=vis)

    def as_rows(self) -> list[list[float]]:
        """[[x, y, z, visibility] × 33], rounded to 0.1 mm for compact take files."""
        rows = np.concatenate([self.xyz, self.visibility[:, None]], axis=1)
        return [[round(float(v), 5) for v in row] for row in rows]

    def avatar_xyz(self) -> FloatArray:
        """Landmark positions in avatar space (Y up, facing +Z, left on +X), metres."""
        out: FloatArray = self.xyz * _MEDIAPIPE_TO_AVATAR
        return out


def avatar_to_mediapipe(points: FloatArray) -> FloatArray:
    """Inverse of the axis change in :meth:`LandmarkFrame.avatar_xyz` (it is its own inverse)."""
    out: FloatArray = points * _MEDIAPIPE_TO_AVATAR
    return out
