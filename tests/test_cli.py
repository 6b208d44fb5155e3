"""The command line as a user meets it: help, and one clear line for every bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.support import run_cli


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["capture", "--help"],
        ["models", "--help"],
        ["models", "build", "--help"],
        ["models", "verify", "--help"],
    ],
)
def test_help(args: list[str]) -> None:
    done = run_cli(*args)
    assert done.returncode == 0 and "usage: immersion" in done.stdout


def _bad(*args: str) -> str:
    done = run_cli(*args)
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    lines = [ln for ln in done.stderr.splitlines() if ln.startswith("immersion: error:")]
    assert len(lines) == 1, done.stderr
    return lines[0]


def test_missing_video(tmp_path: Path) -> None:
    assert "nope.mp4: no such video file" in _bad("capture", str(tmp_path / "nope.mp4"))


def test_corrupt_video(tmp_path: Path) -> None:
    bad = tmp_path / "corrupt.mp4"
    bad.write_bytes(np.random.default_rng(0).bytes(20000))
    assert "corrupt.mp4" in _bad("capture", str(bad))


def test_camera_that_is_not_there() -> None:
    assert "camera 57: not found" in _bad("capture", "57")


def test_landmarks_of_the_wrong_shape(tmp_path: Path) -> None:
    np.save(tmp_path / "wrong.npy", np.zeros((10, 17, 3)))
    msg = _bad("capture", str(tmp_path / "wrong.npy"), "--fps", "30")
    assert "wrong.npy" in msg and "(10, 17, 3)" in msg


def test_npy_needs_fps(tmp_path: Path) -> None:
    np.save(tmp_path / "lm.npy", np.zeros((3, 33, 3)))
    assert "give --fps" in _bad("capture", str(tmp_path / "lm.npy"))


def test_corrupt_landmarks_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"source": "x"}\n{"t": 0, "worldLandmarks": [[1, 2]]}\n{"t": 0.1}\n')
    msg = _bad("capture", str(bad))
    assert "bad.jsonl:2" in msg and "worldLandmarks" in msg


def test_existing_take_is_not_overwritten(tmp_path: Path) -> None:
    out = tmp_path / "take.jsonl"
    out.write_text("keep")
    np.save(tmp_path / "lm.npy", np.zeros((3, 33, 3)))
    assert "already exists" in _bad(
        "capture", str(tmp_path / "lm.npy"), "--fps", "30", "--out", str(out)
    )
    assert out.read_text() == "keep"


def test_missing_model_names_the_fix(tmp_path: Path, demo: Path) -> None:
    import os
    import subprocess
    import sys

    from tests.support import ROOT

    done = subprocess.run(
        [sys.executable, "-m", "immersion", "capture", str(demo)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "IMMERSION_CACHE": str(tmp_path)},
    )
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "pose_landmarker_lite.task not found; run `./dev setup`" in done.stderr


def test_bad_option_values() -> None:
    done = run_cli("capture", "--fps", "-3")
    assert (
        done.returncode == 2
        and "must be positive" in done.stderr
        and "Traceback" not in done.stderr
    )
