"""Rotation maths against known values."""

from __future__ import annotations

import numpy as np
import pytest

from capture.rotations import (
    axis_angle_quat,
    basis,
    matrix_to_quat,
    quat_angle,
    quat_multiply,
    quat_power,
    quat_to_matrix,
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
