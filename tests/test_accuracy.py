"""Retargeting against motion-capture ground truth (DeepMimic clips shipped in pybullet)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from capture.filters import LandmarkSmoother
from capture.retarget import retarget
from capture.synthetic import (
    Humanoid,
    MotionClip,
    clip_truth,
    direction_errors,
    frame_from_avatar_points,
)


@pytest.mark.parametrize("yaw", [0.0, 35.0, -35.0])
def test_walk_clean_and_noisy(deepmimic: Path, yaw: float) -> None:
    body = Humanoid.load(deepmimic / "humanoid.urdf")
    truth = clip_truth(MotionClip.load(deepmimic / "humanoid3d_walk.txt"), body, yaw)
    clean = np.array(
        [
            direction_errors(retarget(frame_from_avatar_points(f.t, f.points)), f.points)
            for f in truth
        ]
    )
    assert clean.mean() < 2.0

    rng = np.random.default_rng(7)
    smoother = LandmarkSmoother()
    noisy = []
    for f in truth:
        frame = smoother(
            frame_from_avatar_points(f.t, f.points + rng.normal(0, 0.01, f.points.shape))
        )
        noisy.append(direction_errors(retarget(frame), f.points))
    assert np.mean(noisy) < 6.0


def test_truth_is_a_plausible_body(deepmimic: Path) -> None:
    body = Humanoid.load(deepmimic / "humanoid.urdf")
    first = clip_truth(MotionClip.load(deepmimic / "humanoid3d_walk.txt"), body)[0].points
    from capture.landmarks import Landmark as L

    thigh = np.linalg.norm(first[L.LEFT_KNEE] - first[L.LEFT_HIP])
    assert 0.35 < thigh < 0.5
    assert (
        first[L.NOSE][1] > first[L.LEFT_SHOULDER][1] > first[L.LEFT_HIP][1] > first[L.LEFT_ANKLE][1]
    )
    assert first[L.LEFT_HIP][0] > first[L.RIGHT_HIP][0]  # avatar's left on +X
