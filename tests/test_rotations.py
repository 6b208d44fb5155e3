"""Rotation maths against known values and against scipy's Rotation as an oracle."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from capture.rotations import (
    axis_angle_quat,
    basis,
    cross,
    matrix_to_quat,
    normalize,
    quat_angle,
    quat_conjugate,
    quat_multiply,
    quat_power,
    quat_to_matrix,
    rotation_between_bases,
    swing_perpendicular,
)

pytestmark = pytest.mark.pure


def test_quarter_turn_about_z_maps_x_to_y() -> None:
    q = axis_angle_quat([0, 0, 1], np.pi / 2)
    np.testing.assert_allclose(q, [0, 0, np.sqrt(0.5), np.sqrt(0.5)])
    np.testing.assert_allclose(quat_to_matrix(q) @ [1, 0, 0], [0, 1, 0], atol=1e-12)


def test_matrix_quaternion_round_trip_including_half_turns() -> None:
    rng = np.random.default_rng(3)
    q = rng.normal(size=(500, 4))
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    q[:3] = np.array([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0.6, 0.8, 0]])  # half turns: w = 0
    back = matrix_to_quat(quat_to_matrix(q))
    assert np.all(back[:, 3] >= 0)
    np.testing.assert_allclose(quat_angle(back, q), 0, atol=1e-6)


def test_hamilton_product_composes_rotations() -> None:
    a = axis_angle_quat([1, 2, 3], 0.7)
    b = axis_angle_quat([-2, 0, 1], 1.9)
    np.testing.assert_allclose(
        quat_to_matrix(quat_multiply(a, b)), quat_to_matrix(a) @ quat_to_matrix(b), atol=1e-12
    )


def test_power_scales_the_angle() -> None:
    q = axis_angle_quat([0, 1, 0], 1.2)
    np.testing.assert_allclose(quat_power(q, 0.25), axis_angle_quat([0, 1, 0], 0.3), atol=1e-12)


def test_basis_is_orthonormal_and_right_handed() -> None:
    m = basis(np.array([2.0, 0, 0]), np.array([1.0, 3.0, 0]))
    np.testing.assert_allclose(m, np.eye(3), atol=1e-12)


def test_swing_of_a_perpendicular_vector() -> None:
    # The smallest rotation taking +X to +Y is a quarter turn about +Z: it takes +Y to -X.
    out = swing_perpendicular(np.array([1.0, 0, 0]), np.array([0, 1.0, 0]), np.array([0, 1.0, 0]))
    np.testing.assert_allclose(out, [-1, 0, 0], atol=1e-12)


def test_inputs_are_not_modified() -> None:
    q = axis_angle_quat([0, 0, 1], 0.5)
    before = q.copy()
    quat_power(q, 0.3)
    quat_to_matrix(q)
    np.testing.assert_array_equal(q, before)


# --- Against an oracle: scipy's Rotation, on seeded random inputs and the awkward cases ------

N = 2000


def _unit_quats(seed: int) -> np.ndarray:
    """Random unit quaternions (either sign of w), plus identity, half turns (w = 0), turns
    within a hair of a half turn, and tiny turns."""
    rng = np.random.default_rng(seed)
    q = rng.normal(size=(N, 4))
    special = np.array(
        [
            [0, 0, 0, 1],
            [0, 0, 0, -1],
            [1, 0, 0, 0],
            [0, 1, 0, 0],
            [0, 0, 1, 0],
            [0, 0.6, 0.8, 0],
            [1, 1e-9, 0, 1e-9],
            [0, 0, 1, -1e-7],
            [1e-8, 0, 0, 1],
            [0, -1e-12, 0, 1],
        ],
        dtype=np.float64,
    )
    q[: len(special)] = special
    out: np.ndarray = q / np.linalg.norm(q, axis=1, keepdims=True)
    return out


def _same_rotation(a: np.ndarray, b: np.ndarray, atol: float = 1e-9) -> None:
    """Unit quaternions equal up to sign (q and -q are one rotation)."""
    dist = np.minimum(np.abs(a - b).max(axis=-1), np.abs(a + b).max(axis=-1))
    assert dist.max() < atol, (dist.max(), int(dist.argmax()))


def _unit_vectors(rng: np.random.Generator, n: int = N) -> np.ndarray:
    v = rng.normal(size=(n, 3))
    out: np.ndarray = v / np.linalg.norm(v, axis=1, keepdims=True)
    return out


def test_quat_to_matrix_matches_scipy() -> None:
    q = _unit_quats(10)
    np.testing.assert_allclose(quat_to_matrix(q), Rotation.from_quat(q).as_matrix(), atol=1e-12)


def test_matrix_to_quat_matches_scipy_with_w_not_negative() -> None:
    m = Rotation.from_quat(_unit_quats(11)).as_matrix()
    q = matrix_to_quat(m)
    assert np.all(q[:, 3] >= 0.0)
    np.testing.assert_allclose(np.linalg.norm(q, axis=1), 1.0, atol=1e-12)
    _same_rotation(q, Rotation.from_matrix(m).as_quat())


def test_quat_multiply_matches_scipy_composition() -> None:
    a, b = _unit_quats(12), _unit_quats(13)[::-1]
    ra, rb = Rotation.from_quat(a), Rotation.from_quat(b)
    # The Hamilton product itself, sign included.
    np.testing.assert_allclose(quat_multiply(a, b), (ra * rb).as_quat(), atol=1e-12)


def test_conjugate_and_angle_match_scipy() -> None:
    a, b = _unit_quats(14), _unit_quats(15)
    ra, rb = Rotation.from_quat(a), Rotation.from_quat(b)
    np.testing.assert_allclose(quat_conjugate(a), ra.inv().as_quat(), atol=1e-15)
    np.testing.assert_allclose(quat_angle(a, b), (ra.inv() * rb).magnitude(), atol=1e-6)
    np.testing.assert_allclose(quat_angle(a, a), 0.0, atol=1e-6)


def test_axis_angle_matches_scipy_rotvec() -> None:
    rng = np.random.default_rng(16)
    axes = rng.normal(size=(200, 3)) * rng.uniform(0.01, 10, size=(200, 1))
    angles = np.concatenate(
        [rng.uniform(-2 * np.pi, 2 * np.pi, 194), [0, np.pi, -np.pi, 1e-9, 2 * np.pi, 3.0]]
    )
    for axis, angle in zip(axes, angles, strict=True):
        expected = Rotation.from_rotvec(axis / np.linalg.norm(axis) * angle).as_quat()
        _same_rotation(axis_angle_quat(axis, float(angle)), expected)


@pytest.mark.parametrize("fraction", [0.0, 0.25, 0.5, 1.0, 1.5, -0.5])
def test_quat_power_matches_scipy_scaled_rotvec(fraction: float) -> None:
    q = _unit_quats(17)
    q = q[np.abs(q[:, 3]) > 1e-6]  # a half turn's axis sign is arbitrary
    # The rotation vector scipy gives is the short way round (angle ≤ π), as quat_power's is.
    expected = Rotation.from_rotvec(Rotation.from_quat(q).as_rotvec() * fraction).as_quat()
    _same_rotation(quat_power(q, fraction), expected, atol=1e-7)


def test_rotation_between_bases_matches_scipy() -> None:
    rotation = Rotation.random(N, rng=18)
    rest = Rotation.random(N, rng=19).as_matrix()
    current = rotation.as_matrix() @ rest
    np.testing.assert_allclose(
        rotation_between_bases(current, rest), rotation.as_matrix(), atol=1e-12
    )


def test_basis_is_gram_schmidt_with_a_right_handed_third_axis() -> None:
    rng = np.random.default_rng(20)
    primary = rng.normal(size=(N, 3)) * rng.uniform(0.01, 10, size=(N, 1))
    secondary = rng.normal(size=(N, 3))
    m = basis(primary, secondary)
    a = primary / np.linalg.norm(primary, axis=1, keepdims=True)
    b = secondary - np.sum(secondary * a, axis=1, keepdims=True) * a
    b /= np.linalg.norm(b, axis=1, keepdims=True)
    np.testing.assert_allclose(m[..., 0], a, atol=1e-12)
    np.testing.assert_allclose(m[..., 1], b, atol=1e-9)
    np.testing.assert_allclose(m[..., 2], np.cross(a, b), atol=1e-9)
    # A proper rotation: scipy accepts it as one, unchanged.
    np.testing.assert_allclose(Rotation.from_matrix(m).as_matrix(), m, atol=1e-9)


def test_swing_perpendicular_matches_the_smallest_rotation() -> None:
    rng = np.random.default_rng(21)
    src, dst = _unit_vectors(rng), _unit_vectors(rng)
    keep = np.sum(src * dst, axis=1) > -0.99  # near-opposite: no unique smallest rotation
    src, dst = src[keep], dst[keep]
    v = rng.normal(size=src.shape)
    v -= np.sum(v * src, axis=1, keepdims=True) * src  # perpendicular to src
    axis = np.cross(src, dst)
    axis /= np.linalg.norm(axis, axis=1, keepdims=True)
    angle = np.arccos(np.clip(np.sum(src * dst, axis=1), -1.0, 1.0))
    expected = Rotation.from_rotvec(axis * angle[:, None]).apply(v)
    np.testing.assert_allclose(swing_perpendicular(src, dst, v), expected, atol=1e-9)


def test_cross_and_normalize_match_numpy() -> None:
    rng = np.random.default_rng(22)
    a, b = rng.normal(size=(2, N, 3))
    np.testing.assert_allclose(cross(a, b), np.cross(a, b), atol=1e-12)
    np.testing.assert_allclose(
        normalize(a), a / np.linalg.norm(a, axis=1, keepdims=True), atol=1e-15
    )
    np.testing.assert_array_equal(normalize(np.zeros((2, 3))), 0.0)
