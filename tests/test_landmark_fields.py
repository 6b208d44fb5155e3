"""Landmarks files carry everything the estimators saw: image landmarks, the face landmarker's
blendshapes and head rotation, both hands, and the camera in the header; read back strictly."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from capture.camera import DEFAULT_VFOV_DEG, CameraModel
from capture.errors import LandmarkShapeError, TakeFormatError
from capture.face import ARKIT
from capture.landmarks import FaceLandmarks, HandLandmarks, LandmarkFrame
from capture.rotations import axis_angle_quat, quat_to_matrix
from capture.sources import LandmarksFileSource
from capture.synthetic import frame_from_avatar_points, tpose_avatar_points
from capture.take import TakeWriter

pytestmark = pytest.mark.pure


def _full_frame(t: float = 0.5) -> LandmarkFrame:
    rng = np.random.default_rng(3)
    frame = frame_from_avatar_points(t, tpose_avatar_points())
    image = np.column_stack([rng.uniform(0.2, 0.8, (33, 2)), rng.uniform(-0.3, 0.3, 33)])
    weights = np.zeros(len(ARKIT))
    weights[ARKIT.index("eyeBlinkLeft")] = 0.9
    weights[ARKIT.index("jawOpen")] = 0.4
    turn = quat_to_matrix(axis_angle_quat(np.array([0.0, 1.0, 0.0]), 0.3))
    return replace(
        frame,
        image=image,
        face=FaceLandmarks(weights, turn, 0.95),
        left_hand=HandLandmarks(rng.uniform(-0.08, 0.08, (21, 3)), 0.9),
        right_hand=None,
    )


def test_a_frame_round_trips_through_its_json_form() -> None:
    frame = _full_frame()
    back = LandmarkFrame.from_json(frame.t, json.loads(json.dumps(frame.to_json())), "f:2")
    assert back.image is not None and frame.image is not None
    np.testing.assert_allclose(back.image, frame.image, atol=1e-5)
    np.testing.assert_allclose(back.xyz, frame.xyz, atol=1e-5)
    assert back.face is not None and frame.face is not None and frame.face.rotation is not None
    np.testing.assert_allclose(back.face.blendshapes, frame.face.blendshapes, atol=1e-4)
    assert back.face.rotation is not None
    np.testing.assert_allclose(back.face.rotation, frame.face.rotation, atol=1e-5)
    assert back.face.score == pytest.approx(0.95)
    assert back.left_hand is not None and frame.left_hand is not None and back.right_hand is None
    np.testing.assert_allclose(back.left_hand.world, frame.left_hand.world, atol=1e-5)


def test_a_body_only_frame_writes_only_world_landmarks() -> None:
    frame = frame_from_avatar_points(0.0, tpose_avatar_points())
    assert set(frame.to_json()) == {"worldLandmarks"}


def test_a_take_with_landmarks_is_a_landmarks_file_with_its_camera(tmp_path: Path) -> None:
    path = tmp_path / "take.jsonl"
    camera = CameraModel(1280, 720, 50.0)
    with TakeWriter(path, {"source": "test", "camera": camera.to_json()}) as writer:
        writer.write(0.0, None, _full_frame(0.0))
        writer.write(0.04, None, _full_frame(0.04))
    source = LandmarksFileSource(path, None)
    assert source.camera == camera
    frames = list(source.frames())
    assert len(frames) == 2 and all(f.face is not None and f.image is not None for f in frames)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"imageLandmarks": [[0.5, 0.5, 0.0]] * 32}, "imageLandmarks"),
        ({"imageLandmarks": [[0.5, float("nan"), 0.0]] * 33}, "imageLandmarks"),
        ({"faceBlendshapes": {"eyeBlinkLeft": 1.5}}, "faceBlendshapes.eyeBlinkLeft"),
        ({"faceBlendshapes": {"smirk": 0.5}}, "unknown blendshape"),
        ({"faceBlendshapes": [0.1]}, "faceBlendshapes"),
        ({"faceRotation": [0, 0, 0, 1]}, "faceRotation"),
        ({"faceBlendshapes": {}, "faceRotation": [0, 0, 0, 9]}, "faceRotation"),
        ({"handWorldLandmarks": {"middle": [[0, 0, 0]] * 21}}, "handWorldLandmarks"),
        ({"handWorldLandmarks": {"left": [[0, 0, 0]] * 20}}, "handWorldLandmarks.left"),
        ({"handWorldLandmarks": {"left": [[0, 0, 5]] * 21}}, "handWorldLandmarks.left"),
        ({"handScores": {"left": 0.5}}, "handScores"),
        (
            {"handWorldLandmarks": {"left": [[0, 0, 0]] * 21}, "handScores": {"left": 2}},
            "handScores.left",
        ),
    ],
)
def test_bad_fields_are_refused_naming_them(change: dict[str, object], field: str) -> None:
    obj: dict[str, object] = {
        "worldLandmarks": frame_from_avatar_points(0.0, tpose_avatar_points()).as_rows()
    }
    obj.update(change)
    obj = json.loads(json.dumps(obj).replace("NaN", "1e999"))
    with pytest.raises(TakeFormatError, match=field.replace(".", r"\.")) as err:
        LandmarkFrame.from_json(0.0, obj, "take.jsonl:7")
    assert "take.jsonl:7" in str(err.value)


@pytest.mark.parametrize(
    "camera",
    [
        [1280, 720],
        {"width": 0, "height": 720},
        {"width": 1280.5, "height": 720},
        {"width": 1280, "height": 720, "vfovDeg": 190},
        {"width": 1280, "height": 720, "lens": "wide"},
    ],
)
def test_a_bad_camera_header_is_refused(tmp_path: Path, camera: object) -> None:
    path = tmp_path / "landmarks.jsonl"
    rows = frame_from_avatar_points(0.0, tpose_avatar_points()).as_rows()
    path.write_text(
        json.dumps({"format": "immersion-take", "version": 2, "camera": camera})
        + "\n"
        + json.dumps({"t": 0.0, "worldLandmarks": rows})
        + "\n"
    )
    with pytest.raises(TakeFormatError, match="camera"):
        LandmarksFileSource(path, None)


def test_the_camera_model_has_a_documented_default_and_a_focal_length() -> None:
    camera = CameraModel(640, 480)
    assert camera.vfov_deg == DEFAULT_VFOV_DEG
    # A 90° vertical field of view puts the picture's edge one focal length from its centre.
    assert CameraModel(640, 480, 90.0).focal_px == pytest.approx(240.0)
    with pytest.raises(ValueError, match="field of view"):
        CameraModel(640, 480, 2.0)


def test_hand_and_face_values_are_checked() -> None:
    with pytest.raises(LandmarkShapeError, match="hand landmarks"):
        HandLandmarks(np.zeros((20, 3)))
    with pytest.raises(LandmarkShapeError, match="blendshapes"):
        FaceLandmarks(np.full(52, -0.1))
    with pytest.raises(LandmarkShapeError, match="image landmarks"):
        replace(
            frame_from_avatar_points(0.0, tpose_avatar_points()), image=np.full((33, 3), np.nan)
        )


def test_a_field_of_view_given_now_corrects_the_recorded_one(tmp_path: Path) -> None:
    from capture.sources import source_camera

    path = tmp_path / "take.jsonl"
    with TakeWriter(path, {"camera": CameraModel(1280, 720).to_json()}) as writer:
        writer.write(0.0, None, _full_frame(0.0))
    source = LandmarksFileSource(path, None)
    assert source_camera(source, None) == CameraModel(1280, 720, DEFAULT_VFOV_DEG)
    assert source_camera(source, 60.0) == CameraModel(1280, 720, 60.0)
