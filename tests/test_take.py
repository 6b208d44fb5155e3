"""Take files: round trip, append-only, readable after a kill."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from capture.errors import TakeFormatError
from capture.face import ARKIT, Face
from capture.pose import Pose
from capture.retarget import retarget
from capture.rotations import axis_angle_quat
from capture.skeleton import FINGER_BONES, Bone
from capture.synthetic import frame_from_avatar_points, tpose_avatar_points
from capture.take import TakeWriter, read_take
from tests.support import ROOT


def _pose(t: float) -> Pose:
    return retarget(frame_from_avatar_points(t, tpose_avatar_points()))


@pytest.mark.pure
def test_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "take.jsonl"
    with TakeWriter(path, {"source": "test", "model": "lite", "fps": 30.0}) as w:
        w.write(0.0, _pose(0.0), frame_from_avatar_points(0.0, tpose_avatar_points()))
        w.write(0.033, None)
        w.write(0.067, _pose(0.067))
    take = read_take(path)
    assert take.header["bones"][0] == "hips" and take.header["fps"] == 30.0
    assert [p is None for p in take.poses] == [False, True, False]
    first = take.poses[0]
    assert first is not None
    np.testing.assert_allclose(first.rotations, _pose(0.0).rotations, atol=1e-6)
    assert json.loads(path.read_text().splitlines()[1])["worldLandmarks"][0][3] == 1.0


@pytest.mark.pure
def test_never_overwrites(tmp_path: Path) -> None:
    path = tmp_path / "take.jsonl"
    path.write_text("precious\n")
    with pytest.raises(TakeFormatError, match="already exists"):
        TakeWriter(path, {})
    assert path.read_text() == "precious\n"


@pytest.mark.pure
def test_torn_last_line_is_tolerated_but_a_bad_middle_line_is_not(tmp_path: Path) -> None:
    path = tmp_path / "take.jsonl"
    with TakeWriter(path, {}) as w:
        for i in range(3):
            w.write(i / 30, _pose(i / 30))
    text = path.read_text()
    path.write_text(text + text.splitlines()[-1][:40])  # killed mid-write
    take = read_take(path)
    assert len(take.poses) == 3 and take.torn_tail
    lines = text.splitlines()
    lines[2] = "{broken"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(TakeFormatError, match=r"take.jsonl:3: not valid JSON"):
        read_take(path)


def test_a_killed_capture_leaves_a_readable_take(tmp_path: Path, demo: Path) -> None:
    path = tmp_path / "killed.jsonl"
    proc = subprocess.Popen(
        [sys.executable, "-m", "immersion", "capture", str(demo), "--out", str(path), "--quiet"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().count("\n") > 20:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    take = read_take(path)
    assert 20 <= len(take.poses) < 230
    assert sum(p is not None for p in take.poses) >= 15


# --- Malformed takes: one TakeFormatError line naming file:line and the field --------------


def _valid_take(path: Path) -> list[str]:
    """A take's lines: header, pose (with landmarks, a face and a finger), no pose, event, pose."""
    with TakeWriter(path, {"source": "test", "model": "lite", "fps": 30.0}) as w:
        w.write(0.0, _performed(0.0), frame_from_avatar_points(0.0, tpose_avatar_points()))
        w.write(0.033, None)
        w.write_event(0.04, "note", text="louder")
        w.write(0.067, _pose(0.067))
    return path.read_text().splitlines()


def _edit(path: Path, line: int, edit: dict[str, object]) -> None:
    """Set fields of the object on ``line`` (1-based), written as json.dumps does (NaN and
    Infinity as bare words, as Python's json reads them)."""
    lines = path.read_text().splitlines()
    obj = json.loads(lines[line - 1])
    for key, value in edit.items():
        target, name = obj, key
        while "." in name:
            head, name = name.split(".", 1)
            target = target[head]
        target[name] = value
    lines[line - 1] = json.dumps(obj)
    path.write_text("\n".join(lines) + "\n")


NAN, INF = float("nan"), float("inf")
BAD_TAKES = {
    # line, field, new values
    "fps negative": (1, "fps", -30),
    "fps zero": (1, "fps", 0),
    "fps string": (1, "fps", "30"),
    "fps NaN": (1, "fps", NAN),
    "fps absurd": (1, "fps", 1e300),
    "fps true": (1, "fps", True),
    "fps list": (1, "fps", [30]),
    "version true": (1, "version", True),
    "t NaN": (2, "t", NAN),
    "t infinite": (2, "t", INF),
    "t string": (2, "t", "0.0"),
    "t absurdly negative": (2, "t", -1e7),
    "t absurd": (2, "t", 1e12),
    "t of a no-pose frame NaN": (3, "t", NAN),
    "t goes back": (5, "t", 0.01),
    "confidence NaN": (2, "confidence.hips", NAN),
    "confidence negative": (2, "confidence.leftUpperArm", -0.2),
    "confidence above 1": (2, "confidence.head", 1.5),
    "confidence string": (2, "confidence.head", "high"),
    "confidence unknown bone": (2, "confidence.tail", 0.5),
    "hips infinite": (2, "hips", [INF, 0.9, 0.0]),
    "hips NaN": (2, "hips", [0.0, NAN, 0.0]),
    "hips absurd": (2, "hips", [0.0, 1e9, 0.0]),
    "hips two numbers": (2, "hips", [0.0, 0.9]),
    "hips strings": (2, "hips", ["0", "0.9", "0"]),
    "hips nested": (2, "hips", [[0.0], [0.9], [0.0]]),
    "bone NaN": (2, "bones.head", [0.0, 0.0, 0.0, NAN]),
    "bone zero": (2, "bones.head", [0.0, 0.0, 0.0, 0.0]),
    "bone huge": (2, "bones.head", [1e300, 1e300, 0.0, 0.0]),
    "bone long": (2, "bones.head", [0.0, 0.0, 0.0, 1.0, 0.0]),
    "bone unknown": (2, "bones.tail", [0.0, 0.0, 0.0, 1.0]),
    "bones a list": (2, "bones", [[0.0, 0.0, 0.0, 1.0]]),
    "finger bone NaN": (2, "bones.leftIndexProximal", [0.0, 0.0, NAN, 1.0]),
    "finger confidence above 1": (2, "confidence.rightThumbDistal", 2.0),
    "face a list": (2, "face", [0.5]),
    "face weight above 1": (2, "face.jawOpen", 1.2),
    "face weight negative": (2, "face.eyeBlinkLeft", -0.1),
    "face weight string": (2, "face.eyeBlinkLeft", "shut"),
    "face weight NaN": (2, "face.mouthSmileLeft", NAN),
    "face unknown name": (2, "face.eyeBlink_L", 0.5),
    "gaze one number": (2, "gaze", [0.1]),
    "gaze beyond the eyes' reach": (2, "gaze", [2.0, 0.0]),
    "gaze NaN": (2, "gaze", [NAN, 0.0]),
    "face confidence above 1": (2, "faceConfidence", 1.5),
    "face confidence true": (2, "faceConfidence", True),
    "gaze without a face": (5, "gaze", [0.0, 0.0]),
    "event NaN time": (4, "t", NAN),
    "event not a string": (4, "event", 5),
}


def _performed(t: float) -> Pose:
    """A body pose with a face and a curled finger."""
    pose = _pose(t)
    rotations = pose.rotations.copy()
    rotations[Bone.LEFT_INDEX_PROXIMAL] = axis_angle_quat([0, 0, 1], -1.2)
    confidence = pose.confidence.copy()
    confidence[Bone.LEFT_INDEX_PROXIMAL] = 0.8
    face = Face.from_named({"jawOpen": 0.5, "eyeBlinkLeft": 1.0}, (0.2, -0.1), 0.9)
    return Pose(t, pose.hips, rotations, confidence, face)


@pytest.mark.pure
def test_faces_and_fingers_round_trip_and_untracked_fingers_cost_nothing(tmp_path: Path) -> None:
    path = tmp_path / "take.jsonl"
    with TakeWriter(path, {"fps": 30.0}) as w:
        w.write(0.0, _performed(0.0))
        w.write(0.033, _pose(0.033))
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert lines[0]["version"] == 2 and lines[0]["bones"][-1] == "rightLittleDistal"
    assert len(lines[1]["face"]) == len(ARKIT) and lines[1]["gaze"] == [0.2, -0.1]
    assert "face" not in lines[2]
    fingers = {b.vrm_name for b in FINGER_BONES}
    assert set(lines[1]["bones"]) & fingers == {"leftIndexProximal"}
    assert not set(lines[2]["bones"]) & fingers  # at rest, confidence 0: left out
    take = read_take(path)
    first, second = take.poses
    assert first is not None and first.face is not None and second is not None
    expected = _performed(0.0)
    assert expected.face is not None
    np.testing.assert_allclose(first.rotations, expected.rotations, atol=1e-6)
    np.testing.assert_allclose(first.confidence, expected.confidence, atol=1e-3)
    np.testing.assert_allclose(first.face.weights, expected.face.weights)
    np.testing.assert_allclose(first.face.gaze, expected.face.gaze)
    assert first.face.confidence == 0.9 and first.face.weight("jawOpen") == 0.5
    assert second.face is None
    np.testing.assert_allclose(second.rotations, _pose(0.033).rotations, atol=1e-6)


@pytest.mark.pure
def test_version_1_takes_still_read_but_carry_no_face(tmp_path: Path) -> None:
    path = tmp_path / "take.jsonl"
    _valid_take(path)
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    lines[0]["version"] = 1
    for line in lines[1:]:
        for key in ("face", "gaze", "faceConfidence"):
            line.pop(key, None)
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    take = read_take(path)
    assert len(take.poses) == 3 and all(p is None or p.face is None for p in take.poses)
    _edit(path, 2, {"face": {"jawOpen": 0.5}})
    with pytest.raises(TakeFormatError, match=r"take.jsonl:2: 'face' needs a version-2 take"):
        read_take(path)
    _edit(path, 1, {"version": 3})
    with pytest.raises(TakeFormatError, match=r"'version' 3 unsupported \(this reads 1 and 2\)"):
        read_take(path)


@pytest.mark.parametrize("case", list(BAD_TAKES), ids=list(BAD_TAKES))
@pytest.mark.pure
def test_a_malformed_take_is_refused_naming_line_and_field(tmp_path: Path, case: str) -> None:
    line, field, value = BAD_TAKES[case]
    path = tmp_path / "take.jsonl"
    _valid_take(path)
    _edit(path, line, {field: value})
    with pytest.raises(TakeFormatError) as caught:
        read_take(path)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{path}:{line}: ")
    assert repr(field.split(".")[0]) in message or repr(field) in message


@pytest.mark.pure
def test_fields_that_hold_a_huge_integer_are_refused_not_overflowed(tmp_path: Path) -> None:
    path = tmp_path / "take.jsonl"
    lines = _valid_take(path)
    path.write_text(
        "\n".join(
            [
                lines[0],
                lines[1]
                .replace('"hips":[', '"hips":[' + "9" * 400 + ",", 1)
                .replace(",0.0,", ",", 1),
                *lines[2:],
            ]
        )
        + "\n"
    )
    with pytest.raises(TakeFormatError, match=r"take.jsonl:2: 'hips'"):
        read_take(path)
    _valid_take(other := tmp_path / "other.jsonl")
    _edit(other, 2, {"t": 10**400})
    with pytest.raises(
        TakeFormatError, match=r"other.jsonl:2: 't' must be a number in .* got a huge integer"
    ):
        read_take(other)


@pytest.mark.parametrize("depth", [20, 1000, 100_000])
@pytest.mark.pure
def test_deeply_nested_json_is_one_error_naming_the_line(tmp_path: Path, depth: int) -> None:
    path = tmp_path / "take.jsonl"
    lines = _valid_take(path)
    deep = '{"t": 0.05, "pose": null, "extra": ' + "[" * depth + "]" * depth + "}"
    path.write_text("\n".join([*lines[:3], deep, *lines[3:]]) + "\n")
    with pytest.raises(TakeFormatError, match=rf"^{path}:4: nested deeper than 16 levels$"):
        read_take(path)
    path.unlink()
    path.write_text('{"a":' * depth + "1" + "}" * depth + "\n")  # the whole file, no header
    with pytest.raises(TakeFormatError, match=rf"^{path}:1: nested deeper than 16 levels$"):
        read_take(path)


@pytest.mark.pure
def test_a_second_header_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "take.jsonl"
    lines = _valid_take(path)
    path.write_text("\n".join([lines[0], lines[0], *lines[1:]]) + "\n")
    with pytest.raises(TakeFormatError, match=r"take.jsonl:2: frame has no 't'"):
        read_take(path)


@pytest.mark.pure
def test_consumers_get_a_checked_fps(tmp_path: Path) -> None:
    path = tmp_path / "take.jsonl"
    _valid_take(path)
    assert read_take(path).fps == 30.0
    _edit(path, 1, {"fps": 25})
    assert read_take(path).fps == 25.0 and isinstance(read_take(path).fps, float)
    _edit(path, 1, {"fps": None})
    assert read_take(path).fps is None  # the consumer's default applies


@pytest.mark.pure
def test_a_valid_take_still_reads_with_its_equal_times_and_early_event(tmp_path: Path) -> None:
    path = tmp_path / "take.jsonl"
    _valid_take(path)
    _edit(path, 3, {"t": 0.0})  # the same time as the frame before: allowed
    _edit(path, 2, {"t": -0.0004})  # stamped just before the take started, as the room can
    _edit(path, 4, {"t": -0.0004})  # a note taken as the take started
    take = read_take(path)
    assert len(take.poses) == 3 and take.events[0]["text"] == "louder"


@pytest.mark.pure
def test_the_writer_refuses_an_fps_the_reader_would_refuse(tmp_path: Path) -> None:
    path = tmp_path / "take.jsonl"
    with pytest.raises(TakeFormatError, match=r"header: 'fps' must be a number"):
        TakeWriter(path, {"fps": float("nan")})
    assert not path.exists()
