"""A humanoid pose: the unit of the pose stream that the stage, headset and mirror feed consume."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from capture import fields
from capture.errors import TakeFormatError
from capture.face import Face
from capture.rotations import quat_multiply
from capture.skeleton import BONE_COUNT, BONE_NAMES, DEPTH_LEVELS, PARENT_INDEX, Bone

FloatArray = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Pose:
    """One frame of a VRM 1.0 normalized humanoid pose.

    ``t``: source time in seconds. ``hips``: hips translation in metres, Y being the hips' height
    above the floor the feet stand on. ``rotations``: (52, 4) local rotations ``[x, y, z, w]`` in
    :class:`Bone` order (body, then fingers), each relative to its parent, identity at the
    T-pose rest. ``confidence``: (52,) in [0, 1]; how far each bone can be trusted (0 for bones
    nothing determined, which stay at rest). ``face``: the face track, when the source has one.
    Arrays are read-only.
    """

    t: float
    hips: FloatArray
    rotations: FloatArray
    confidence: FloatArray
    face: Face | None = None

    def __post_init__(self) -> None:
        for arr in (self.hips, self.rotations, self.confidence):
            arr.flags.writeable = False

    @classmethod
    def rest(cls, t: float = 0.0, hips_height: float = 0.0) -> Pose:
        rot = np.zeros((BONE_COUNT, 4))
        rot[:, 3] = 1.0
        return cls(t, np.array([0.0, hips_height, 0.0]), rot, np.zeros(BONE_COUNT))

    def rotation(self, bone: Bone) -> FloatArray:
        return np.asarray(self.rotations[bone], dtype=np.float64)

    def global_rotations(self) -> FloatArray:
        """(52, 4) rotations of each bone relative to avatar space (forward kinematics), one
        batch per depth of the bone tree (a loop over 52 bones costs three times more)."""
        world = np.empty_like(self.rotations)
        world[_ROOTS] = self.rotations[_ROOTS]
        for level, parents in _LEVELS:
            world[level] = quat_multiply(world[parents], self.rotations[level])
        return world

    def to_json(self) -> dict[str, Any]:
        """The take-file form: ``{"t", "hips", "bones": {name: [x,y,z,w]}, "confidence"}``, and
        with a face ``"face"``, ``"gaze"`` and ``"faceConfidence"`` (see :class:`Face`).

        A bone at rest with confidence 0 (fingers nothing tracked) is left out: reading gives
        exactly that back, and a body-only frame stays the size it was with 22 bones."""
        kept = np.flatnonzero(
            (self.confidence != 0.0) | np.any(self.rotations != _IDENTITY, axis=1)
        ).tolist()
        rotations = self.rotations.round(6).tolist()
        confidence = self.confidence.round(3).tolist()
        out: dict[str, Any] = {
            "t": round(self.t, 6),
            "hips": [round(float(v), 5) for v in self.hips],
            "bones": {BONE_NAMES[i]: rotations[i] for i in kept},
            "confidence": {BONE_NAMES[i]: confidence[i] for i in kept},
        }
        if self.face is not None:
            out.update(self.face.to_json())
        return out

    @classmethod
    def from_json(cls, obj: dict[str, Any], where: str = "pose") -> Pose:
        """Parse :meth:`to_json`'s form strictly (the rules are in :mod:`capture.take`); bones
        left out are at rest with confidence 0, a listed bone without a confidence has 1."""
        t = fields.seconds(obj, where)
        hips = fields.vector(obj.get("hips"), where, "hips", 3, fields.MAX_HIPS_METRES)
        bones = obj.get("bones")
        conf = obj.get("confidence", {})
        if type(bones) is not dict:
            raise TakeFormatError(f"{where}: 'bones' must be an object of bone name: [x, y, z, w]")
        if type(conf) is not dict:
            raise TakeFormatError(f"{where}: 'confidence' must be an object of bone name: number")
        given = {
            _bone(name, where, "confidence"): fields.number(
                c, where, f"confidence.{name}", 0.0, 1.0
            )
            for name, c in conf.items()
        }
        rot = cls.rest(t).rotations.copy()
        confidence = np.zeros(BONE_COUNT)
        if _all_bones_fine(bones, rot, confidence, given, where):
            return cls(t, hips, rot, confidence, Face.from_json(obj, where))
        for name, q in bones.items():  # one is not: find it, and say which
            bone = _bone(name, where, "bones")
            value = fields.vector(q, where, f"bones.{name}", 4, 2.0)
            norm = float(np.linalg.norm(value))
            # Rounding leaves a stored quaternion a hair off unit length; far off is not one.
            if not 0.5 <= norm <= 1.5:
                raise TakeFormatError(
                    f"{where}: 'bones.{name}' is not a unit quaternion [x, y, z, w]"
                )
            rot[bone] = value / norm
            confidence[bone] = given.get(bone, 1.0)
        return cls(t, hips, rot, confidence, Face.from_json(obj, where))


def _all_bones_fine(
    bones: dict[str, Any],
    rot: NDArray[np.float64],
    confidence: NDArray[np.float64],
    given: dict[Bone, float],
    where: str,
) -> bool:
    """Every bone's quaternion checked and set at once (a take's frames are read thousands at a
    time: per-bone array work was most of a replay's start); False, and nothing set, when one
    is wrong: the caller's per-bone loop then names it."""
    ids = [_bone(name, where, "bones") for name in bones]
    values = list(bones.values())
    if not all(
        type(q) is list and len(q) == 4 and all(type(x) is float or type(x) is int for x in q)
        for q in values
    ):
        return False
    try:
        arr = np.array(values, dtype=np.float64).reshape(len(values), 4)
    except OverflowError:  # an integer beyond any float
        return False
    if not np.all(np.abs(arr) <= 2.0):  # NaN fails this too
        return False
    norms = np.linalg.norm(arr, axis=1)
    if not np.all((norms >= 0.5) & (norms <= 1.5)):
        return False
    rot[ids] = arr / norms[:, None]
    confidence[ids] = [given.get(b, 1.0) for b in ids]
    return True


_IDENTITY = np.array([0.0, 0.0, 0.0, 1.0])
_ROOTS = list(DEPTH_LEVELS[0])
_LEVELS = [
    (np.array(level), np.array([PARENT_INDEX[b] for b in level])) for level in DEPTH_LEVELS[1:]
]


def _bone(name: str, where: str, field: str) -> Bone:
    try:
        return Bone.from_vrm_name(name)
    except KeyError:
        raise TakeFormatError(
            f"{where}: {field!r} names an unknown bone {fields.brief(name)}"
        ) from None
