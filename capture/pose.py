"""A humanoid pose: the unit of the pose stream that the stage, headset and mirror feed consume."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from capture import fields
from capture.errors import TakeFormatError
from capture.rotations import quat_multiply
from capture.skeleton import BONE_COUNT, BONE_NAMES, Bone

FloatArray = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Pose:
    """One frame of a VRM 1.0 normalized humanoid pose.

    ``t``: source time in seconds. ``hips``: hips translation in metres, Y being the hips' height
    above the floor the feet stand on. ``rotations``: (22, 4) local rotations ``[x, y, z, w]`` in
    :class:`Bone` order, each relative to its parent, identity at the T-pose rest.
    ``confidence``: (22,) in [0, 1]; how far each bone can be trusted (0 for bones the
    landmarks do not determine, which stay at rest). Arrays are read-only.
    """

    t: float
    hips: FloatArray
    rotations: FloatArray
    confidence: FloatArray

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
        """(22, 4) rotations of each bone relative to avatar space (forward kinematics)."""
        world = np.empty_like(self.rotations)
        for bone in Bone:  # parents come before children
            parent = bone.parent
            local = self.rotations[bone]
            world[bone] = local if parent is None else quat_multiply(world[parent], local)
        return world

    def to_json(self) -> dict[str, Any]:
        """The take-file form: ``{"t", "hips", "bones": {name: [x,y,z,w]}, "confidence"}``."""
        return {
            "t": round(self.t, 6),
            "hips": [round(float(v), 5) for v in self.hips],
            "bones": {
                name: [round(float(v), 6) for v in q]
                for name, q in zip(BONE_NAMES, self.rotations, strict=True)
            },
            "confidence": {
                name: round(float(c), 3)
                for name, c in zip(BONE_NAMES, self.confidence, strict=True)
            },
        }

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
        for name, q in bones.items():
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
        return cls(t, hips, rot, confidence)


def _bone(name: str, where: str, field: str) -> Bone:
    try:
        return Bone.from_vrm_name(name)
    except KeyError:
        raise TakeFormatError(
            f"{where}: {field!r} names an unknown bone {fields.brief(name)}"
        ) from None
