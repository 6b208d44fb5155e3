"""Pose and projection maths for the headset, pure numpy (no OpenXR, no engine).

OpenXR's spaces are right-handed, Y up, metres, and a view looks down its own -Z: the same
convention as a scene pack, so a pose located in STAGE space is a pose in the pack once the
actor's mark is added. Matrices here act on column vectors; quaternions are ``[x, y, z, w]``
as OpenXR and :mod:`capture.rotations` write them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from capture.rotations import quat_to_matrix

F = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Fov:
    """An eye's field of view: the four half-angles in radians (left and down are negative)."""

    left: float
    right: float
    up: float
    down: float


def projection(fov: Fov, near: float, far: float) -> F:
    """The OpenGL projection (clip z from -1 at ``near`` to +1 at ``far``) for an asymmetric
    field of view, as OpenXR's own ``XrMatrix4x4f_CreateProjectionFov`` builds it."""
    if not 0 < near < far:
        raise ValueError(f"need 0 < near < far, got near={near}, far={far}")
    tl, tr = math.tan(fov.left), math.tan(fov.right)
    td, tu = math.tan(fov.down), math.tan(fov.up)
    if not (tr > tl and tu > td):
        raise ValueError(f"empty field of view: {fov}")
    w, h = tr - tl, tu - td
    return np.array(
        [
            [2 / w, 0, (tr + tl) / w, 0],
            [0, 2 / h, (tu + td) / h, 0],
            [0, 0, -(far + near) / (far - near), -2 * far * near / (far - near)],
            [0, 0, -1, 0],
        ]
    )


def pose_matrix(orientation_xyzw: F, position: F) -> F:
    """The 4x4 that takes points from the posed frame (an eye, a hand) to its space."""
    m = np.eye(4)
    m[:3, :3] = quat_to_matrix(np.asarray(orientation_xyzw, dtype=np.float64))
    m[:3, 3] = np.asarray(position, dtype=np.float64)
    return m


def view_matrix(orientation_xyzw: F, position: F) -> F:
    """The 4x4 that takes points from space into the eye's frame: the inverse of its pose."""
    pose = pose_matrix(orientation_xyzw, position)
    r = pose[:3, :3]
    out = np.eye(4)
    out[:3, :3] = r.T
    out[:3, 3] = -r.T @ pose[:3, 3]
    return out


def eye_separation(left: F, right: F) -> float:
    """Distance between two eye positions, metres (the runtime's IPD)."""
    return float(np.linalg.norm(np.asarray(right, dtype=np.float64) - np.asarray(left)))


def stage_to_pack(mark_xz: tuple[float, float], facing_deg: float) -> F:
    """The 4x4 taking STAGE-space points into the pack: the runtime's floor origin lands on
    the mark, and the actor's forward (-Z) turns to where the mark faces (0 faces +Z, the
    audience; 90 faces +X), so the actor looks the way their avatar does."""
    yaw = math.radians(facing_deg + 180.0)
    c, s = math.cos(yaw), math.sin(yaw)
    return np.array(
        [
            [c, 0.0, s, mark_xz[0]],
            [0.0, 1.0, 0.0, 0.0],
            [-s, 0.0, c, mark_xz[1]],
            [0.0, 0.0, 0.0, 1.0],
        ]
    )
