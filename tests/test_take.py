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
from capture.pose import Pose
from capture.retarget import retarget
from capture.synthetic import frame_from_avatar_points, tpose_avatar_points
from capture.take import TakeWriter, read_take
from tests.support import ROOT


def _pose(t: float) -> Pose:
    return retarget(frame_from_avatar_points(t, tpose_avatar_points()))


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


def test_never_overwrites(tmp_path: Path) -> None:
    path = tmp_path / "take.jsonl"
    path.write_text("precious\n")
    with pytest.raises(TakeFormatError, match="already exists"):
        TakeWriter(path, {})
    assert path.read_text() == "precious\n"


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
