"""The skeletons an export is written on, as :class:`~immersion.avatars.rig.Rig` objects.

Pure numpy over glTF JSON, no engine. Three kinds:

- :func:`normalized_rig`: the project's normalized skeleton (:mod:`capture.skeleton`) in its
  T-pose, on a reference adult's proportions (hips 0.95 m high), every rest frame the identity.
- :func:`avatar_rig`: an avatar's own joints, rest frames read from its glTF nodes (what
  :class:`~immersion.stage.avatar_actor.AvatarActor` reads back from the engine), so that
  :meth:`Rig.solve` gives the avatar's joints' local rotations (the GLB export).
- :func:`t_posed`: an avatar's humanoid bones moved into the VRM T-pose (its rest straightened
  by :attr:`Rig.correction`) with identity frames: the avatar's proportions on the normalized
  skeleton, what BVH and VRMA hierarchies need (their rest is a T-pose, rotations relative to it).

With identity frames, :meth:`Rig.solve` gives the pose's normalized local rotations relative
to each bone's nearest present ancestor, and the hips' world position with the feet on the
floor: BVH, VRMA and GLB all take their motion from the same maths as the room's avatars.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from capture.rotations import quat_to_matrix
from capture.skeleton import Bone
from immersion.avatars.rig import Rig
from immersion.avatars.vrm import AvatarSpec
from immersion.errors import AvatarError

F = NDArray[np.float64]
# VRM 0.x avatars face -Z: normalized space is turned half round about Y to meet them.
HALF_TURN_Y = np.diag([-1.0, 1.0, -1.0])

# A reference adult in the normalized T-pose (metres; left side, the right mirrors it in x).
_CENTRE = {
    "HIPS": (0.0, 0.95, 0.0), "SPINE": (0.0, 1.05, 0.0), "CHEST": (0.0, 1.18, 0.0),
    "UPPER_CHEST": (0.0, 1.30, 0.0), "NECK": (0.0, 1.45, 0.0), "HEAD": (0.0, 1.55, 0.0),
}  # fmt: skip
_SIDE = {
    "SHOULDER": (0.02, 1.40, 0.0), "UPPER_ARM": (0.17, 1.40, 0.0),
    "LOWER_ARM": (0.45, 1.40, 0.0), "HAND": (0.70, 1.40, 0.0),
    "UPPER_LEG": (0.09, 0.90, 0.0), "LOWER_LEG": (0.09, 0.50, 0.0),
    "FOOT": (0.09, 0.08, 0.0), "TOES": (0.09, 0.0, 0.13),
}  # fmt: skip
# Fingers: first joint's (x, z) from the hand, segment lengths (the thumb at 45° forward).
_FINGER_ROOT = {"INDEX": (0.085, 0.025), "MIDDLE": (0.09, 0.0), "RING": (0.085, -0.02),
                "LITTLE": (0.075, -0.04), "THUMB": (0.02, 0.03)}  # fmt: skip
_FINGER_SEGMENTS = (0.04, 0.025)


def default_positions() -> dict[Bone, F]:
    """World positions of every :class:`Bone` of the reference adult, T-pose, metres."""
    out = {Bone[k]: np.array(v) for k, v in _CENTRE.items()}
    for side, x in (("LEFT", 1.0), ("RIGHT", -1.0)):
        mirror = np.array([x, 1.0, 1.0])
        for k, v in _SIDE.items():
            out[Bone[f"{side}_{k}"]] = np.array(v) * mirror
        hand = out[Bone[f"{side}_HAND"]]
        for finger, (dx, dz) in _FINGER_ROOT.items():
            chain = [b for b in Bone if b.name.startswith(f"{side}_{finger}_")]
            along = np.array([x, 0.0, 1.0 if finger == "THUMB" else 0.0])
            along /= np.linalg.norm(along)
            p = hand + np.array([x * dx, -0.01 if finger == "THUMB" else 0.0, dz])
            out[chain[0]] = p
            for b, length in zip(chain[1:], _FINGER_SEGMENTS, strict=True):
                p = p + along * length
                out[b] = p
    return out


def identity_rig(bones: tuple[Bone, ...], positions: F, name: str) -> Rig:
    """A :class:`Rig` of ``bones`` at world ``positions`` (normalized space, T-pose) with
    identity rest frames."""
    n = len(bones)
    eye = np.tile(np.eye(3), (n, 1, 1))
    hips = positions[bones.index(Bone.HIPS)]
    return Rig(bones, eye, eye.copy(), positions, np.eye(3), hips.copy(), name=name)


def normalized_rig() -> Rig:
    """Every :class:`Bone` on the reference adult."""
    pos = default_positions()
    bones = tuple(Bone)
    return identity_rig(bones, np.array([pos[b] for b in bones]), "normalized skeleton")


def node_globals(doc: dict[str, Any]) -> tuple[F, F]:
    """(N, 4, 4) world and (N, 4, 4) local matrices of every node, from the scenes' roots
    (nodes in no scene are placed as roots). ``doc`` has been checked by gltf_guard."""
    nodes = doc.get("nodes", [])
    local = np.tile(np.eye(4), (len(nodes), 1, 1))
    parent = [-1] * len(nodes)
    for i, node in enumerate(nodes):
        for c in node.get("children", []):
            parent[c] = i
        if "matrix" in node:
            local[i] = np.array(node["matrix"], dtype=np.float64).reshape(4, 4).T
        else:
            t = np.array(node.get("translation", (0.0, 0.0, 0.0)), dtype=np.float64)
            q = np.array(node.get("rotation", (0.0, 0.0, 0.0, 1.0)), dtype=np.float64)
            s = np.array(node.get("scale", (1.0, 1.0, 1.0)), dtype=np.float64)
            m = np.eye(4)
            m[:3, :3] = quat_to_matrix(q / np.linalg.norm(q)) * s
            m[:3, 3] = t
            local[i] = m
    world = np.full_like(local, np.nan)

    def place(i: int) -> F:
        if np.isnan(world[i, 0, 0]):
            world[i] = local[i] if parent[i] < 0 else place(parent[i]) @ local[i]
        out: F = world[i]
        return out

    for i in range(len(nodes)):
        place(i)
    return world, local


def avatar_rig(doc: dict[str, Any], spec: AvatarSpec, name: str) -> tuple[Rig, list[int]]:
    """The avatar's :class:`Rig` in its own glTF space (Y up), and the node index of each of
    its humanoid bones (in ``rig.bones`` order)."""
    nodes = doc.get("nodes", [])
    by_name = {n.get("name"): i for i, n in enumerate(nodes)}
    bones = tuple(b for b in Bone if b in spec.bones)
    index = [by_name[spec.bones[b]] for b in bones]
    world, local = node_globals(doc)
    rest_global = np.array([orthonormal(world[i][:3, :3]) for i in index])
    local_r = np.array([orthonormal(local[i][:3, :3]) for i in index])
    parent_frame = rest_global @ local_r.transpose(0, 2, 1)
    rest_position = np.array([world[i][:3, 3] for i in index])
    basis = HALF_TURN_Y if spec.faces_minus_z else np.eye(3)
    hips = local[index[bones.index(Bone.HIPS)]][:3, 3].copy()
    rig = Rig(bones, rest_global, parent_frame, rest_position, basis, hips, name=name)
    return rig, index


def t_posed(rig: Rig, name: str) -> Rig:
    """``rig``'s bones in the VRM T-pose, normalized space, identity frames: each bone's rest
    offset from its nearest present ancestor turned by that ancestor's rest correction
    (forward kinematics, as :meth:`Rig.solve` places the feet)."""
    pos_n: F = rig.rest_position @ rig.basis
    out = np.empty_like(pos_n)
    for i, a in enumerate(rig.anchors.tolist()):
        out[i] = pos_n[i] if a < 0 else out[a] + rig.correction[a] @ (pos_n[i] - pos_n[a])
    if not np.all(np.isfinite(out)):
        raise AvatarError(f"{name}: rest positions are not finite")
    return identity_rig(rig.bones, out, name)


def orthonormal(m: F) -> F:
    """The rotation nearest ``m`` (drops any joint scale)."""
    u, _, vt = np.linalg.svd(m)
    out: F = u @ vt
    return out
