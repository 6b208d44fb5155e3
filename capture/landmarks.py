"""MediaPipe landmarks: names, one frame of them, and the change of axes into avatar space.

A :class:`LandmarkFrame` is everything the estimators saw in one picture: the body's 33 world
landmarks (always), and when known their image positions, the face landmarker's blendshapes and
head rotation (:class:`FaceLandmarks`), and each hand's 21 world landmarks
(:class:`HandLandmarks`), already matched to the actor's own left and right.

MediaPipe world landmarks are metres with the origin at the hip midpoint, +x to the image's right,
+y down and +z away from the camera. The actor faces the camera, so the actor's left side is on
the image's right. Avatar space (VRM 1.0 normalized) is Y up, the avatar facing +Z and its left
hand on +X: a half turn about X, so the avatar mirrors the actor the way a person expects.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from enum import IntEnum
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from capture import fields
from capture.errors import LandmarkShapeError, TakeFormatError
from capture.face import ARKIT, ARKIT_INDEX
from capture.rotations import matrix_to_quat, quat_to_matrix

FloatArray = NDArray[np.float64]

LANDMARK_COUNT = 33
# World landmarks are metres from the hips; a person spans about two. Far larger values are not
# landmarks, and squaring them in the retargeter would overflow to NaN.
MAX_LANDMARK_METRES = 100.0
# Image landmarks are fractions of the picture; a landmark guessed far outside it is not one.
MAX_IMAGE_EXTENT = 100.0

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


class HandLandmark(IntEnum):
    """MediaPipe's 21 hand landmarks, in its order."""

    WRIST = 0
    THUMB_CMC = 1
    THUMB_MCP = 2
    THUMB_IP = 3
    THUMB_TIP = 4
    INDEX_MCP = 5
    INDEX_PIP = 6
    INDEX_DIP = 7
    INDEX_TIP = 8
    MIDDLE_MCP = 9
    MIDDLE_PIP = 10
    MIDDLE_DIP = 11
    MIDDLE_TIP = 12
    RING_MCP = 13
    RING_PIP = 14
    RING_DIP = 15
    RING_TIP = 16
    PINKY_MCP = 17
    PINKY_PIP = 18
    PINKY_DIP = 19
    PINKY_TIP = 20


HAND_LANDMARK_COUNT = 21
# The actor's own sides, as the body landmarks name them.
Side = Literal["left", "right"]
SIDES: tuple[Side, ...] = ("left", "right")
# Hand world landmarks are metres from the hand's centre; a hand spans about 0.2.
MAX_HAND_METRES = 1.0


@dataclass(frozen=True, slots=True)
class HandLandmarks:
    """One hand as the hand landmarker saw it. ``world`` (21, 3): metres in MediaPipe's hand
    world axes (the camera's: +x image right, +y down, +z away; origin near the hand's centre).
    ``score`` in [0, 1]: how sure the landmarker is that this is a hand. Read-only arrays."""

    world: FloatArray
    score: float = 1.0

    def __post_init__(self) -> None:
        world = _checked(self.world, (HAND_LANDMARK_COUNT, 3), MAX_HAND_METRES, "hand landmarks")
        if not 0.0 <= self.score <= 1.0:
            raise LandmarkShapeError("hand score must be in [0, 1]")
        object.__setattr__(self, "world", world)


@dataclass(frozen=True, slots=True)
class FaceLandmarks:
    """The face landmarker's output for one face. ``blendshapes`` (52,): raw weights in [0, 1] in
    :data:`capture.face.ARKIT` order (not yet filtered or calibrated). ``rotation`` (3, 3): the
    head's rotation from the facial transformation matrix, in MediaPipe's face-geometry space (the
    camera's: +x right, +y up, +z toward the camera; identity faces the camera), or None.
    ``score`` in [0, 1]. Read-only arrays."""

    blendshapes: FloatArray
    rotation: FloatArray | None = None
    score: float = 1.0

    def __post_init__(self) -> None:
        weights = _checked(self.blendshapes, (52,), 1.0, "face blendshapes")
        if np.any(weights < 0.0):
            raise LandmarkShapeError("face blendshapes must be in [0, 1]")
        object.__setattr__(self, "blendshapes", weights)
        if self.rotation is not None:
            object.__setattr__(
                self, "rotation", _checked(self.rotation, (3, 3), 1.0001, "rotation")
            )
        if not 0.0 <= self.score <= 1.0:
            raise LandmarkShapeError("face score must be in [0, 1]")


def _checked(values: object, shape: tuple[int, ...], bound: float, what: str) -> FloatArray:
    """A read-only float copy of ``values``, refused unless of ``shape``, finite, within ±bound."""
    try:
        arr = np.array(values, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        raise LandmarkShapeError(f"{what} must be numbers") from None
    if arr.shape != shape:
        raise LandmarkShapeError(f"{what}: expected shape {shape}, got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise LandmarkShapeError(f"{what} contain NaN or infinite values")
    if np.any(np.abs(arr) > bound):
        raise LandmarkShapeError(f"{what} must be within ±{bound:g}")
    arr.flags.writeable = False
    return arr


@dataclass(frozen=True, slots=True)
class LandmarkFrame:
    """One frame of landmarks as MediaPipe returns them.

    ``t`` is the source's timestamp in seconds (never the wall clock), ``xyz`` is (33, 3) in
    metres in MediaPipe world axes, ``visibility`` is (33,) in [0, 1]. ``image`` (33, 3), when
    known, is MediaPipe's normalized image landmarks: ``[u, v, z]`` with u, v in picture widths
    and heights from the top-left corner (a landmark may lie a little outside [0, 1]). ``face``,
    ``left_hand`` and ``right_hand`` are what the face and hand landmarkers found (None: not
    run, or nothing found); the sides are the actor's own. Arrays are read-only.
    """

    t: float
    xyz: FloatArray
    visibility: FloatArray
    image: FloatArray | None = None
    face: FaceLandmarks | None = None
    left_hand: HandLandmarks | None = None
    right_hand: HandLandmarks | None = None

    def __post_init__(self) -> None:
        if self.image is not None:
            image = _checked(self.image, (LANDMARK_COUNT, 3), MAX_IMAGE_EXTENT, "image landmarks")
            object.__setattr__(self, "image", image)

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

    def image_rows(self) -> list[list[float]] | None:
        """``image`` as [[u, v, z] × 33] rounded to 1e-5 of the picture, or None."""
        if self.image is None:
            return None
        return [[round(float(v), 5) for v in row] for row in self.image]

    def as_rows(self) -> list[list[float]]:
        """[[x, y, z, visibility] × 33], rounded to 0.1 mm for compact take files."""
        rows = np.concatenate([self.xyz, self.visibility[:, None]], axis=1)
        return [[round(float(v), 5) for v in row] for row in rows]

    def to_json(self) -> dict[str, Any]:
        """The landmarks-file form of this frame's landmarks (:mod:`capture.take` documents it):
        ``worldLandmarks``, and when known ``imageLandmarks``, ``faceBlendshapes``,
        ``faceRotation``, ``faceScore``, ``handWorldLandmarks`` and ``handScores``."""
        out: dict[str, Any] = {"worldLandmarks": self.as_rows()}
        if self.image is not None:
            rows = np.concatenate([self.image, self.visibility[:, None]], axis=1)
            out["imageLandmarks"] = [[round(float(v), 5) for v in row] for row in rows]
        if self.face is not None:
            out["faceBlendshapes"] = {
                name: round(float(w), 4)
                for name, w in zip(ARKIT, self.face.blendshapes, strict=True)
            }
            if self.face.rotation is not None:
                q = matrix_to_quat(self.face.rotation)
                out["faceRotation"] = [round(float(v), 6) for v in q]
            out["faceScore"] = round(self.face.score, 4)
        hands = {
            side: hand
            for side, hand in (("left", self.left_hand), ("right", self.right_hand))
            if hand is not None
        }
        if hands:
            out["handWorldLandmarks"] = {
                side: [[round(float(v), 5) for v in row] for row in hand.world]
                for side, hand in hands.items()
            }
            out["handScores"] = {side: round(hand.score, 4) for side, hand in hands.items()}
        return out

    @classmethod
    def from_json(cls, t: float, obj: dict[str, Any], where: str) -> LandmarkFrame:
        """Parse :meth:`to_json`'s form strictly: one line naming ``where`` and the field at
        fault for anything else. ``worldLandmarks`` must be there; the rest is optional."""
        rows = fields.matrix(
            obj.get("worldLandmarks"),
            where,
            "worldLandmarks",
            LANDMARK_COUNT,
            (3, 4),
            MAX_LANDMARK_METRES,
        )
        try:
            frame = cls.from_array(t, rows)
        except LandmarkShapeError as exc:
            raise TakeFormatError(f"{where}: 'worldLandmarks': {exc}") from None
        image = None
        if "imageLandmarks" in obj:
            values = fields.matrix(
                obj["imageLandmarks"],
                where,
                "imageLandmarks",
                LANDMARK_COUNT,
                (3, 4),
                MAX_IMAGE_EXTENT,
            )
            image = values[:, :3]
        face = None
        if "faceBlendshapes" in obj:
            named = obj["faceBlendshapes"]
            if type(named) is not dict:
                raise TakeFormatError(
                    f"{where}: 'faceBlendshapes' must be an object of name: weight"
                )
            weights = np.zeros(len(ARKIT))
            for name, w in named.items():
                if name not in ARKIT_INDEX:
                    raise TakeFormatError(
                        f"{where}: 'faceBlendshapes' names an unknown blendshape {fields.brief(name)}"
                    )
                weights[ARKIT_INDEX[name]] = fields.number(
                    w, where, f"faceBlendshapes.{name}", 0.0, 1.0
                )
            rotation = None
            if "faceRotation" in obj:
                q = fields.vector(obj["faceRotation"], where, "faceRotation", 4, 2.0)
                norm = float(np.linalg.norm(q))
                if not 0.5 <= norm <= 1.5:
                    raise TakeFormatError(
                        f"{where}: 'faceRotation' is not a unit quaternion [x, y, z, w]"
                    )
                rotation = quat_to_matrix(q / norm)
            score = fields.number(obj.get("faceScore", 1.0), where, "faceScore", 0.0, 1.0)
            face = FaceLandmarks(weights, rotation, score)
        elif "faceRotation" in obj or "faceScore" in obj:
            raise TakeFormatError(
                f"{where}: 'faceRotation' and 'faceScore' come only with 'faceBlendshapes'"
            )
        hands: dict[str, HandLandmarks] = {}
        if "handWorldLandmarks" in obj:
            given = obj["handWorldLandmarks"]
            scores = obj.get("handScores", {})
            if type(given) is not dict or not set(given) <= {"left", "right"}:
                raise TakeFormatError(
                    f"{where}: 'handWorldLandmarks' must be an object with 'left' and/or 'right'"
                )
            if type(scores) is not dict or not set(scores) <= set(given):
                raise TakeFormatError(
                    f"{where}: 'handScores' must be an object of the hands given: score"
                )
            for side, value in given.items():
                world = fields.matrix(
                    value, where, f"handWorldLandmarks.{side}", HAND_LANDMARK_COUNT, (3,),
                    MAX_HAND_METRES,
                )  # fmt: skip
                score = fields.number(scores.get(side, 1.0), where, f"handScores.{side}", 0.0, 1.0)
                hands[side] = HandLandmarks(world, score)
        elif "handScores" in obj:
            raise TakeFormatError(f"{where}: 'handScores' comes only with 'handWorldLandmarks'")
        return replace(
            frame,
            image=image,
            face=face,
            left_hand=hands.get("left"),
            right_hand=hands.get("right"),
        )

    def avatar_xyz(self) -> FloatArray:
        """Landmark positions in avatar space (Y up, facing +Z, left on +X), metres."""
        out: FloatArray = self.xyz * _MEDIAPIPE_TO_AVATAR
        return out


def avatar_to_mediapipe(points: FloatArray) -> FloatArray:
    """Inverse of the axis change in :meth:`LandmarkFrame.avatar_xyz` (it is its own inverse)."""
    out: FloatArray = points * _MEDIAPIPE_TO_AVATAR
    return out
