"""The VRM 1.0 humanoid skeleton that poses are expressed on.

Rest pose is the VRM *normalized* T-pose: Y up, facing +Z, the avatar's left hand on +X, palms
down (-Y), the four fingers straight along ±X with the nails up, the thumbs level and pointing 45°
between ±X and +Z; every bone's local rotation the identity. A bone's rotation is relative to its
parent. The 22 body bones come first, then the 30 finger bones (left hand, then right).
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
    # Fingers (VRM 1.0 humanoid): no body landmark determines them, see UNTRACKED.
    LEFT_THUMB_METACARPAL = 22
    LEFT_THUMB_PROXIMAL = 23
    LEFT_THUMB_DISTAL = 24
    LEFT_INDEX_PROXIMAL = 25
    LEFT_INDEX_INTERMEDIATE = 26
    LEFT_INDEX_DISTAL = 27
    LEFT_MIDDLE_PROXIMAL = 28
    LEFT_MIDDLE_INTERMEDIATE = 29
    LEFT_MIDDLE_DISTAL = 30
    LEFT_RING_PROXIMAL = 31
    LEFT_RING_INTERMEDIATE = 32
    LEFT_RING_DISTAL = 33
    LEFT_LITTLE_PROXIMAL = 34
    LEFT_LITTLE_INTERMEDIATE = 35
    LEFT_LITTLE_DISTAL = 36
    RIGHT_THUMB_METACARPAL = 37
    RIGHT_THUMB_PROXIMAL = 38
    RIGHT_THUMB_DISTAL = 39
    RIGHT_INDEX_PROXIMAL = 40
    RIGHT_INDEX_INTERMEDIATE = 41
    RIGHT_INDEX_DISTAL = 42
    RIGHT_MIDDLE_PROXIMAL = 43
    RIGHT_MIDDLE_INTERMEDIATE = 44
    RIGHT_MIDDLE_DISTAL = 45
    RIGHT_RING_PROXIMAL = 46
    RIGHT_RING_INTERMEDIATE = 47
    RIGHT_RING_DISTAL = 48
    RIGHT_LITTLE_PROXIMAL = 49
    RIGHT_LITTLE_INTERMEDIATE = 50
    RIGHT_LITTLE_DISTAL = 51

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
FINGERS = ("THUMB", "INDEX", "MIDDLE", "RING", "LITTLE")
BODY_BONES: tuple[Bone, ...] = tuple(b for b in Bone if b <= Bone.RIGHT_TOES)
FINGER_BONES: tuple[Bone, ...] = tuple(b for b in Bone if b > Bone.RIGHT_TOES)

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
# Each finger's first segment hangs from the hand, each next one from the previous.
for _side in ("LEFT", "RIGHT"):
    for _finger in FINGERS:
        _chain = [b for b in Bone if b.name.startswith(f"{_side}_{_finger}_")]
        for _prev, _bone in zip([Bone[f"{_side}_HAND"], *_chain], _chain, strict=False):
            _PARENT[_bone] = _prev

# Bones no BlazePose landmark determines: the retargeter leaves them at rest with confidence 0.
# The fingers are filled afterwards from the hand landmarker (capture.hands.HandTracker), which
# keeps its own hold-and-relax state; the retargeter's occlusion fallback must not touch them.
UNTRACKED: frozenset[Bone] = frozenset(
    {Bone.LEFT_SHOULDER, Bone.RIGHT_SHOULDER, Bone.LEFT_TOES, Bone.RIGHT_TOES, *FINGER_BONES}
)

# Forward kinematics in batches: bones grouped by depth in the tree (hips 0), so that each
# level's world rotations follow from the previous level's in one array operation.
PARENT_INDEX: tuple[int, ...] = tuple(-1 if (p := _PARENT[b]) is None else int(p) for b in Bone)


def _depth(bone: Bone) -> int:
    parent = _PARENT[bone]
    return 0 if parent is None else 1 + _depth(parent)


DEPTH_LEVELS: tuple[tuple[int, ...], ...] = tuple(
    tuple(int(b) for b in Bone if _depth(b) == d) for d in range(max(_depth(b) for b in Bone) + 1)
)
