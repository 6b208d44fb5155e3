"""Pose → an avatar's own joints: pure numpy, no engine.

The capture contract gives VRM *normalized* local rotations (rest = identity, every bone frame
aligned with avatar space, the body in a T-pose). A real avatar's joints have rest frames of
their own (Blender-style "Y down the bone", VRM 0.x facing -Z, extra non-humanoid joints in
between), and its rest need not be a T-pose (a DCC export in an A-pose: arms 45° down). With
``B`` the rotation from normalized space to the actor's space, ``N(b)`` a bone's normalized
global rotation, ``C(b)`` the rotation taking the bone's rest direction onto the T-pose's
(normalized space) and ``G(j)`` a joint's rest global rotation, a humanoid joint's world rotation
is ``B·N(b)·C(b)·Bᵀ·G(j)``: the rest counts as "T-pose + correction", so the identity pose shows
a T-pose whatever the rest. Its local rotation follows from its parent frame's world rotation,
where the nearest humanoid ancestor ``a`` stands for every joint in between (they keep their
rest).

Feet stay on the floor: the hips are raised or lowered so the lowest heel or toe contact
point, posed by forward kinematics on the avatar's own proportions from its T-posed rest, touches
height 0 — the capture contract's hips height measured on this avatar's legs rather than the
actor's.

Moving across the set: a pose whose hips move on the floor (x, z from a camera's view, see
:mod:`capture.motion`) moves the avatar from its mark by as much, scaled by its legs over the
actor's (a long-legged avatar strides further), and lifts it where the actor's hips rise above
what its feet on the floor allow (a jump). :class:`Stride` keeps that scale; a pose stream whose
hips never leave x = z = 0 (no camera) is placed exactly as before.
"""

from __future__ import annotations

from collections import deque

import numpy as np
from numpy.typing import NDArray

from capture.pose import Pose
from capture.rotations import quat_to_matrix
from capture.skeleton import Bone
from immersion.errors import AvatarError

F = NDArray[np.float64]
_FEET = ((Bone.LEFT_FOOT, Bone.LEFT_TOES), (Bone.RIGHT_FOOT, Bone.RIGHT_TOES))
# The most a bone's rest may turn from the T-pose and still be retargeted: past that (an arm
# pointing at the other side, a torso lying down) which way round it turned is a guess.
_MOST_LIMB = np.radians(120.0)
_MOST_TORSO = np.radians(60.0)


def _bone(name: str) -> Bone | None:
    """A bone by enum name, None where this skeleton has no such bone (fingers are optional)."""
    return Bone.__members__.get(name)


def _rules() -> dict[Bone, tuple[tuple[Bone, ...], F, bool]]:
    """Per bone: the joints whose rest position shows its direction (first present wins), its
    direction in the normalized T-pose, and whether a deviation is corrected (limbs) or only
    checked (torso, shoulders: their rest shape is the avatar's own, within reason)."""
    out: dict[Bone, tuple[tuple[Bone, ...], F, bool]] = {}

    def add(bone: str, children: tuple[str, ...], d: tuple[float, float, float], fix: bool) -> None:
        b = _bone(bone)
        found = tuple(c for c in map(_bone, children) if c is not None)
        if b is not None and found:
            v = np.array(d, dtype=np.float64)
            out[b] = (found, v / np.linalg.norm(v), fix)

    add("HIPS", ("SPINE",), (0, 1, 0), False)
    add("SPINE", ("CHEST", "UPPER_CHEST", "NECK"), (0, 1, 0), False)
    add("CHEST", ("UPPER_CHEST", "NECK"), (0, 1, 0), False)
    add("UPPER_CHEST", ("NECK",), (0, 1, 0), False)
    add("NECK", ("HEAD",), (0, 1, 0), False)
    for side, x in (("LEFT", 1.0), ("RIGHT", -1.0)):
        add(f"{side}_SHOULDER", (f"{side}_UPPER_ARM",), (x, 0, 0), False)
        add(f"{side}_UPPER_ARM", (f"{side}_LOWER_ARM",), (x, 0, 0), True)
        add(f"{side}_LOWER_ARM", (f"{side}_HAND",), (x, 0, 0), True)
        add(f"{side}_HAND", (f"{side}_MIDDLE_PROXIMAL",), (x, 0, 0), True)
        for finger in ("INDEX", "MIDDLE", "RING", "LITTLE"):
            f = f"{side}_{finger}"
            add(f"{f}_PROXIMAL", (f"{f}_INTERMEDIATE",), (x, 0, 0), True)
            add(f"{f}_INTERMEDIATE", (f"{f}_DISTAL",), (x, 0, 0), True)
        t = f"{side}_THUMB"
        add(f"{t}_METACARPAL", (f"{t}_PROXIMAL",), (x, 0, 1), True)
        add(f"{t}_PROXIMAL", (f"{t}_DISTAL",), (x, 0, 1), True)
        add(f"{side}_UPPER_LEG", (f"{side}_LOWER_LEG",), (0, -1, 0), True)
        add(f"{side}_LOWER_LEG", (f"{side}_FOOT",), (0, -1, 0), True)
    return out


_RULES = _rules()


def _arc(a: F, b: F) -> F:
    """The shortest rotation taking unit ``a`` onto unit ``b`` (no twist about either)."""
    v = np.cross(a, b)
    c = float(a @ b)
    k = np.array([[0.0, -v[2], v[1]], [v[2], 0.0, -v[0]], [-v[1], v[0], 0.0]])
    out: F = np.eye(3) + k + k @ k / (1.0 + c)
    return out


def rest_corrections(bones: tuple[Bone, ...], pos_n: F, anchors: NDArray[np.intp], name: str) -> F:
    """(n, 3, 3) ``C(b)``, normalized space: each bone's rest direction onto the T-pose's.

    A bone without a rule of its own (head, feet, toes, last finger segments, a hand without
    fingers) turns with its nearest humanoid ancestor. Refuses, naming ``name`` and the bone,
    a rest direction of no length or one too far from the T-pose to tell how it turned."""
    index = {b: i for i, b in enumerate(bones)}
    out = np.tile(np.eye(3), (len(bones), 1, 1))
    for i, b in enumerate(bones):  # parents before children
        rule = _RULES.get(b)
        child = next((c for c in rule[0] if c in index), None) if rule else None
        if rule is None or child is None:
            if anchors[i] >= 0:
                out[i] = out[int(anchors[i])]
            continue
        _, want, fix = rule
        d = pos_n[index[child]] - pos_n[i]
        length = float(np.linalg.norm(d))
        if length < 1e-6:
            raise AvatarError(
                f"{name}: {b.vrm_name} has no rest direction ({child.vrm_name} is at the same "
                "place); cannot retarget it"
            )
        d = d / length
        angle = float(np.arccos(np.clip(d @ want, -1.0, 1.0)))
        if angle > (_MOST_LIMB if fix else _MOST_TORSO):
            raise AvatarError(
                f"{name}: {b.vrm_name} rests {np.degrees(angle):.0f}° from its T-pose direction "
                f"(towards {child.vrm_name}); cannot tell how to retarget it"
            )
        if fix:
            out[i] = _arc(d, want)
    for foot, toes in _FEET:
        if foot in index and toes in index:
            d = out[index[foot]] @ (pos_n[index[toes]] - pos_n[index[foot]])
            if d[2] <= 0.0:
                raise AvatarError(
                    f"{name}: {foot.vrm_name} does not point forward (+Z) towards "
                    f"{toes.vrm_name} once the legs are in the T-pose; cannot retarget it"
                )
    return out


class Rig:
    """An avatar's humanoid joints at rest, as the engine reports them (actor space).

    ``bones``: the humanoid bones the avatar has, in :class:`Bone` order. Per bone:
    ``rest_global`` (n, 3, 3) and ``parent_frame`` (n, 3, 3) rest rotations (column vectors)
    of the joint and of its parent's frame; ``rest_position`` (n, 3) metres, actor space, floor
    at 0. ``basis`` (3, 3): normalized space → actor space. ``hips_translation``: the hips
    joint's rest translation in its parent's frame. ``name`` names the avatar in errors.
    ``correction`` (n, 3, 3): rest → T-pose per bone, normalized space (identity for a T-pose).
    """

    __slots__ = (
        "_chain", "_contacts", "_hips", "_pos_n", "anchors", "basis", "bones", "correction",
        "hips_translation", "parent_frame", "rest_global", "rest_position",
    )  # fmt: skip

    def __init__(
        self,
        bones: tuple[Bone, ...],
        rest_global: F,
        parent_frame: F,
        rest_position: F,
        basis: F,
        hips_translation: F,
        *,
        name: str = "avatar",
    ) -> None:
        self.bones = bones
        self.rest_global = rest_global
        self.parent_frame = parent_frame
        self.rest_position = rest_position
        self.basis = basis
        self.hips_translation = hips_translation
        index = {b: i for i, b in enumerate(bones)}
        self._hips = index[Bone.HIPS]
        anchors = []
        for b in bones:
            a = b.parent
            while a is not None and a not in index:
                a = a.parent
            anchors.append(-1 if a is None else index[a])
        # Nearest humanoid ancestor the avatar has, per bone (-1: none, the hips).
        self.anchors = np.array(anchors)
        # Rest positions in normalized space, and the floor points under heels and toes (at
        # rest; the correction turns them with their bones into the T-pose).
        self._pos_n: F = rest_position @ basis
        self.correction = rest_corrections(bones, self._pos_n, self.anchors, name)
        self._contacts: list[tuple[int, F]] = []
        for foot, toes in _FEET:
            for b in (foot, toes):
                if b in index:
                    p = self._pos_n[index[b]].copy()
                    p[1] = 0.0
                    self._contacts.append((index[b], p))
        # The joints the floor contact depends on: hips to feet (not the arms or fingers).
        chain: set[int] = set()
        for i, _ in self._contacts:
            while i >= 0 and i not in chain:
                chain.add(i)
                i = int(self.anchors[i])
        self._chain = sorted(chain)  # parents before children, as bones are

    @property
    def legs(self) -> float:
        """The hips' height above the floor at rest, metres: this avatar's leg length."""
        return float(self._pos_n[self._hips][1])

    def solve(self, pose: Pose, stride: float | None = None) -> tuple[F, F]:
        """Local joint rotations (n, 3, 3) for ``bones``, and the hips' local translation.

        ``stride`` (the avatar's legs over the actor's): follow the pose's hips across the
        floor and up off it, scaled by it; None keeps the hips over the mark, feet down."""
        # Each bone's rotation from its rest, normalized space: to the T-pose, then the pose.
        glob = quat_to_matrix(pose.global_rotations())[list(self.bones)] @ self.correction
        world = self.basis @ glob @ self.basis.T  # each bone's rotation, actor space
        anchor_world = np.where(
            (self.anchors >= 0)[:, None, None], world[np.maximum(self.anchors, 0)], np.eye(3)
        )
        local = (
            self.parent_frame.transpose(0, 2, 1)
            @ anchor_world.transpose(0, 2, 1)
            @ world
            @ self.rest_global
        )
        lift = self._floor_offset(glob)
        move = np.array([0.0, lift, 0.0])
        if stride is not None:
            x, height, z = stride * np.asarray(pose.hips, dtype=np.float64)
            # Never below the feet-on-the-floor height; above it where the actor is in the air.
            move = np.array([x, max(lift, height - self.legs), z])
        delta = self.parent_frame[self._hips].T @ (self.basis @ move)
        return local, self.hips_translation + delta

    def floor_lift(self, pose: Pose) -> float:
        """How far :meth:`solve` raises the hips from their rest so the feet stay on the floor
        (for senders that pose another engine's copy of this avatar: VMC out)."""
        return self._floor_offset(
            quat_to_matrix(pose.global_rotations())[list(self.bones)] @ self.correction
        )

    def t_posed_offsets(self) -> F:
        """(n, 3) each bone's rest offset from its nearest humanoid ancestor in the T-pose,
        normalized space (the hips: their rest position)."""
        out = self._pos_n.copy()
        for i, a in enumerate(self.anchors.tolist()):
            if a >= 0:
                out[i] = self.correction[a] @ (self._pos_n[i] - self._pos_n[a])
        return out

    def _floor_offset(self, glob: F) -> float:
        """How far to move the hips up so the lowest contact point is on the floor; ``glob``
        turns each bone from its rest, so the rest's own lean is undone first."""
        pos_n = self._pos_n
        posed = np.empty_like(pos_n)
        for i in self._chain:
            a = self.anchors[i]
            if a < 0:
                posed[i] = pos_n[i]
            else:
                posed[i] = posed[a] + glob[a] @ (pos_n[i] - pos_n[a])
        if not self._contacts:
            return 0.0
        lowest = min(float((posed[i] + glob[i] @ (p - pos_n[i]))[1]) for i, p in self._contacts)
        return -lowest


class Stride:
    """How far the avatar moves per metre the actor moves: its legs over the actor's, the
    actor's being their median hips height over the last poses (standing or walking; a jump or
    a crouch shorter than half the window is a minority of them, and another actor taking over
    is measured afresh within it). None until a pose's hips have left x = z = 0: a stream
    without root motion keeps the avatar on its mark."""

    __slots__ = ("_heights", "_moving", "avatar_legs")

    SAMPLES = 300  # poses the actor's leg length is taken from (10 s at 30 fps)

    def __init__(self, avatar_legs: float) -> None:
        self.avatar_legs = avatar_legs
        self._heights: deque[float] = deque(maxlen=self.SAMPLES)
        self._moving = False

    def __call__(self, pose: Pose) -> float | None:
        x, y, z = (float(v) for v in pose.hips)
        if y > 0.0:
            self._heights.append(y)
        self._moving = self._moving or x != 0.0 or z != 0.0
        if not self._moving or not self._heights or self.avatar_legs <= 0.0:
            return None
        return self.avatar_legs / float(np.median(self._heights))
