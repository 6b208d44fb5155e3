"""Pose → an avatar's own joints: pure numpy, no engine.

The capture contract gives VRM *normalized* local rotations (rest = identity, every bone frame
aligned with avatar space). A real avatar's joints have rest frames of their own (Blender-style
"Y down the bone", VRM 0.x facing -Z, extra non-humanoid joints in between). With ``B`` the
rotation from normalized space to the actor's space, ``N(b)`` a bone's normalized global
rotation and ``G(j)`` a joint's rest global rotation, a humanoid joint's world rotation is
``B·N(b)·Bᵀ·G(j)``; its local rotation follows from its parent frame's world rotation, where the
nearest humanoid ancestor ``a`` stands for every joint in between (they keep their rest).

Feet stay on the floor: the hips are raised or lowered so the lowest heel or toe contact
point, posed by forward kinematics on the avatar's own proportions, touches height 0 — the
capture contract's hips height measured on this avatar's legs rather than the actor's.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from capture.pose import Pose
from capture.rotations import quat_to_matrix
from capture.skeleton import Bone

F = NDArray[np.float64]
_FEET = ((Bone.LEFT_FOOT, Bone.LEFT_TOES), (Bone.RIGHT_FOOT, Bone.RIGHT_TOES))


class Rig:
    """An avatar's humanoid joints at rest, as the engine reports them (actor space).

    ``bones``: the humanoid bones the avatar has, in :class:`Bone` order. Per bone:
    ``rest_global`` (n, 3, 3) and ``parent_frame`` (n, 3, 3) rest rotations (column vectors)
    of the joint and of its parent's frame; ``rest_position`` (n, 3) metres, actor space, floor
    at 0. ``basis`` (3, 3): normalized space → actor space. ``hips_translation``: the hips
    joint's rest translation in its parent's frame.
    """

    __slots__ = (
        "_contacts", "_hips", "_pos_n", "anchors", "basis", "bones",
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
        # Rest positions in normalized space, and the floor points under heels and toes.
        self._pos_n: F = rest_position @ basis
        self._contacts: list[tuple[int, F]] = []
        for foot, toes in _FEET:
            for b in (foot, toes):
                if b in index:
                    p = self._pos_n[index[b]].copy()
                    p[1] = 0.0
                    self._contacts.append((index[b], p))

    def solve(self, pose: Pose) -> tuple[F, F]:
        """Local joint rotations (n, 3, 3) for ``bones``, and the hips' local translation."""
        glob = quat_to_matrix(pose.global_rotations())[list(self.bones)]
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
        delta = self.parent_frame[self._hips].T @ (self.basis @ np.array([0.0, lift, 0.0]))
        return local, self.hips_translation + delta

    def _floor_offset(self, glob: F) -> float:
        """How far to move the hips up so the lowest contact point is on the floor."""
        pos_n = self._pos_n
        posed = np.empty_like(pos_n)
        for i, a in enumerate(self.anchors):
            if a < 0:
                posed[i] = pos_n[i]
            else:
                posed[i] = posed[a] + glob[a] @ (pos_n[i] - pos_n[a])
        if not self._contacts:
            return 0.0
        lowest = min(float((posed[i] + glob[i] @ (p - pos_n[i]))[1]) for i, p in self._contacts)
        return -lowest
