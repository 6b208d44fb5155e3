"""Retargeting against motion-capture ground truth (DeepMimic clips shipped in pybullet)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from capture.filters import LandmarkSmoother
from capture.landmarks import Landmark as L
from capture.landmarks import LandmarkFrame, avatar_to_mediapipe
from capture.retarget import retarget
from capture.rotations import quat_power
from capture.skeleton import Bone
from capture.synthetic import (
    CHECKED_BONES,
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
    thigh = np.linalg.norm(first[L.LEFT_KNEE] - first[L.LEFT_HIP])
    assert 0.35 < thigh < 0.5
    assert (
        first[L.NOSE][1] > first[L.LEFT_SHOULDER][1] > first[L.LEFT_HIP][1] > first[L.LEFT_ANKLE][1]
    )
    assert first[L.LEFT_HIP][0] > first[L.RIGHT_HIP][0]  # avatar's left on +X


def _hidden_leg_errors(deepmimic: Path, method: str, jitter: float = 0.04) -> float:
    """Mean right-leg direction error (degrees) over a long occlusion of the right leg.

    While hidden (70 of 100 frames, visibility 0.1) the model still guesses the leg: its
    landmarks wander about the truth by a slowly drifting offset (up to 4 cm) plus ``jitter``
    (σ per axis). Measured on pose2sim views with the leg painted over, the full model's hidden
    ankle jumps 8-27 cm (second difference, mean) a frame, 1-2x as much as when seen.
    """
    body = Humanoid.load(deepmimic / "humanoid.urdf")
    truth = clip_truth(MotionClip.load(deepmimic / "humanoid3d_dance_a.txt"), body)[:100]
    leg = [L.RIGHT_KNEE, L.RIGHT_ANKLE, L.RIGHT_HEEL, L.RIGHT_FOOT_INDEX]
    rng = np.random.default_rng(3)
    drift = np.cumsum(rng.normal(0.0, 0.01, (len(truth), len(leg), 3)), axis=0)
    drift = 0.04 * drift / np.abs(drift).max()
    smoother = LandmarkSmoother()
    previous = None
    errors = []
    for i, f in enumerate(truth):
        points = f.points + rng.normal(0.0, 0.005, f.points.shape)
        hidden = 20 <= i < 90
        frame = frame_from_avatar_points(f.t, points)
        if hidden:
            points[leg] += drift[i] + rng.normal(0.0, jitter, (len(leg), 3))
            vis = np.where(np.isin(np.arange(33), leg), 0.1, 1.0)
            frame = LandmarkFrame.from_array(
                f.t, np.concatenate([avatar_to_mediapipe(points), vis[:, None]], axis=1)
            )
        frame = smoother(frame)
        if method == "raw":
            pose = retarget(frame, min_confidence=0.0)
        elif method == "old":  # hold the last pose, easing 10% a frame toward rest
            pose = retarget(frame, min_confidence=0.0)
            low = pose.confidence < 0.5
            if previous is not None and np.any(low):
                rotations = pose.rotations.copy()
                rotations[low] = quat_power(previous.rotations[low], 0.9)
                pose = replace(pose, rotations=rotations)
        else:
            pose = retarget(frame, fallback=previous)
        previous = pose
        if hidden:
            errors.append(direction_errors(pose, f.points)[_RIGHT_LEG])
    return float(np.mean(errors))


_RIGHT_LEG = [
    CHECKED_BONES.index(b) for b in (Bone.RIGHT_UPPER_LEG, Bone.RIGHT_LOWER_LEG, Bone.RIGHT_FOOT)
]


def test_a_long_occlusion_follows_the_model_better_than_holding_or_raw(deepmimic: Path) -> None:
    raw, old, new = (_hidden_leg_errors(deepmimic, m) for m in ("raw", "old", "new"))
    assert new < 0.9 * raw and new < 0.5 * old, (raw, old, new)
