"""Root motion and foot locking (capture.motion): synthetic truth, a real walk, the CLI's lens."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from capture.camera import CameraModel
from capture.filters import LandmarkSmoother
from capture.landmarks import LandmarkFrame
from capture.motion import SOLE_POINTS, RootMotion, solve_translation
from capture.pipeline import CaptureSettings, pose_stream
from capture.pose import Pose
from capture.retarget import retarget
from capture.sources import open_source, source_camera
from capture.synthetic import (
    Humanoid,
    MotionClip,
    RoomTake,
    contact_skate,
    frame_from_avatar_points,
    room_take,
    root_errors,
    tpose_avatar_points,
)
from immersion.capture_cmd import capture_settings
from immersion.cli import _parser
from tests.support import run_cli


def _play(take: RoomTake, smoothing: bool) -> tuple[np.ndarray, np.ndarray]:
    """Hips (T, 3) and sole points (T, 4, 3) as RootMotion places them."""
    smoother = LandmarkSmoother() if smoothing else None
    motion = RootMotion()
    hips, soles = [], []
    for raw in take.frames:
        frame = smoother(raw) if smoother is not None else raw
        pose = motion(frame, retarget(frame), take.camera)
        hips.append(pose.hips)
        soles.append(pose.hips + frame.avatar_xyz()[list(SOLE_POINTS)])
    return np.array(hips), np.array(soles)


def _clip(deepmimic: Path, name: str) -> tuple[MotionClip, Humanoid]:
    body = Humanoid.load(deepmimic / "humanoid.urdf")
    return MotionClip.load(deepmimic / f"humanoid3d_{name}.txt"), body


@pytest.mark.parametrize(("name", "cycles"), [("walk", 3), ("run", 1)])
def test_a_synthetic_walk_and_run_cross_the_floor_with_feet_that_stay_put(
    deepmimic: Path, name: str, cycles: int
) -> None:
    clip, body = _clip(deepmimic, name)
    take = room_take(clip, body, cycles=cycles)
    hips, soles = _play(take, smoothing=False)
    # The actor really crosses the picture, and the hips go with them (targets: 10 cm, 1 cm).
    assert np.ptp(take.root[:, 0]) > 1.0
    assert root_errors(hips, take.root).max() < 0.08
    skate = contact_skate(soles, take.contact)
    assert len(skate) >= 4
    assert skate.mean() < 1.5 * 0.01
    assert (soles[..., 1].min(axis=1) > -0.005).all()  # no sole below the floor


def test_noisy_landmarks_still_place_the_walk_and_the_locks_hold_the_feet(
    deepmimic: Path,
) -> None:
    clip, body = _clip(deepmimic, "walk")
    take = room_take(clip, body, cycles=3, image_noise_px=2.0, world_noise_m=0.01, seed=1)
    hips, soles = _play(take, smoothing=True)
    assert root_errors(hips, take.root).max() < 0.10
    skate = contact_skate(soles, take.contact).mean()
    assert skate < 0.025
    # Without the locks the same noisy feet slide further: the locking is doing the work.
    smoother = LandmarkSmoother()
    unlocked = RootMotion(contact_height=1e-6, release_height=1e-6)
    loose = []
    for raw in take.frames:
        f = smoother(raw)
        loose.append(unlocked(f, retarget(f), take.camera).hips + f.avatar_xyz()[list(SOLE_POINTS)])
    assert contact_skate(np.array(loose), take.contact).mean() > 1.2 * skate


def test_a_jump_leaves_the_ground(deepmimic: Path) -> None:
    clip, body = _clip(deepmimic, "jump")
    take = room_take(clip, body)
    hips, soles = _play(take, smoothing=False)
    rise = take.root[:, 1] - take.root[0, 1]
    top = int(np.argmax(rise))
    assert rise[top] > 0.15
    assert hips[top, 1] - hips[0, 1] > 0.8 * rise[top]
    assert soles[top, :, 1].min() > 0.05  # both feet off the floor at the top


@pytest.mark.pure
def test_the_hips_are_found_where_the_camera_sees_them() -> None:
    camera = CameraModel(1280, 720, 50.0)
    world = tpose_avatar_points() * [1.0, -1.0, -1.0]  # MediaPipe axes
    where = np.array([0.4, 0.2, 3.0])
    cam = world + where
    f = camera.focal_px
    image = np.column_stack(
        [
            0.5 + f * cam[:, 0] / cam[:, 2] / camera.width,
            0.5 + f * cam[:, 1] / cam[:, 2] / camera.height,
            np.zeros(33),
        ]
    )
    found = solve_translation(world, image, np.ones(33), camera)
    assert found is not None
    np.testing.assert_allclose(found, where, atol=1e-9)
    # A wrong field of view puts them at the wrong distance: the lens matters.
    wide = solve_translation(world, image, np.ones(33), CameraModel(1280, 720, 70.0))
    assert wide is not None and wide[2] < 0.8 * where[2]


@pytest.mark.pure
def test_without_a_camera_or_image_landmarks_the_pose_passes_through() -> None:
    frame = frame_from_avatar_points(0.0, tpose_avatar_points())
    pose = retarget(frame)
    motion = RootMotion()
    assert motion(frame, pose, None) is pose
    assert motion(frame, pose, CameraModel(640, 480)) is pose  # no image landmarks
    assert pose.hips[0] == pose.hips[2] == 0.0


@pytest.mark.pure
def test_inputs_are_not_modified_and_the_first_frame_is_the_mark() -> None:
    frame = frame_from_avatar_points(0.0, tpose_avatar_points())
    image = np.full((33, 3), 0.5)
    image[:, 0] += frame.xyz[:, 0] / 4.0
    image[:, 1] += frame.xyz[:, 1] / 4.0
    frame = replace(frame, image=image)
    pose = retarget(frame)
    before = pose.hips.copy()
    out = RootMotion()(frame, pose, CameraModel(640, 480))
    np.testing.assert_array_equal(pose.hips, before)
    assert out is not pose and out.hips[0] == out.hips[2] == 0.0
    assert out.hips[1] == pytest.approx(pose.hips[1], abs=0.01)


@pytest.mark.pure
@pytest.mark.parametrize("bad", [{"pull": 1.5}, {"blend_s": 0.0}, {"release_height": 0.01}])
def test_nonsense_thresholds_are_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        RootMotion(**bad)


@pytest.mark.pure
def test_camera_fov_reaches_the_capture_settings_and_is_checked(
    capsys: pytest.CaptureFixture[str],
) -> None:
    for command in (["capture", "clip.mp4"], ["serve"]):
        args = _parser().parse_args([*command, "--camera-fov", "60"])
        assert capture_settings(args) == CaptureSettings(vfov_deg=60.0)
        assert capture_settings(_parser().parse_args(command)).vfov_deg is None
    for value in ("nan", "2", "179", "x"):
        with pytest.raises(SystemExit):
            _parser().parse_args(["capture", "clip.mp4", "--camera-fov", value])
        assert "--camera-fov" in capsys.readouterr().err


def test_a_take_from_a_video_records_the_camera_and_its_lens(demo: Path, tmp_path: Path) -> None:
    out = tmp_path / "take.jsonl"
    done = run_cli(
        "capture", str(demo), "--out", str(out), "--max-frames", "2", "--quiet",
        "--camera-fov", "55",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    header = json.loads(out.read_text().splitlines()[0])
    source = open_source(str(demo))
    try:
        size = source_camera(source)
    finally:
        source.close()
    assert size is not None
    assert header["camera"] == {"width": size.width, "height": size.height, "vfovDeg": 55.0}


def test_a_real_walk_moves_the_hips_the_way_the_person_walks(pose2sim_cam01: Path) -> None:
    """pose2sim's cam01: the person walks along the platform toward the camera and to the
    picture's right; the take's hips go toward the camera (+z) and to +x, by a walk's length."""
    source = open_source(str(pose2sim_cam01))
    camera = source_camera(source)
    assert camera is not None
    motion = RootMotion()
    smoother = LandmarkSmoother()
    hips, seen = [], []
    for captured in pose_stream(source, CaptureSettings(smoothing=False)):
        raw: LandmarkFrame | None = captured.landmarks
        if raw is None or captured.pose is None:
            continue
        assert raw.image is not None  # the estimator gives image landmarks
        smooth = smoother(raw)
        pose: Pose = motion(smooth, retarget(smooth), camera)
        hips.append(pose.hips)
        seen.append(raw.image[23:25, 0].mean())
    hips_a = np.array(hips)
    assert len(hips_a) > 80
    start, end = hips_a[:5].mean(axis=0), hips_a[-5:].mean(axis=0)
    assert end[2] - start[2] > 0.4  # toward the camera
    assert end[0] - start[0] > 0.1  # to the picture's right, as the image landmarks go
    assert seen[-1] > seen[0] + 0.05
    assert np.linalg.norm((end - start)[[0, 2]]) < 2.5  # no more than 1.7 s of walking allows
    assert hips_a[:, 1].min() > 0.5 and hips_a[:, 1].max() < 1.2  # hips at hip height


def _standing(t: float, u: float, camera: CameraModel) -> LandmarkFrame:
    """A T-pose person standing 3 m from ``camera`` with their hips at picture column ``u``."""
    world = frame_from_avatar_points(t, tpose_avatar_points())
    f = camera.focal_px
    at = np.array([(u - 0.5) * camera.width / f * 3.0, 0.0, 3.0])  # hips, camera axes
    points = world.xyz + at
    image = np.column_stack(
        [
            points[:, 0] / points[:, 2] * f / camera.width + 0.5,
            points[:, 1] / points[:, 2] * f / camera.height + 0.5,
            np.zeros(len(points)),
        ]
    )
    return replace(world, image=image)


@pytest.mark.pure
def test_an_estimate_that_jumps_faster_than_anyone_moves_does_not_carry_the_avatar() -> None:
    camera = CameraModel(1280, 720)
    motion = RootMotion()
    xs = []
    for k in range(40):
        # The tracker jumps to someone 3 m to the side at frame 20.
        frame = _standing(k / 30, 0.3 if k < 20 else 0.8, camera)
        xs.append(float(motion(frame, retarget(frame), camera).hips[0]))
    assert max(abs(x) for x in xs) < 0.05, xs


@pytest.mark.pure
def test_the_avatar_stays_on_its_mark_while_the_tracker_settles() -> None:
    camera = CameraModel(1280, 720)
    motion = RootMotion(settle_s=0.5)
    out = []
    for k in range(30):
        # The first frames' estimate drifts 1 m sideways, then the person stands still.
        u = 0.3 + 0.2 * min(k, 10) / 10
        frame = _standing(k / 30, u, camera)
        out.append(float(motion(frame, retarget(frame), camera).hips[0]))
    assert max(abs(x) for x in out) < 0.05, out
