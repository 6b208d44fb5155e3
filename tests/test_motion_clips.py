"""DeepMimic motion clips and the humanoid's URDF, read for the accuracy tests and benchmarks:
malformed files are one TakeFormatError line, never a traceback or NaN truth."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from capture.errors import TakeFormatError
from capture.synthetic import Humanoid, MotionClip

pytestmark = pytest.mark.pure

FRAME = [0.0333] + [0.0] * 3 + [1.0, 0.0, 0.0, 0.0] * 2 + [0.0] * 32  # 44 values
assert len(FRAME) == 44

BAD_CLIPS = {
    "not JSON": "{Frames",
    "a list": "[1, 2]",
    "no Frames": '{"Loop": "wrap"}',
    "Frames a string": '{"Frames": "abc"}',
    "ragged": json.dumps({"Frames": [FRAME, FRAME[:10]]}),
    "strings": json.dumps({"Frames": [["x"] * 44]}),
    "NaN": json.dumps({"Frames": [[float("nan"), *FRAME[1:]]]}),
    "infinite": json.dumps({"Frames": [[*FRAME[:5], 1e999, *FRAME[6:]]]}),
    "huge integer": json.dumps({"Frames": [[10**400, *FRAME[1:]]]}),
    "negative duration": json.dumps({"Frames": [[-1.0, *FRAME[1:]]]}),
    "no frames": json.dumps({"Frames": []}),
    "deep": '{"Frames": ' + "[" * 5000 + "]" * 5000 + "}",
    "not UTF-8": b"\xff\xfe\x00{".decode("latin-1"),
}


@pytest.mark.parametrize("case", list(BAD_CLIPS), ids=list(BAD_CLIPS))
def test_a_malformed_motion_clip_is_refused(tmp_path: Path, case: str) -> None:
    path = tmp_path / "clip.txt"
    path.write_text(BAD_CLIPS[case], encoding="latin-1" if case == "not UTF-8" else "utf-8")
    with pytest.raises(TakeFormatError) as caught:
        MotionClip.load(path)
    assert str(caught.value).startswith(f"{path}: ") and "\n" not in str(caught.value)


def test_a_valid_motion_clip_reads(tmp_path: Path) -> None:
    path = tmp_path / "clip.txt"
    path.write_text(json.dumps({"Loop": "wrap", "Frames": [FRAME, FRAME, FRAME]}))
    clip = MotionClip.load(path)
    assert clip.times.tolist() == pytest.approx([0.0, 0.0333, 0.0666])


@pytest.mark.parametrize("xyz", ["a b c", "0 0", "1e999 0 0", "nan 0 0", "0 0 0 0"])
def test_a_urdf_joint_without_a_proper_origin_is_refused(tmp_path: Path, xyz: str) -> None:
    path = tmp_path / "humanoid.urdf"
    path.write_text(f'<robot><joint name="chest"><origin xyz="{xyz}"/></joint></robot>')
    with pytest.raises(TakeFormatError, match=r"joint 'chest' needs an origin xyz of 3 finite"):
        Humanoid.load(path)


def test_a_missing_urdf_is_one_error(tmp_path: Path) -> None:
    with pytest.raises(TakeFormatError, match=r"humanoid.urdf: cannot read"):
        Humanoid.load(tmp_path / "humanoid.urdf")
