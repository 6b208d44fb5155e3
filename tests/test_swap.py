"""Left/right swap correction: injected swaps are undone, a real turn-around is kept."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from capture.landmarks import Landmark as L
from capture.landmarks import LandmarkFrame
from capture.sources import LandmarksFileSource
from capture.swap import MIRROR, SwapGuard, swapped
from capture.synthetic import frame_from_avatar_points, tpose_avatar_points

FPS = 30.0


def _project(points: np.ndarray) -> np.ndarray:
    """Image landmarks [u, v, z] of avatar-space points seen by a camera 3 m in front."""
    depth = 3.0 - points[:, 2]
    u = 0.5 + 1.2 * points[:, 0] / depth  # the actor's left is on the picture's right
    v = 0.5 - 1.2 * (points[:, 1] - 0.2) / depth
    return np.stack([u, v, -points[:, 2]], axis=1)


def _turning(seconds: float, degrees: float) -> list[LandmarkFrame]:
    """A T-posed actor swinging the arms while turning ``degrees`` about the vertical."""
    out = []
    for i in range(int(seconds * FPS)):
        t = i / FPS
        pts = tpose_avatar_points()
        arms = [
            lm
            for lm in L
            if "ELBOW" in lm.name
            or "WRIST" in lm.name
            or lm.name.split("_")[-1] in ("PINKY", "INDEX", "THUMB")
        ]
        pts[arms, 1] -= 0.2 * np.sin(2 * np.pi * t) * np.sign(pts[arms, 0])
        yaw = np.radians(degrees) * min(t / seconds, 1.0)
        c, s = np.cos(yaw), np.sin(yaw)
        pts = pts @ np.array([[c, 0, -s], [0, 1, 0], [s, 0, c]])
        frame = frame_from_avatar_points(t, pts)
        out.append(replace(frame, image=_project(pts)))
    return out


@pytest.mark.pure
def test_swapped_exchanges_every_pair_and_the_hands() -> None:
    frame = _turning(0.1, 0)[0]
    assert sorted(MIRROR) == list(range(33)) and MIRROR[L.NOSE] == L.NOSE
    assert MIRROR[L.LEFT_WRIST] == L.RIGHT_WRIST and MIRROR[L.MOUTH_RIGHT] == L.MOUTH_LEFT
    out = swapped(frame)
    assert frame.image is not None and out.image is not None
    np.testing.assert_array_equal(out.xyz[L.LEFT_WRIST], frame.xyz[L.RIGHT_WRIST])
    np.testing.assert_array_equal(out.image[L.RIGHT_HIP], frame.image[L.LEFT_HIP])
    np.testing.assert_array_equal(swapped(out).xyz, frame.xyz)


@pytest.mark.pure
@pytest.mark.parametrize("with_image", [True, False])
def test_a_real_turn_around_is_not_corrected(with_image: bool) -> None:
    frames = _turning(1.0, 180.0) + _turning(1.0, 180.0)[-1:]
    if not with_image:
        frames = [replace(f, image=None) for f in frames]
    guard = SwapGuard()
    out = [guard(f) for f in frames]
    assert guard.swaps == 0
    assert all(o is f for o, f in zip(out, frames, strict=True))


@pytest.mark.pure
def test_a_swap_injected_in_a_landmarks_file_is_corrected(tmp_path: Path) -> None:
    frames = _turning(2.0, 60.0)
    path = tmp_path / "swapped.jsonl"
    with path.open("w") as f:
        for i, frame in enumerate(frames):
            written = swapped(frame) if 20 <= i < 35 or i == 45 else frame
            f.write(json.dumps({"t": frame.t, **written.to_json()}) + "\n")
    source = LandmarksFileSource(path, None)
    guard = SwapGuard()
    out = [guard(f) for f in source.frames()]
    assert guard.swaps == 16
    ears = [L.LEFT_EAR, L.RIGHT_EAR]
    for got, want in zip(out, frames, strict=True):
        # Labels and depth both back: the nose in front of the ears, as the actor stood.
        assert got.xyz[L.NOSE, 2] < got.xyz[ears, 2].mean()
        np.testing.assert_allclose(got.xyz, want.xyz, atol=1e-4)
        assert got.image is not None and want.image is not None
        np.testing.assert_allclose(got.image, want.image, atol=1e-4)


@pytest.mark.pure
def test_inputs_are_not_modified_and_a_gap_forgets_the_past() -> None:
    frames = _turning(0.5, 0.0)
    before = [f.xyz.copy() for f in frames]
    guard = SwapGuard(memory=0.5)
    guard(frames[0])
    # Two seconds later the swapped frame is taken as it is: nothing recent to judge it by.
    late = replace(swapped(frames[1]), t=2.0)
    assert guard(late) is late
    guard(replace(frames[2], t=2.03))
    assert guard.swaps == 1
    for f, was in zip(frames, before, strict=True):
        np.testing.assert_array_equal(f.xyz, was)


def _full_model_frames(video: Path, bundle: Path) -> list[LandmarkFrame]:
    """World and image landmarks of every frame, by MediaPipe's full pose model."""
    from capture.estimator import _mediapipe
    from capture.sources import VideoSource

    mp, base_options, vision = _mediapipe()
    options = vision.PoseLandmarkerOptions(
        base_options=base_options(model_asset_path=str(bundle)),
        running_mode=vision.RunningMode.VIDEO,
        num_poses=1,
    )
    out = []
    with vision.PoseLandmarker.create_from_options(options) as landmarker:
        for f in VideoSource(video).frames():
            image = mp.Image(image_format=mp.ImageFormat.SRGB, data=f.rgb)
            result = landmarker.detect_for_video(image, round(f.t * 1000))
            if result.pose_world_landmarks:
                world = [
                    [p.x, p.y, p.z, min(max(p.visibility, 0.0), 1.0)]
                    for p in result.pose_world_landmarks[0]
                ]
                frame = LandmarkFrame.from_array(f.t, world)
                image_rows = np.array([[p.x, p.y, p.z] for p in result.pose_landmarks[0]])
                out.append(replace(frame, image=image_rows))
    return out


def test_the_full_models_swaps_on_a_real_view_are_undone(pose2sim_cam02: Path) -> None:
    # In pose2sim's cam02 the person faces the camera throughout (the heavy model never
    # swaps there): the actor's left hip is on the picture's right. The full model swaps in
    # about a quarter of the frames.
    from capture.cache import models_dir
    from tests.support import need

    frames = _full_model_frames(pose2sim_cam02, need(models_dir() / "pose_landmarker_full.task"))
    assert len(frames) == 100

    def facing(fs: list[LandmarkFrame]) -> float:
        """Fraction of frames with the left shoulder and hip on the right (taken together)."""
        across = [
            f.image[[L.LEFT_HIP, L.LEFT_SHOULDER], 0].sum()
            - f.image[[L.RIGHT_HIP, L.RIGHT_SHOULDER], 0].sum()
            for f in fs
            if f.image is not None
        ]
        return float(np.mean(np.array(across) > 0))

    def nose_ahead(fs: list[LandmarkFrame]) -> float:
        """Fraction of frames whose nose is nearer the camera than the ears (MediaPipe +z is
        away): a swapped guess is a person facing away, so mirrored depth must be put back."""
        ears = [L.LEFT_EAR, L.RIGHT_EAR]
        return float(np.mean([f.xyz[L.NOSE, 2] < f.xyz[ears, 2].mean() for f in fs]))

    assert facing(frames) < 0.8 and nose_ahead(frames) < 0.8
    guard = SwapGuard()
    guarded = [guard(f) for f in frames]
    # What is left: two frames mid-swap, where the model crossed the hips but not the arms.
    assert facing(guarded) >= 0.97
    assert nose_ahead(guarded) >= 0.95
