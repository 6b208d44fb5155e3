"""The face in the capture: crops located by the body, the face landmarker on real video, the
face track (calibration, a filter that keeps blinks, gaze, loss), and a face take on the stage.
"""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from capture.calibration import CALIBRATION_S
from capture.crops import Box, crop, square_box
from capture.face import ARKIT, ARKIT_COUNT, ARKIT_INDEX
from capture.face_estimator import face_from_result
from capture.face_track import (
    EASE_S,
    HOLD_S,
    FaceTracker,
    calibrated,
    gaze_from_weights,
)
from capture.landmarks import FaceLandmarks, LandmarkFrame
from capture.pipeline import CaptureSettings, pose_stream
from capture.pose import Pose
from capture.rotations import axis_angle_quat, quat_to_matrix
from capture.sources import LandmarksFileSource, VideoSource
from capture.synthetic import frame_from_avatar_points, tpose_avatar_points

FPS = 30.0


def _weights(**named: float) -> np.ndarray:
    out = np.zeros(ARKIT_COUNT)
    for name, w in named.items():
        out[ARKIT_INDEX[name]] = w
    return out


def _raw(weights: np.ndarray) -> FaceLandmarks:
    return FaceLandmarks(np.clip(weights, 0.0, 1.0), None, 0.9)


# --- crops --------------------------------------------------------------------------------------


@pytest.mark.pure
def test_a_square_box_is_centred_on_the_points_with_its_margin() -> None:
    uv = np.array([[0.4, 0.5], [0.5, 0.55]])  # 100 × 25 px in a 1000 × 500 picture
    box = square_box(uv, 1000, 500, scale=2.0)
    assert box == Box(350, 162, 200)
    centre = box.to_pixels(np.array([[0.5, 0.5]]))
    assert np.allclose(centre, [[450, 262]], atol=1)


@pytest.mark.pure
def test_a_square_box_stays_inside_the_picture() -> None:
    corner = square_box(np.array([[0.01, 0.02], [0.03, 0.03]]), 640, 480, scale=3.0, min_side=64)
    assert corner == Box(0, 0, 64)  # the floor, shifted in from the corner
    huge = square_box(np.array([[0.1, 0.1], [0.9, 0.9]]), 640, 480, scale=2.0)
    assert huge is not None and huge.side == 480 and 0 <= huge.x <= 640 - 480 and huge.y == 0
    far = square_box(np.array([[1.5, 0.5], [1.6, 0.6]]), 640, 480, scale=2.0)
    assert far is not None and far.x + far.side == 640
    assert square_box(np.array([[np.nan, 0.5], [0.1, 0.1]]), 640, 480, scale=2.0) is None
    assert square_box(np.array([[0.5, 0.5], [0.5, 0.5]]), 640, 480, scale=2.0) is None


@pytest.mark.pure
def test_a_crop_is_upscaled_to_the_size_asked() -> None:
    rgb = np.zeros((100, 200, 3), np.uint8)
    rgb[40:60, 120:140] = 255  # a white square in the box's middle
    out = crop(rgb, Box(110, 30, 40), 160)
    assert out.shape == (160, 160, 3) and out.flags.c_contiguous
    assert out[80, 80].tolist() == [255, 255, 255] and out[5, 5].tolist() == [0, 0, 0]
    assert rgb[0, 0].tolist() == [0, 0, 0]  # the picture is left as it was


# --- the landmarker's result ------------------------------------------------------------------


@pytest.mark.pure
def test_a_landmarker_result_becomes_arkit_weights_and_a_rotation() -> None:
    names = ["_neutral", *reversed(ARKIT)]  # any order: matched by name
    scores = {"_neutral": 0.9, "jawOpen": 0.6, "eyeBlinkLeft": 0.3}
    categories = [SimpleNamespace(category_name=n, score=scores.get(n, 0.01)) for n in names]
    turn = quat_to_matrix(axis_angle_quat([0.0, 1.0, 0.0], 0.4))
    matrix = np.eye(4)
    matrix[:3, :3] = 1.03 * turn  # the face's scale rides on the matrix
    matrix[:3, 3] = [1.0, 2.0, -40.0]
    result = SimpleNamespace(face_blendshapes=[categories], facial_transformation_matrixes=[matrix])
    face = face_from_result(result)
    assert face is not None
    assert face.blendshapes[ARKIT_INDEX["jawOpen"]] == pytest.approx(0.6)
    assert face.blendshapes[ARKIT_INDEX["eyeBlinkLeft"]] == pytest.approx(0.3)
    assert np.count_nonzero(np.isclose(face.blendshapes, 0.01)) == ARKIT_COUNT - 2
    assert face.rotation is not None and np.allclose(face.rotation, turn)
    empty = SimpleNamespace(face_blendshapes=[], facial_transformation_matrixes=[])
    assert face_from_result(empty) is None


# --- calibration, filter, gaze, loss ------------------------------------------------------------


@pytest.mark.pure
def test_calibrated_weights_rest_at_zero_and_still_reach_one() -> None:
    neutral = _weights(mouthSmileLeft=0.3, eyeSquintLeft=0.2)
    resting = calibrated(neutral, neutral)
    assert np.all(resting == 0.0)
    full = calibrated(np.ones(ARKIT_COUNT), neutral)
    assert np.allclose(full, 1.0)
    half = calibrated(_weights(mouthSmileLeft=0.65), neutral)
    assert half[ARKIT_INDEX["mouthSmileLeft"]] == pytest.approx(0.5)


def _feed(tracker: FaceTracker, start: float, frames: int, weights: np.ndarray) -> list[float]:
    out = []
    for k in range(frames):
        face = tracker.face(start + k / FPS, _raw(weights))
        assert face is not None
        out.append(face.weight("mouthSmileLeft"))
    return out


@pytest.mark.pure
def test_the_first_second_with_a_face_is_the_neutral() -> None:
    rng = np.random.default_rng(3)
    tracker = FaceTracker()
    resting = _weights(mouthSmileLeft=0.3, browInnerUp=0.15)
    t = 0.0
    for k in range(int(CALIBRATION_S * FPS) + 2):
        tracker.face(t + k / FPS, _raw(resting + rng.normal(0, 0.01, ARKIT_COUNT)))
    assert not tracker.calibrating
    assert np.allclose(tracker.neutral, resting, atol=0.01)
    settled = _feed(tracker, 2.0, 30, resting)
    assert settled[-1] < 0.01  # a resting face rests
    smiling = _feed(tracker, 3.0, 30, _weights(mouthSmileLeft=1.0, browInnerUp=0.15))
    assert smiling[-1] > 0.95


@pytest.mark.pure
def test_calibration_on_demand_replaces_the_neutral() -> None:
    tracker = FaceTracker()
    _feed(tracker, 0.0, 40, _weights(mouthSmileLeft=0.1))
    assert tracker.neutral[ARKIT_INDEX["mouthSmileLeft"]] == pytest.approx(0.1)
    tracker.calibrate(5.0)
    _feed(tracker, 4.0, 20, _weights(mouthSmileLeft=0.6))  # before the request: not taken
    assert tracker.calibrating
    _feed(tracker, 5.0, 40, _weights(mouthSmileLeft=0.4))
    assert not tracker.calibrating
    assert tracker.neutral[ARKIT_INDEX["mouthSmileLeft"]] == pytest.approx(0.4)


@pytest.mark.pure
def test_a_120_ms_blink_stays_crisp_and_rest_jitter_is_reduced() -> None:
    rng = np.random.default_rng(11)
    blink = ARKIT_INDEX["eyeBlinkLeft"]
    tracker = FaceTracker()
    # Calibrated on a still face, so rest is 0 and what follows is jitter about it.
    _feed(tracker, 0.0, 40, _weights(eyeBlinkLeft=0.1))
    raw, out = [], []
    for k in range(90):
        t = 2.0 + k / FPS
        w = 0.1 + rng.normal(0.0, 0.02)
        if 60 <= k < 64:  # 4 frames closed: 120 ms at 30 fps
            w = 1.0
        raw.append(calibrated(_weights(eyeBlinkLeft=float(np.clip(w, 0, 1))), tracker.neutral))
        face = tracker.face(t, _raw(_weights(eyeBlinkLeft=float(np.clip(w, 0, 1)))))
        assert face is not None
        out.append(face.weights[blink])
    raw_b = np.array([r[blink] for r in raw])
    out_b = np.array(out)
    assert out_b[60:64].max() >= 0.8 * raw_b[60:64].max()
    assert out_b[67:].max() < 0.3  # and opens again within 100 ms
    rest = slice(10, 58)
    assert np.std(np.diff(out_b[rest])) < 0.6 * np.std(np.diff(raw_b[rest]))


@pytest.mark.pure
def test_gaze_signs_follow_the_eyes() -> None:
    left = gaze_from_weights(_weights(eyeLookOutLeft=0.8, eyeLookInRight=0.8))
    right = gaze_from_weights(_weights(eyeLookInLeft=0.8, eyeLookOutRight=0.8))
    up = gaze_from_weights(_weights(eyeLookUpLeft=0.6, eyeLookUpRight=0.6))
    down = gaze_from_weights(_weights(eyeLookDownLeft=0.6, eyeLookDownRight=0.6))
    assert left[0] > 0.2 and abs(left[1]) < 1e-9  # the actor's (and avatar's) left is yaw +
    assert right[0] == pytest.approx(-left[0])
    assert up[1] > 0.1 and abs(up[0]) < 1e-9 and down[1] == pytest.approx(-up[1])
    assert np.all(gaze_from_weights(np.zeros(ARKIT_COUNT)) == 0.0)


@pytest.mark.pure
def test_a_lost_face_is_held_then_eased_to_neutral() -> None:
    pose = Pose.rest(hips_height=0.95)
    frame = LandmarkFrame.from_array(
        0.0, frame_from_avatar_points(0.0, tpose_avatar_points()).as_rows()
    )
    tracker = FaceTracker()
    assert tracker(pose, frame) is pose  # never a face: the pose is left as it is
    # Calibrated at rest, then a smile; then the face is lost.
    _feed(tracker, 0.0, 40, np.zeros(ARKIT_COUNT))
    _feed(tracker, 1.5, 30, _weights(mouthSmileLeft=1.0))
    lost_at = 2.5
    assert tracker.face(lost_at, None) is not None
    held = tracker.face(lost_at + HOLD_S * 0.9, None)
    eased = tracker.face(lost_at + HOLD_S + EASE_S / 2, None)
    gone = tracker.face(lost_at + HOLD_S + EASE_S + 0.1, None)
    assert held is not None and eased is not None and gone is not None
    assert held.weight("mouthSmileLeft") > 0.95 and held.confidence < 0.9
    assert 0.3 < eased.weight("mouthSmileLeft") < 0.7 and eased.confidence < held.confidence
    assert gone.weight("mouthSmileLeft") == 0.0 and gone.confidence == 0.0
    back = tracker(pose, frame_with_face(3.5, _weights(mouthSmileLeft=1.0)))
    assert back.face is not None and back.face.weight("mouthSmileLeft") > 0.95  # no lag back


def test_a_source_starting_again_starts_a_new_face() -> None:
    tracker = FaceTracker()
    _feed(tracker, 0.0, 40, np.zeros(ARKIT_COUNT))
    _feed(tracker, 1.5, 10, _weights(mouthSmileLeft=1.0))
    tracker.face(1.9, None)  # lost, then the clip loops back to its start
    again = tracker.face(0.1, None)
    assert again is None  # nothing held from the last pass, no confidence above 1
    first = tracker.face(0.2, _raw(np.zeros(ARKIT_COUNT)))
    assert first is not None and 0.0 <= first.confidence <= 1.0


def frame_with_face(t: float, weights: np.ndarray) -> LandmarkFrame:
    frame = frame_from_avatar_points(t, tpose_avatar_points())
    return LandmarkFrame(t, frame.xyz, frame.visibility, face=_raw(weights))


# --- real video ---------------------------------------------------------------------------------

DEMO_FRAMES = 100  # the demo clip's first seconds: a man walking toward the camera, face on


def test_faces_are_found_on_the_demo_clip(demo: Path, lite_bundle: Path) -> None:
    stream = pose_stream(VideoSource(demo), CaptureSettings())
    frames = list(itertools.islice(stream, DEMO_FRAMES))
    stream.close()
    bodies = [f for f in frames if f.landmarks is not None]
    faces = [f.landmarks.face for f in bodies if f.landmarks is not None and f.landmarks.face]
    assert len(bodies) > 0.9 * DEMO_FRAMES
    # Small and blurred (about 20 px across): measured 67% of these frames.
    assert len(faces) > 0.4 * len(bodies), f"{len(faces)} faces in {len(bodies)} bodies"
    weights = np.stack([f.blendshapes for f in faces])
    assert np.all(
        np.std(weights, axis=0)[[ARKIT_INDEX["eyeBlinkLeft"], ARKIT_INDEX["jawOpen"]]] > 0.005
    )
    for face in faces:
        assert face.rotation is not None
        assert np.allclose(face.rotation @ face.rotation.T, np.eye(3), atol=1e-6)
        # Walking toward the camera, face on: the head is turned less than 45° from it.
        assert math.degrees(math.acos(min(1.0, abs(face.rotation[2, 2])))) < 45.0
    poses = [f.pose for f in frames if f.pose is not None and f.pose.face is not None]
    assert len(poses) >= len(faces)  # every face reaches the pose, and a lost one is held
    assert all(0.0 <= p.face.confidence <= 1.0 for p in poses if p.face is not None)
    timings = [f.timings["face"] for f in bodies]
    assert all(ms > 0.0 for ms in timings)


def test_no_face_is_asked_for_when_turned_off(demo: Path, lite_bundle: Path) -> None:
    stream = pose_stream(VideoSource(demo), CaptureSettings(face=False))
    frames = list(itertools.islice(stream, 20))
    stream.close()
    assert any(f.landmarks is not None for f in frames)
    assert all(f.landmarks is None or f.landmarks.face is None for f in frames)
    assert all(f.pose is None or f.pose.face is None for f in frames)


# --- a face take on the stage ----------------------------------------------------------------------


def _landmarks_file(path: Path) -> Path:
    """A still body whose face rests for a second and a half (the neutral: a slight smile and
    squint, as real resting faces read), then blinks, then opens its jaw."""
    resting = {"mouthSmileLeft": 0.25, "mouthSmileRight": 0.2, "eyeSquintLeft": 0.15}
    lines = [json.dumps({"fps": FPS})]
    for k in range(75):
        t = k / FPS
        named = dict(resting)
        if 50 <= k < 54:
            named.update(eyeBlinkLeft=0.95, eyeBlinkRight=0.95)
        if k >= 64:
            named.update(jawOpen=0.9)
        frame = frame_from_avatar_points(t, tpose_avatar_points())
        record = {"t": t, **frame.to_json(), "faceBlendshapes": named}
        lines.append(json.dumps(record))
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_face_take_drives_the_blink_and_the_jaw(tmp_path: Path) -> None:
    from capture.skeleton import Bone
    from immersion.catalogue import avatars_dir, shipped_packs
    from immersion.scenes.manifest import load_pack
    from immersion.stage.avatar_actor import AvatarActor
    from immersion.stage.stage import Stage
    from tests.test_face_stage import _eyes_then_mouth, _frames

    source = LandmarksFileSource(_landmarks_file(tmp_path / "face.jsonl"), None)
    poses = [f.pose for f in pose_stream(source, CaptureSettings())]
    assert all(p is not None and p.face is not None for p in poses)
    faces = [p.face for p in poses if p is not None and p.face is not None]
    neutral, blink, jaw = faces[48], faces[52], faces[74]
    assert max(neutral.weights) < 0.05  # the resting face rests
    assert blink.weight("eyeBlinkLeft") > 0.8 and jaw.weight("jawOpen") > 0.8
    stage = Stage.open(load_pack(shipped_packs()[0]), None, width=320, height=240)
    avatar = sorted(avatars_dir().glob("*.vrm"))[0]
    actor = AvatarActor.load(avatar)
    picked = [poses[48], poses[52], poses[74]]
    _eyes_then_mouth(avatar.name, *_frames(stage, actor, [p for p in picked if p], Bone.HEAD))
