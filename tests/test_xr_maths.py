"""Headset maths against values worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from capture.rotations import axis_angle_quat
from immersion.stage import space
from immersion.xr.maths import Fov, eye_separation, projection, stage_to_pack, view_matrix

pytestmark = pytest.mark.pure

QUARTER = math.pi / 4


def _clip(p: np.ndarray, point: list[float]) -> np.ndarray:
    x = p @ np.array([*point, 1.0])
    out: np.ndarray = x[:3] / x[3]
    return out


def test_a_symmetric_90_degree_fov_is_the_unit_frustum() -> None:
    p = projection(Fov(-QUARTER, QUARTER, QUARTER, -QUARTER), near=0.1, far=100.0)
    assert p[0, 0] == pytest.approx(1.0) and p[1, 1] == pytest.approx(1.0)
    assert p[0, 2] == pytest.approx(0.0) and p[1, 2] == pytest.approx(0.0)
    # Near and far planes land on -1 and +1; a point on the frustum's right edge on x = +1.
    assert _clip(p, [0, 0, -0.1])[2] == pytest.approx(-1.0)
    assert _clip(p, [0, 0, -100.0])[2] == pytest.approx(1.0)
    assert _clip(p, [2.0, 0, -2.0])[0] == pytest.approx(1.0)


def test_an_asymmetric_fov_shifts_the_centre() -> None:
    # A left eye as headsets give it: wider outwards (left) than towards the nose.
    fov = Fov(
        left=-math.radians(50), right=math.radians(40), up=math.radians(45), down=-math.radians(45)
    )
    p = projection(fov, 0.05, 50.0)
    tl, tr = math.tan(fov.left), math.tan(fov.right)
    assert p[0, 2] == pytest.approx((tr + tl) / (tr - tl))
    assert p[0, 2] < 0  # more of the picture on the left
    # Each edge direction lands on its clip edge.
    assert _clip(p, [tl, 0, -1])[0] == pytest.approx(-1.0)
    assert _clip(p, [tr, 0, -1])[0] == pytest.approx(1.0)


def test_projection_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="near"):
        projection(Fov(-1, 1, 1, -1), near=1.0, far=0.5)
    with pytest.raises(ValueError, match="empty"):
        projection(Fov(0.5, 0.2, 1, -1), near=0.1, far=10)


def test_view_matrix_undoes_the_head_pose() -> None:
    identity = np.array([0.0, 0.0, 0.0, 1.0])
    assert np.allclose(view_matrix(identity, np.zeros(3)), np.eye(4))
    # A head 1.6 m up, turned 90 degrees left (about +Y): what is 1 m to its left in the
    # room (-X) is straight ahead of it (-Z), and the head itself is at the origin.
    turn = axis_angle_quat([0, 1, 0], math.pi / 2)
    v = view_matrix(turn, np.array([0.0, 1.6, 0.0]))
    assert np.allclose(v @ [0, 1.6, 0, 1], [0, 0, 0, 1])
    assert np.allclose(v @ [-1, 1.6, 0, 1], [0, 0, -1, 1])


def test_eye_separation_is_the_distance_between_eyes() -> None:
    assert eye_separation(np.array([-0.032, 1.6, 0]), np.array([0.031, 1.6, 0])) == pytest.approx(
        0.063
    )


def test_the_stage_floor_origin_lands_on_the_mark_facing_its_way() -> None:
    # A mark at (1, 2) facing the audience (+Z): a metre ahead of the actor is +Z in the pack.
    m = stage_to_pack((1.0, 2.0), 0.0)
    assert m @ np.array([0, 0, 0, 1.0]) == pytest.approx([1.0, 0.0, 2.0, 1.0])
    assert m @ np.array([0, 1.6, -1.0, 1.0]) == pytest.approx([1.0, 1.6, 3.0, 1.0])
    # Facing +X (90): ahead is +X, and the actor's right (+X in STAGE) is forward x up, +Z.
    m = stage_to_pack((0.0, 0.0), 90.0)
    assert m @ np.array([0, 0, -1.0, 1.0]) == pytest.approx([1.0, 0.0, 0.0, 1.0])
    assert m @ np.array([1.0, 0, 0, 1.0]) == pytest.approx([0.0, 0.0, 1.0, 1.0])


def test_poses_and_projections_convert_to_panda_frames() -> None:
    # An eye 1.6 m up looking down -Z (the pack's -Z): in Panda it is at (0, 0, 1.6) and its
    # forward (+Y) points along Panda's +Y, which is the pack's -Z.
    pose = np.eye(4)
    pose[:3, 3] = [0.0, 1.6, 0.0]
    m = np.array(space.pose_to_panda(pose)).reshape(4, 4)  # row-vector layout
    assert m[3, :3] == pytest.approx([0.0, 0.0, 1.6])
    assert np.array([0, 1.0, 0, 0]) @ m == pytest.approx([0, 1.0, 0, 0])
    # The lens matrix sends a point 2 m ahead in Panda's lens frame (+Y) to the clip centre,
    # and one on the right frustum edge (x = y for 90 degrees) to clip x = +1.
    p = projection(Fov(-QUARTER, QUARTER, QUARTER, -QUARTER), near=0.1, far=100.0)
    lens = np.array(space.projection_to_panda(p)).reshape(4, 4)
    ahead = np.array([0.0, 2.0, 0.0, 1.0]) @ lens
    edge = np.array([2.0, 2.0, 0.0, 1.0]) @ lens
    top = np.array([0.0, 2.0, 2.0, 1.0]) @ lens
    assert ahead[:2] / ahead[3] == pytest.approx([0.0, 0.0])
    assert edge[0] / edge[3] == pytest.approx(1.0) and top[1] / top[3] == pytest.approx(1.0)
