"""The VRM 1.0 humanoid skeleton that poses are expressed on.

Rest pose is the VRM *normalized* T-pose: Y up, facing +Z, the avatar's left hand on +X, palms
down, and every bone's local rotation the identity. A bone's rotation is relative to its parent.
"""

from __future__ import annotations

from enum import IntEnum


class Bone(IntEnum):
    """Humanoid bones in parent-before-child order; ``vrm_name`` is the VRM 1.0 spelling."""

    HIPS = 0
    SPINE = 1
    CHEST = 2
    UPPER_CHEST = 3
    NECK = 4
    HEAD = 5
    LEFT_SHOULDER = 6
    LEFT_UPPER_ARM = 7
    LEFT_LOWER_ARM = 8
    LEFT_HAND = 9
    RIGHT_SHOULDER = 10
    RIGHT_UPPER_ARM = 11
    RIGHT_LOWER_ARM = 12
    RIGHT_HAND = 13
    LEFT_UPPER_LEG = 14
    LEFT_LOWER_LEG = 15
    LEFT_FOOT = 16
    LEFT_TOES = 17
    RIGHT_UPPER_LEG = 18
    RIGHT_LOWER_LEG = 19
    RIGHT_FOOT = 20
    RIGHT_TOES = 21

    @property
    def vrm_name(self) -> str:
        head, *rest = self.name.lower().split("_")
        return head + "".join(word.capitalize() for word in rest)

    @classmethod
    def from_vrm_name(cls, name: str) -> Bone:
        try:
            return _BY_VRM_NAME[name]
        except KeyError:
            raise KeyError(f"unknown VRM humanoid bone {name!r}") from None

    @property
    def parent(self) -> Bone | None:
        return _PARENT[self]


BONE_COUNT = len(Bone)
BONE_NAMES: tuple[str, ...] = tuple(b.vrm_name for b in Bone)
_BY_VRM_NAME = {b.vrm_name: b for b in Bone}

_PARENT: dict[Bone, Bone | None] = {
    Bone.HIPS: None,
    Bone.SPINE: Bone.HIPS,
    Bone.CHEST: Bone.SPINE,
    Bone.UPPER_CHEST: Bone.CHEST,
    Bone.NECK: Bone.UPPER_CHEST,
    Bone.HEAD: Bone.NECK,
    Bone.LEFT_SHOULDER: Bone.UPPER_CHEST,
    Bone.LEFT_UPPER_ARM: Bone.LEFT_SHOULDER,
    Bone.LEFT_LOWER_ARM: Bone.LEFT_UPPER_ARM,
    Bone.LEFT_HAND: Bone.LEFT_LOWER_ARM,
    Bone.RIGHT_SHOULDER: Bone.UPPER_CHEST,
    Bone.RIGHT_UPPER_ARM: Bone.RIGHT_SHOULDER,
    Bone.RIGHT_LOWER_ARM: Bone.RIGHT_UPPER_ARM,
    Bone.RIGHT_HAND: Bone.RIGHT_LOWER_ARM,
    Bone.LEFT_UPPER_LEG: Bone.HIPS,
    Bone.LEFT_LOWER_LEG: Bone.LEFT_UPPER_LEG,
    Bone.LEFT_FOOT: Bone.LEFT_LOWER_LEG,
    Bone.LEFT_TOES: Bone.LEFT_FOOT,
    Bone.RIGHT_UPPER_LEG: Bone.HIPS,
    Bone.RIGHT_LOWER_LEG: Bone.RIGHT_UPPER_LEG,
    Bone.RIGHT_FOOT: Bone.RIGHT_LOWER_LEG,
    Bone.RIGHT_TOES: Bone.RIGHT_FOOT,
}

# Bones no BlazePose landmark determines: they stay at rest and report confidence 0.
UNTRACKED: frozenset[Bone] = frozenset(
    {Bone.LEFT_SHOULDER, Bone.RIGHT_SHOULDER, Bone.LEFT_TOES, Bone.RIGHT_TOES}
)
