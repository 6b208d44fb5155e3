"""The capture pipeline on real video of real people, with the real MediaPipe model."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np

from capture.landmarks import Landmark as L
from capture.pipeline import CaptureSettings, pose_stream
from capture.skeleton import Bone
from capture.sources import ImageFolderSource, LandmarksFileSource, VideoSource, open_source
from capture.take import read_take
from tests.support import run_cli


def test_demo_clip_gets_a_pose_on_95_percent_of_frames(demo: Path, lite_bundle: Path) -> None:
    frames = list(pose_stream(VideoSource(demo)))
    assert len(frames) == 230
    assert sum(f.pose is not None for f in frames) / len(frames) >= 0.95
    times = [f.t for f in frames]
    assert all(b > a for a, b in itertools.pairwise(times))  # source time, increasing
    assert abs(times[1] - times[0] - 1 / 30) < 1e-3


def test_full_body_person_is_upright_and_sized_like_a_person(
    pose2sim_cam01: Path, lite_bundle: Path
) -> None:
    frames = [f for f in pose_stream(VideoSource(pose2sim_cam01)) if f.landmarks is not None]
    assert len(frames) >= 95
    for f in frames:
        assert f.landmarks is not None and f.pose is not None
        p = f.landmarks.avatar_xyz()
        assert p[L.NOSE, 1] > p[L.LEFT_HIP, 1] > p[L.LEFT_ANKLE, 1]  # up is up
        shoulders = np.linalg.norm(p[L.LEFT_SHOULDER] - p[L.RIGHT_SHOULDER])
        assert 0.2 < shoulders < 0.55
        assert 0.6 < f.pose.hips[1] < 1.2  # hips height above the soles, metres
    confidence = np.mean([f.pose.confidence[Bone.LEFT_UPPER_LEG] for f in frames if f.pose])
    assert confidence > 0.8


def test_image_folder_source(tmp_path: Path, demo: Path, lite_bundle: Path) -> None:
    import cv2

    cap = cv2.VideoCapture(str(demo))
    for i in range(12):
        ok, bgr = cap.read()
        assert ok
        cv2.imwrite(str(tmp_path / f"frame{i:03d}.jpg"), bgr)
    cap.release()
    frames = list(pose_stream(ImageFolderSource(tmp_path, fps=24.0)))
    assert len(frames) == 12 and frames[1].t == 1 / 24
    assert sum(f.pose is not None for f in frames) >= 10


def test_take_with_landmarks_retargets_again_to_the_same_poses(
    tmp_path: Path, demo: Path, lite_bundle: Path
) -> None:
    first = tmp_path / "first.jsonl"
    again = tmp_path / "again.jsonl"
    assert (
        run_cli(
            "capture",
            str(demo),
            "--out",
            str(first),
            "--landmarks",
            "--max-frames",
            "40",
            "--quiet",
        ).returncode
        == 0
    )
    assert run_cli("capture", str(first), "--out", str(again), "--quiet").returncode == 0
    a, b = read_take(first), read_take(again)
    assert len(b.poses) == sum(p is not None for p in a.poses)
    for pa, pb in zip([p for p in a.poses if p], b.poses, strict=True):
        assert pb is not None
        # The landmarks are stored to 0.01 mm, so poses agree to a fraction of a degree.
        assert np.allclose(np.abs(np.sum(pa.rotations * pb.rotations, axis=1)), 1.0, atol=1e-4)
    assert isinstance(open_source(str(first)), LandmarksFileSource)


def test_npy_landmarks_source(tmp_path: Path) -> None:
    from capture.synthetic import tpose_avatar_points

    arr = np.repeat((tpose_avatar_points() * [1, -1, -1])[None], 5, axis=0)
    np.save(tmp_path / "lm.npy", arr)
    frames = list(
        pose_stream(
            open_source(str(tmp_path / "lm.npy"), fps=25.0), CaptureSettings(smoothing=False)
        )
    )
    assert [f.t for f in frames] == [0.0, 0.04, 0.08, 0.12, 0.16]
    assert all(f.pose is not None and np.allclose(f.pose.rotations[:, 3], 1.0) for f in frames)
