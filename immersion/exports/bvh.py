"""BVH (Biovision Hierarchy) export: a T-posed skeleton and its motion, as text.

HIERARCHY: the joints of a T-posed :class:`Rig` (:func:`~immersion.exports.rigs.t_posed` or
the normalized skeleton), named with VRM humanoid names, each under its nearest present
ancestor; OFFSETs in **centimetres** (the unit most BVH tools assume), Y up, facing +Z. The
root (hips) has 6 channels ``Xposition Yposition Zposition Zrotation Xrotation Yrotation``
with OFFSET 0 and its position given absolutely each frame; every other joint 3 channels
``Zrotation Xrotation Yrotation``. Rotations are degrees, and the channel order is the order
of application: a joint's local rotation is ``Rz · Rx · Ry`` (column vectors), relative to the
T-pose (every rest rotation is the identity). Leaves end in an ``End Site`` half their own
segment's length beyond them.
"""

from __future__ import annotations

import io

import numpy as np
from numpy.typing import NDArray

from capture.rotations import quat_to_matrix
from immersion.avatars.rig import Rig

F = NDArray[np.float64]
CM_PER_M = 100.0
ROT_CHANNELS = "Zrotation Xrotation Yrotation"


def euler_zxy(q: F) -> F:
    """(..., 4) quaternions → (..., 3) degrees ``[z, x, y]`` with R = Rz(z)·Rx(x)·Ry(y)."""
    m = quat_to_matrix(q)
    x = np.arcsin(np.clip(m[..., 2, 1], -1.0, 1.0))
    z = np.arctan2(-m[..., 0, 1], m[..., 1, 1])
    y = np.arctan2(-m[..., 2, 0], m[..., 2, 2])
    out: F = np.degrees(np.stack([z, x, y], axis=-1))
    return out


def bvh_text(rig: Rig, frame_time: float, rotations: F, hips: F) -> str:
    """The BVH file for ``rig`` (identity rest frames) posed by (T, n, 4) ``rotations`` and
    (T, 3) hips world positions in metres (from :func:`~immersion.exports.motion.solve_motion`)."""
    bones = rig.bones
    pos = rig.rest_position
    anchors = rig.anchors.tolist()
    children: dict[int, list[int]] = {i: [] for i in range(len(bones))}
    for i, a in enumerate(anchors):
        if a >= 0:
            children[a].append(i)
    out = io.StringIO()
    out.write("HIERARCHY\n")

    def joint(i: int, depth: int) -> None:
        pad = "\t" * depth
        if anchors[i] < 0:
            out.write(f"{pad}ROOT {bones[i].vrm_name}\n{pad}{{\n")
            out.write(f"{pad}\tOFFSET 0.000000 0.000000 0.000000\n")
            out.write(f"{pad}\tCHANNELS 6 Xposition Yposition Zposition {ROT_CHANNELS}\n")
        else:
            off = (pos[i] - pos[anchors[i]]) * CM_PER_M
            out.write(f"{pad}JOINT {bones[i].vrm_name}\n{pad}{{\n")
            out.write(f"{pad}\tOFFSET {off[0]:.6f} {off[1]:.6f} {off[2]:.6f}\n")
            out.write(f"{pad}\tCHANNELS 3 {ROT_CHANNELS}\n")
        for c in children[i]:
            joint(c, depth + 1)
        if not children[i]:
            tip = (pos[i] - pos[anchors[i]]) * CM_PER_M / 2 if anchors[i] >= 0 else [0, 10, 0]
            out.write(f"{pad}\tEnd Site\n{pad}\t{{\n")
            out.write(f"{pad}\t\tOFFSET {tip[0]:.6f} {tip[1]:.6f} {tip[2]:.6f}\n{pad}\t}}\n")
        out.write(f"{pad}}}\n")

    order: list[int] = []

    def walk(i: int) -> None:
        order.append(i)
        for c in children[i]:
            walk(c)

    root = anchors.index(-1)
    joint(root, 0)
    walk(root)
    count = len(rotations)
    out.write(f"MOTION\nFrames: {count}\nFrame Time: {frame_time:.8f}\n")
    angles = euler_zxy(rotations[:, order])  # (T, n, 3) in file order
    values = np.concatenate([hips * CM_PER_M, angles.reshape(count, -1)], axis=1)
    np.savetxt(out, values, fmt="%.4f", delimiter=" ")
    return out.getvalue()
