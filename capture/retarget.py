"""Retargeting: one frame of BlazePose world landmarks → local bone rotations of a VRM humanoid.

A pure function of one frame (plus an optional previous pose that steadies occluded bones).
Method:

1. Landmarks move into avatar space (see :mod:`capture.landmarks`).
2. Each tracked segment gets a global orientation from two directions the landmarks give it,
   matched against the same two directions at the T-pose rest (e.g. the upper arm: shoulder→elbow,
   and the elbow's hinge axis). All global frames are built in one batch.
3. Elbows and knees: the hinge axis is the normal of the shoulder-elbow-wrist (hip-knee-ankle)
   plane, shared by both segments, so the lower segment turns about one axis. A nearly straight
   limb has no plane; there the axis comes from the parent's rest axis carried along by the
   smallest swing, blended in smoothly, so straight limbs never flip or twist.
4. The torso's turn between hips and chest (twist and bend; the chest's up is the hips→shoulders
   midline) is shared equally by spine, chest and upperChest; the head's rotation relative to
   the chest is shared by neck and head.
5. Global frames become quaternions in one batch; local = parent⁻¹ · child, also in one batch.
"""

from __future__ import annotations

import numpy as np

from capture.calibration import NeutralWindow
from capture.landmarks import LANDMARK_COUNT, FloatArray, LandmarkFrame
from capture.landmarks import Landmark as L
from capture.pose import Pose
from capture.rotations import (
    basis,
    cross,
    matrix_to_quat,
    normalize,
    quat_conjugate,
    quat_multiply,
    quat_power,
    rotation_between_bases,
    swing_perpendicular,
)
from capture.skeleton import BONE_COUNT, UNTRACKED, Bone

_X, _Y, _Z = np.eye(3)

# Rest direction from the ears' midpoint to the nose: the nose sits a little below the ear line.
HEAD_FORWARD_REST = normalize(np.array([0.0, -0.25, 1.0]))

# Bend (sin of the elbow/knee angle) below which the limb counts as straight, and above which
# its own plane fully decides the hinge axis.
_STRAIGHT_BELOW = 0.10
_BENT_ABOVE = 0.35
_BLEND_SCALE = 1.0 / (_BENT_ABOVE - _STRAIGHT_BELOW)
# Fractions of the hips→shoulders and shoulders→head rotations given to each spine/neck bone.
_SPLIT = np.array([1.0 / 3.0, 0.5])
# Seconds of lag with which a fully hidden bone follows the model's guess (see retarget).
HIDDEN_LAG = 0.05

# Every direction the solver needs is a fixed weighted sum of landmarks, so one matrix product
# (_VECTORS @ points) yields them all. Rows are named for readability.
_VECTOR_ROWS: dict[str, dict[L, float]] = {
    "hips_x": {L.LEFT_HIP: 1, L.RIGHT_HIP: -1},
    "shoulders_x": {L.LEFT_SHOULDER: 1, L.RIGHT_SHOULDER: -1},
    "torso_up": {L.LEFT_SHOULDER: 0.5, L.RIGHT_SHOULDER: 0.5, L.LEFT_HIP: -0.5, L.RIGHT_HIP: -0.5},
    "head_x": {L.LEFT_EAR: 1, L.RIGHT_EAR: -1},
    "head_forward": {L.NOSE: 1, L.LEFT_EAR: -0.5, L.RIGHT_EAR: -0.5},
    "left_hand": {L.LEFT_INDEX: 0.5, L.LEFT_PINKY: 0.5, L.LEFT_WRIST: -1},
    "right_hand": {L.RIGHT_INDEX: 0.5, L.RIGHT_PINKY: 0.5, L.RIGHT_WRIST: -1},
    "left_palm_z": {L.LEFT_INDEX: 1, L.LEFT_PINKY: -1},
    "right_palm_z": {L.RIGHT_INDEX: 1, L.RIGHT_PINKY: -1},
    "left_sole": {L.LEFT_FOOT_INDEX: 1, L.LEFT_HEEL: -1},
    "right_sole": {L.RIGHT_FOOT_INDEX: 1, L.RIGHT_HEEL: -1},
    "left_instep": {L.LEFT_ANKLE: 1, L.LEFT_HEEL: -1},
    "right_instep": {L.RIGHT_ANKLE: 1, L.RIGHT_HEEL: -1},
    # Limbs, always in the order left arm, right arm, left leg, right leg.
    "left_upper_arm": {L.LEFT_ELBOW: 1, L.LEFT_SHOULDER: -1},
    "right_upper_arm": {L.RIGHT_ELBOW: 1, L.RIGHT_SHOULDER: -1},
    "left_upper_leg": {L.LEFT_KNEE: 1, L.LEFT_HIP: -1},
    "right_upper_leg": {L.RIGHT_KNEE: 1, L.RIGHT_HIP: -1},
    "left_lower_arm": {L.LEFT_WRIST: 1, L.LEFT_ELBOW: -1},
    "right_lower_arm": {L.RIGHT_WRIST: 1, L.RIGHT_ELBOW: -1},
    "left_lower_leg": {L.LEFT_ANKLE: 1, L.LEFT_KNEE: -1},
    "right_lower_leg": {L.RIGHT_ANKLE: 1, L.RIGHT_KNEE: -1},
    # Height of the hip midpoint above each of the four sole points.
    "over_left_heel": {L.LEFT_HIP: 0.5, L.RIGHT_HIP: 0.5, L.LEFT_HEEL: -1},
    "over_right_heel": {L.LEFT_HIP: 0.5, L.RIGHT_HIP: 0.5, L.RIGHT_HEEL: -1},
    "over_left_toe": {L.LEFT_HIP: 0.5, L.RIGHT_HIP: 0.5, L.LEFT_FOOT_INDEX: -1},
    "over_right_toe": {L.LEFT_HIP: 0.5, L.RIGHT_HIP: 0.5, L.RIGHT_FOOT_INDEX: -1},
}
_ROW = {name: i for i, name in enumerate(_VECTOR_ROWS)}
_VECTORS = np.zeros((len(_VECTOR_ROWS), LANDMARK_COUNT))
for _name, _weights in _VECTOR_ROWS.items():
    for _lm, _w in _weights.items():
        _VECTORS[_ROW[_name], _lm] = _w


def _rows(*names: str) -> list[int]:
    return [_ROW[n] for n in names]


# Frames that need no parent: hips, chest, head, hands, feet (primary, secondary). The chest's
# up is the hips→shoulders midline and its shoulder line only sets the facing: a side bend
# tilts the midline, while a shrug or a dropped shoulder tilts the shoulder line alone.
_FREE_PRIMARY = _rows(
    "hips_x", "torso_up", "head_x", "left_hand", "right_hand", "left_sole", "right_sole"
)
_FREE_SECONDARY = _rows(
    "torso_up", "shoulders_x", "head_forward", "left_palm_z", "right_palm_z",
    "left_instep", "right_instep",
)  # fmt: skip
_UPPER = _rows("left_upper_arm", "right_upper_arm", "left_upper_leg", "right_upper_leg")
_LOWER = _rows("left_lower_arm", "right_lower_arm", "left_lower_leg", "right_lower_leg")
_UPPER_LOWER = _UPPER + _LOWER
_OVER_FEET = _rows("over_left_heel", "over_right_heel", "over_left_toe", "over_right_toe")

_X, _Y, _Z = np.eye(3)
_TORSO_REST = basis(_X, _Y)
_FREE_REST = np.stack(
    [
        _TORSO_REST,
        basis(_Y, _X),
        basis(_X, HEAD_FORWARD_REST),
        # Hands point along ±X with index − pinky forward (palms down); soles forward, ankle up.
        basis(_X, _Z),
        basis(-_X, _Z),
        basis(_Z, _Y),
        basis(_Z, _Y),
    ]
)
# Limbs' rest directions and hinge axes at rest (the normal upper × lower when they bend:
# elbows bend the forearm forward in the palms-down T-pose, knees bend the shin backward).
_LIMB_REST_DIR = np.array([_X, -_X, -_Y, -_Y])
_LIMB_REST_HINGE = np.array([-_Y, _Y, _X, _X])
_LIMB_REST = basis(_LIMB_REST_DIR, _LIMB_REST_HINGE)
_LIMB_REST_DIR_HINGE = np.stack([_LIMB_REST_DIR, _LIMB_REST_HINGE], axis=-1)
_LIMB_SEGMENTS_REST = np.concatenate([_LIMB_REST, _LIMB_REST])

# Global frames are stacked as: 0 hips, 1 chest (= upperChest), 2 head, 3-4 hands,
# 5-6 feet, 7-10 upper arms and legs, 11-14 forearms and shins. Each pair below is
# (parent frame, child frame) whose relative rotation is a bone's local rotation; the first two
# are the torso and neck spans that several bones share.
_PAIRS: list[tuple[int, int, Bone | None]] = [
    (0, 1, None),
    (1, 2, None),
    (1, 7, Bone.LEFT_UPPER_ARM),
    (1, 8, Bone.RIGHT_UPPER_ARM),
    (0, 9, Bone.LEFT_UPPER_LEG),
    (0, 10, Bone.RIGHT_UPPER_LEG),
    (7, 11, Bone.LEFT_LOWER_ARM),
    (8, 12, Bone.RIGHT_LOWER_ARM),
    (9, 13, Bone.LEFT_LOWER_LEG),
    (10, 14, Bone.RIGHT_LOWER_LEG),
    (11, 3, Bone.LEFT_HAND),
    (12, 4, Bone.RIGHT_HAND),
    (13, 5, Bone.LEFT_FOOT),
    (14, 6, Bone.RIGHT_FOOT),
]
_PAIR_PARENT = [p for p, _, _ in _PAIRS]
_PAIR_CHILD = [c for _, c, _ in _PAIRS]
_PAIR_BONES = [b for _, _, b in _PAIRS if b is not None]

# Landmarks each bone's rotation depends on; its confidence is their least visibility.
_BONE_LANDMARKS: dict[Bone, tuple[L, ...]] = {
    Bone.HIPS: (L.LEFT_HIP, L.RIGHT_HIP),
    Bone.SPINE: (L.LEFT_HIP, L.RIGHT_HIP, L.LEFT_SHOULDER, L.RIGHT_SHOULDER),
    Bone.CHEST: (L.LEFT_HIP, L.RIGHT_HIP, L.LEFT_SHOULDER, L.RIGHT_SHOULDER),
    Bone.UPPER_CHEST: (L.LEFT_HIP, L.RIGHT_HIP, L.LEFT_SHOULDER, L.RIGHT_SHOULDER),
    Bone.NECK: (L.NOSE, L.LEFT_EAR, L.RIGHT_EAR),
    Bone.HEAD: (L.NOSE, L.LEFT_EAR, L.RIGHT_EAR),
    Bone.LEFT_UPPER_ARM: (L.LEFT_SHOULDER, L.LEFT_ELBOW),
    Bone.LEFT_LOWER_ARM: (L.LEFT_ELBOW, L.LEFT_WRIST),
    Bone.LEFT_HAND: (L.LEFT_WRIST, L.LEFT_INDEX, L.LEFT_PINKY),
    Bone.RIGHT_UPPER_ARM: (L.RIGHT_SHOULDER, L.RIGHT_ELBOW),
    Bone.RIGHT_LOWER_ARM: (L.RIGHT_ELBOW, L.RIGHT_WRIST),
    Bone.RIGHT_HAND: (L.RIGHT_WRIST, L.RIGHT_INDEX, L.RIGHT_PINKY),
    Bone.LEFT_UPPER_LEG: (L.LEFT_HIP, L.LEFT_KNEE),
    Bone.LEFT_LOWER_LEG: (L.LEFT_KNEE, L.LEFT_ANKLE),
    Bone.LEFT_FOOT: (L.LEFT_ANKLE, L.LEFT_HEEL, L.LEFT_FOOT_INDEX),
    Bone.RIGHT_UPPER_LEG: (L.RIGHT_HIP, L.RIGHT_KNEE),
    Bone.RIGHT_LOWER_LEG: (L.RIGHT_KNEE, L.RIGHT_ANKLE),
    Bone.RIGHT_FOOT: (L.RIGHT_ANKLE, L.RIGHT_HEEL, L.RIGHT_FOOT_INDEX),
}
# (22, 4) landmark indices per bone, padded by repetition, for one vectorised min; untracked
# bones read a constant-zero slot appended after the 33 visibilities.
_CONF_TABLE = np.full((BONE_COUNT, 4), LANDMARK_COUNT)
for _bone, _lms in _BONE_LANDMARKS.items():
    _CONF_TABLE[_bone] = [*_lms, *([_lms[0]] * (4 - len(_lms)))]
_UNTRACKED = np.zeros(BONE_COUNT, dtype=bool)
_UNTRACKED[list(UNTRACKED)] = True
_REST_ROTATIONS = Pose.rest().rotations


def retarget(
    frame: LandmarkFrame,
    *,
    fallback: Pose | None = None,
    min_confidence: float = 0.5,
    hidden_lag: float = HIDDEN_LAG,
    head_rest: FloatArray | None = None,
) -> Pose:
    """Local bone rotations, hips translation and per-bone confidence for one landmark frame.

    Bones whose confidence is below ``min_confidence`` follow their landmarks with a lag: from
    ``fallback``'s rotation (usually the previous frame's pose) toward what the landmarks say,
    by ``1 - exp(-dt / lag)``, where the lag rises from 0 at ``min_confidence`` to
    ``hidden_lag`` seconds at confidence 0. The model's guess for a hidden limb is still better
    than a frozen or rested one; the lag only steadies its jitter. ``head_rest``: this actor's
    ears→nose direction with the head level, in the chest's frame (:class:`NeutralHead`);
    None assumes :data:`HEAD_FORWARD_REST`. ``frame`` is not modified.
    """
    v = _VECTORS @ frame.avatar_xyz()

    # Global orientations: hips, chest, head, hands, feet, then the limb segments.
    rest = _FREE_REST
    if head_rest is not None:
        rest = rest.copy()
        rest[2] = basis(_X, np.asarray(head_rest, dtype=np.float64))
    free = rotation_between_bases(basis(v[_FREE_PRIMARY], v[_FREE_SECONDARY]), rest)
    hips_r, top_r = free[0], free[1]
    limbs = _limb_rotations(v, np.stack([top_r, top_r, hips_r, hips_r]))
    g = matrix_to_quat(np.concatenate([free, limbs]))

    # Local = parent⁻¹ · child. The torso's twist is shared equally by spine, chest and
    # upperChest, the head's turn by neck and head; shoulders and toes stay at rest.
    rel = quat_multiply(quat_conjugate(g[_PAIR_PARENT]), g[_PAIR_CHILD])
    shared = quat_power(rel[:2], _SPLIT)
    rotations = _REST_ROTATIONS.copy()
    rotations[Bone.HIPS] = g[0]
    rotations[[Bone.SPINE, Bone.CHEST, Bone.UPPER_CHEST]] = shared[0]
    rotations[[Bone.NECK, Bone.HEAD]] = shared[1]
    rotations[_PAIR_BONES] = rel[2:]
    rotations *= np.where(rotations[:, 3:] < 0.0, -1.0, 1.0)

    confidence = np.append(frame.visibility, 0.0)[_CONF_TABLE].min(axis=1)
    low = (confidence < min_confidence) & ~_UNTRACKED
    if fallback is not None and np.any(low):
        dt = max(frame.t - fallback.t, 0.0)
        lag = hidden_lag * (1.0 - confidence[low] / min_confidence)
        follow = 1.0 - np.exp(-dt / np.maximum(lag, 1e-9))
        held = fallback.rotations[low]
        step = quat_power(quat_multiply(quat_conjugate(held), rotations[low]), follow)
        rotations[low] = quat_multiply(held, step)
        rotations *= np.where(rotations[:, 3:] < 0.0, -1.0, 1.0)

    hips = np.array([0.0, float(v[_OVER_FEET, 1].max()), 0.0])
    return Pose(frame.t, hips, rotations, confidence)


def _limb_rotations(v: FloatArray, parent_r: FloatArray) -> FloatArray:
    """Global rotations (8, 3, 3) of the four limbs' upper then lower segments."""
    segment_dirs = normalize(v[_UPPER_LOWER])
    upper, lower = segment_dirs[:4], segment_dirs[4:]
    bend = cross(upper, lower)
    sin_bend = np.sqrt(np.einsum("ki,ki->k", bend, bend))[:, None]

    # The straight-limb hinge: the parent's rest hinge, carried by the smallest swing from the
    # parent's rest limb direction to the limb's current direction.
    rest_now = np.einsum("kij,kjm->kim", parent_r, _LIMB_REST_DIR_HINGE)
    straight_axis = swing_perpendicular(rest_now[..., 0], upper, rest_now[..., 1])

    # Blend toward the bend plane's own normal as the limb bends (smoothstep in sin_bend).
    w = np.minimum(np.maximum(sin_bend - _STRAIGHT_BELOW, 0.0) * _BLEND_SCALE, 1.0)
    w = w * w * (3.0 - 2.0 * w)
    hinge = w * (bend / np.maximum(sin_bend, 1e-9)) + (1.0 - w) * straight_axis
    # A hinge cancelled out by opposite axes falls back to the straight-limb one; basis()
    # removes its part along the segment.
    degenerate = np.einsum("ki,ki->k", hinge, hinge)[:, None] < 1e-6
    hinge = np.where(degenerate, straight_axis, hinge)

    segments = basis(segment_dirs, np.concatenate([hinge, hinge]))
    return rotation_between_bases(segments, _LIMB_SEGMENTS_REST)


_HEAD_LANDMARKS = [L.NOSE, L.LEFT_EAR, L.RIGHT_EAR]


class NeutralHead:
    """This actor's level-head direction (ears' midpoint → nose, in the chest's frame): the
    median over the first second in which the head is seen confidently (or from
    :meth:`calibrate`'s time on, see :class:`~capture.calibration.NeutralWindow`). Real noses
    sit 1-5 cm below the ear line; a fixed guess tilts the avatar's head by up to 15° for a
    resting actor. Feed every frame; ``rest`` is None until the first second is complete."""

    __slots__ = ("_window", "min_visibility")

    def __init__(self, *, min_visibility: float = 0.5) -> None:
        self.min_visibility = min_visibility
        self._window = NeutralWindow()

    @property
    def rest(self) -> FloatArray | None:
        return self._window.value

    def calibrate(self, t: float) -> None:
        """Start again from time ``t`` ("relax, look at the camera"); the old rest stays in
        use until the new one is complete."""
        self._window.start(t)

    def __call__(self, frame: LandmarkFrame) -> FloatArray | None:
        if self._window.running and np.all(
            frame.visibility[_HEAD_LANDMARKS] >= self.min_visibility
        ):
            v = _VECTORS @ frame.avatar_xyz()
            chest = basis(v[_ROW["torso_up"]], v[_ROW["shoulders_x"]]) @ _FREE_REST[1].T
            if self._window.add(frame.t, normalize(chest.T @ v[_ROW["head_forward"]])):
                rest = self._window.value
                assert rest is not None
                self._window.value = normalize(rest)
                self._window.value.flags.writeable = False
        return self._window.value
