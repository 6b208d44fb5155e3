"""Batched rotation maths on numpy arrays: unit quaternions are ``[x, y, z, w]``.

Every function takes stacks (leading axes) and returns new arrays; inputs are never modified.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]

_EPS = 1e-9


def normalize(v: FloatArray) -> FloatArray:
    """Unit vectors along the last axis; zero vectors stay zero."""
    n = np.sqrt(np.einsum("...i,...i->...", v, v))[..., None]
    out: FloatArray = v / np.maximum(n, _EPS)
    return out


def cross(a: FloatArray, b: FloatArray) -> FloatArray:
    """Cross products along the last axis (np.cross costs several times more on small stacks)."""
    out = np.empty(np.broadcast_shapes(a.shape, b.shape))
    a0, a1, a2 = a[..., 0], a[..., 1], a[..., 2]
    b0, b1, b2 = b[..., 0], b[..., 1], b[..., 2]
    out[..., 0] = a1 * b2 - a2 * b1
    out[..., 1] = a2 * b0 - a0 * b2
    out[..., 2] = a0 * b1 - a1 * b0
    return out


def basis(primary: FloatArray, secondary: FloatArray) -> FloatArray:
    """Orthonormal bases (..., 3, 3) whose columns are primary, secondary ⟂ primary, and their cross.

    ``secondary`` only needs to be roughly perpendicular: its part along ``primary`` is removed.
    """
    a = normalize(primary)
    b = normalize(secondary - np.einsum("...i,...i->...", secondary, a)[..., None] * a)
    out = np.empty((*a.shape, 3))
    out[..., 0], out[..., 1], out[..., 2] = a, b, cross(a, b)
    return out


def rotation_between_bases(current: FloatArray, rest: FloatArray) -> FloatArray:
    """The rotation matrices taking each rest basis onto the current one: ``current @ restᵀ``."""
    return current @ np.swapaxes(rest, -1, -2)


def swing_perpendicular(src: FloatArray, dst: FloatArray, v: FloatArray) -> FloatArray:
    """Rotate ``v`` (perpendicular to unit ``src``) by the smallest rotation taking ``src`` onto
    unit ``dst``: ``v − (dst·v)/(1 + src·dst) · (src + dst)``.

    Near-opposite ``src`` and ``dst`` have no unique smallest rotation; there ``v`` is returned.
    """
    c = np.einsum("...i,...i->...", src, dst)[..., None]
    dv = np.einsum("...i,...i->...", dst, v)[..., None]
    out = v - dv / np.maximum(1.0 + c, _EPS) * (src + dst)
    return np.where(c < -1.0 + 1e-6, v, out)


# 4·q·qᵀ is linear in the matrix entries (and 1): row k of this map gives its flattened entries.
# Its row of largest diagonal is a well-conditioned multiple of q (Shepperd's method, batched).
_QQ = np.zeros((10, 16))
for _row, _terms in enumerate(
    [
        {9: 1, 0: 1, 4: -1, 8: -1},
        {1: 1, 3: 1},
        {2: 1, 6: 1},
        {7: 1, 5: -1},
        {1: 1, 3: 1},
        {9: 1, 0: -1, 4: 1, 8: -1},
        {5: 1, 7: 1},
        {2: 1, 6: -1},
        {2: 1, 6: 1},
        {5: 1, 7: 1},
        {9: 1, 0: -1, 4: -1, 8: 1},
        {3: 1, 1: -1},
        {7: 1, 5: -1},
        {2: 1, 6: -1},
        {3: 1, 1: -1},
        {9: 1, 0: 1, 4: 1, 8: 1},
    ]
):
    for _entry, _sign in _terms.items():
        _QQ[_entry, _row] = _sign


_QQ_DIAG = [0, 5, 10, 15]


def matrix_to_quat(m: FloatArray) -> FloatArray:
    """Rotation matrices (..., 3, 3) → unit quaternions (..., 4) with w ≥ 0."""
    lead = m.shape[:-2]
    qq = m.reshape(-1, 9) @ _QQ[:9] + _QQ[9]
    pick = np.argmax(qq[:, _QQ_DIAG], axis=1)
    # Row k of 4·q·qᵀ is 4·q_k·q: normalise it, then fix the sign so that w ≥ 0.
    q = normalize(qq.reshape(-1, 4, 4)[np.arange(len(qq)), pick])
    q *= np.where(q[:, 3:] < 0.0, -1.0, 1.0)
    return q.reshape((*lead, 4))


# Rotation matrix entries are linear in the ten products of a unit quaternion's components:
# column order of the flattened outer product q·qᵀ is xx xy xz xw yx yy ... ww.
_RQ = np.zeros((16, 9))
for _entry, _terms in enumerate(
    [
        {0: 1, 5: -1, 10: -1, 15: 1},
        {1: 2, 11: -2},
        {2: 2, 7: 2},
        {1: 2, 11: 2},
        {0: -1, 5: 1, 10: -1, 15: 1},
        {6: 2, 3: -2},
        {2: 2, 7: -2},
        {6: 2, 3: 2},
        {0: -1, 5: -1, 10: 1, 15: 1},
    ]
):
    for _product, _weight in _terms.items():
        _RQ[_product, _entry] = _weight


def quat_to_matrix(q: FloatArray) -> FloatArray:
    """Unit quaternions (..., 4) → rotation matrices (..., 3, 3)."""
    outer = (q[..., :, None] * q[..., None, :]).reshape((*q.shape[:-1], 16))
    return (outer @ _RQ).reshape((*q.shape[:-1], 3, 3))


def quat_power(q: FloatArray, fraction: float | FloatArray) -> FloatArray:
    """``q`` raised to ``fraction``: the same axis, ``fraction`` of the angle (slerp from identity)."""
    q = np.where(q[..., 3:] < 0.0, -q, q)
    half = np.arccos(np.minimum(q[..., 3], 1.0))
    sin_half = np.sin(half)
    axis = q[..., :3] / np.maximum(sin_half, _EPS)[..., None]
    new_half = half * fraction
    return np.concatenate([axis * np.sin(new_half)[..., None], np.cos(new_half)[..., None]], -1)


# The Hamilton product is bilinear: out_k = Σ a_i·b_j·_HAMILTON[i·4 + j, k].
_HAMILTON = np.zeros((16, 4))
for (_i, _j), (_k, _sign) in {
    (3, 0): (0, 1), (0, 3): (0, 1), (1, 2): (0, 1), (2, 1): (0, -1),
    (3, 1): (1, 1), (0, 2): (1, -1), (1, 3): (1, 1), (2, 0): (1, 1),
    (3, 2): (2, 1), (0, 1): (2, 1), (1, 0): (2, -1), (2, 3): (2, 1),
    (3, 3): (3, 1), (0, 0): (3, -1), (1, 1): (3, -1), (2, 2): (3, -1),
}.items():  # fmt: skip
    _HAMILTON[_i * 4 + _j, _k] = _sign


def quat_multiply(a: FloatArray, b: FloatArray) -> FloatArray:
    """Hamilton product ``a·b`` (apply ``b`` first, then ``a``)."""
    outer = a[..., :, None] * b[..., None, :]
    return outer.reshape((*outer.shape[:-2], 16)) @ _HAMILTON


def quat_conjugate(q: FloatArray) -> FloatArray:
    out: FloatArray = q * np.array([-1.0, -1.0, -1.0, 1.0])
    return out


def quat_angle(a: FloatArray, b: FloatArray) -> FloatArray:
    """Angle in radians of the rotation between unit quaternions ``a`` and ``b``."""
    dot = np.abs(np.sum(a * b, axis=-1))
    out: FloatArray = 2.0 * np.arccos(np.clip(dot, -1.0, 1.0))
    return out


def axis_angle_quat(axis: FloatArray | list[float], angle: float) -> FloatArray:
    """Quaternion of a rotation by ``angle`` radians about ``axis`` (right-hand rule)."""
    a = normalize(np.asarray(axis, dtype=np.float64))
    return np.concatenate([a * np.sin(angle / 2.0), [np.cos(angle / 2.0)]])
