"""Scene-pack space (Y up, metres, audience at +Z) to Panda3D's (Z up, camera looks +Y).

A point ``[x, y, z]`` in a pack is ``(x, -z, y)`` in Panda; a rotation ``R`` is ``C·R·Cᵀ``.
panda3d-gltf applies the same change when it loads a glTF, so models and manifest numbers agree.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

F = NDArray[np.float64]

# Columns: where pack X, Y, Z land in Panda.
TO_PANDA: F = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])


def point(v: Sequence[float] | F) -> tuple[float, float, float]:
    p = TO_PANDA @ np.asarray(v, dtype=np.float64)
    return (float(p[0]), float(p[1]), float(p[2]))


def rotation_yup(degrees_xyz: Sequence[float]) -> F:
    """A pack rotation: degrees about X, Y, Z, applied Z first, then X, then Y (yaw last)."""
    rx, ry, rz = np.radians(np.asarray(degrees_xyz, dtype=np.float64))
    cx, sx, cy, sy, cz, sz = np.cos(rx), np.sin(rx), np.cos(ry), np.sin(ry), np.cos(rz), np.sin(rz)
    x = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    y = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    z = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    out: F = y @ x @ z
    return out


def panda_matrix(rotation: F, translation: Sequence[float] | F, scale: float = 1.0) -> list[float]:
    """16 floats for ``LMatrix4`` (Panda's row-vector layout) from a column-vector rotation
    and translation already in Panda space."""
    m = np.eye(4)
    m[:3, :3] = rotation.T * scale
    m[3, :3] = translation
    return [float(v) for v in m.reshape(-1)]


def from_panda_matrix(mat: object) -> tuple[F, F]:
    """(rotation as column-vector 3x3, translation) from an ``LMatrix4``."""
    m = np.array([[mat.getCell(r, c) for c in range(4)] for r in range(4)])  # type: ignore[attr-defined]
    return m[:3, :3].T.copy(), m[3, :3].copy()


def pose_to_panda(pose: F) -> list[float]:
    """A 4x4 pose in the pack (a frame looking down its -Z, like an OpenXR view) as the
    ``LMatrix4`` for a Panda node whose forward is +Y: the change of basis on both sides."""
    rotation = TO_PANDA @ pose[:3, :3] @ TO_PANDA.T
    return panda_matrix(rotation, TO_PANDA @ pose[:3, 3])


def projection_to_panda(projection: F) -> list[float]:
    """An OpenGL projection (eye looks down -Z, Y up) as a ``MatrixLens`` user matrix, which
    Panda applies to points in its own lens frame (looks down +Y, Z up), row-vector layout."""
    to_gl_eye = np.eye(4)
    to_gl_eye[:3, :3] = TO_PANDA.T  # Panda lens frame -> pack/OpenXR eye frame
    m: F = (projection @ to_gl_eye).T
    return [float(v) for v in m.reshape(-1)]
