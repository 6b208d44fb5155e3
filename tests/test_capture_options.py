"""The capture options (model, smoothing) mean the same on `capture`, `render` and `serve`."""

from __future__ import annotations

import argparse
import json
from collections.abc import Generator
from pathlib import Path

import numpy as np
import pytest

import capture.pipeline
from capture.landmarks import LandmarkFrame
from capture.pipeline import CapturedFrame, CaptureSettings
from capture.retarget import retarget
from capture.sources import Source
from capture.synthetic import frame_from_avatar_points, tpose_avatar_points
from immersion.capture_cmd import capture_settings
from immersion.cli import _parser

pytestmark = pytest.mark.pure

# Arguments each command needs besides the capture options.
COMMANDS = {
    "capture": ["capture", "clip.mp4"],
    "render": ["render", "--out", "out.png"],
    "serve": ["serve"],
}
GIVEN = ["--model", "full", "--no-smoothing", "--min-cutoff", "2.5", "--beta", "0.5", "--no-face"]


@pytest.mark.parametrize("command", list(COMMANDS))
def test_every_command_reads_the_same_capture_options(command: str) -> None:
    args = _parser().parse_args([*COMMANDS[command], *GIVEN])
    assert capture_settings(args) == CaptureSettings(
        model="full", smoothing=False, min_cutoff=2.5, beta=0.5, face=False
    )
    assert capture_settings(_parser().parse_args(COMMANDS[command])) == CaptureSettings()


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "0", "x"])
def test_a_cutoff_that_is_not_a_positive_finite_number_is_refused(
    value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        _parser().parse_args([*COMMANDS["capture"], "--min-cutoff", value])
    assert "--min-cutoff" in capsys.readouterr().err


def _jittery_landmarks(path: Path, frames: int = 20) -> Path:
    rng = np.random.default_rng(7)
    lines = []
    for k in range(frames):
        points = tpose_avatar_points() + rng.normal(0.0, 0.01, size=(33, 3))
        rows = frame_from_avatar_points(k / 30, points).as_rows()
        lines.append(json.dumps({"t": k / 30, "worldLandmarks": rows}))
    path.write_text("\n".join(lines) + "\n")
    return path


def _render_args(tmp_path: Path, *options: str) -> argparse.Namespace:
    source = _jittery_landmarks(tmp_path / "lm.jsonl")
    return _parser().parse_args(
        ["render", "--source", str(source), "--out", str(tmp_path / "o.png"), "--quiet", *options]
    )


def test_render_source_captures_with_the_given_options(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from immersion.render_cmd import _performance

    seen: list[CaptureSettings | None] = []
    real = capture.pipeline.pose_stream

    def spy(
        source: Source, settings: CaptureSettings | None = None
    ) -> Generator[CapturedFrame, None, None]:
        seen.append(settings)
        return real(source, settings)

    monkeypatch.setattr(capture.pipeline, "pose_stream", spy)
    _performance(_render_args(tmp_path, *GIVEN))
    assert seen == [
        CaptureSettings(model="full", smoothing=False, min_cutoff=2.5, beta=0.5, face=False)
    ]


def test_render_source_without_smoothing_follows_the_raw_landmarks(tmp_path: Path) -> None:
    from immersion.render_cmd import _performance

    raw = _performance(_render_args(tmp_path, "--no-smoothing"))
    (tmp_path / "lm.jsonl").unlink()
    smooth = _performance(_render_args(tmp_path))
    frames = [json.loads(line) for line in (tmp_path / "lm.jsonl").read_text().splitlines()]
    previous = None
    for pose, frame in zip(raw.poses, frames, strict=True):
        expected = retarget(
            LandmarkFrame.from_array(frame["t"], frame["worldLandmarks"]), fallback=previous
        )
        np.testing.assert_array_equal(pose.rotations, expected.rotations)
        previous = expected
    # The control: smoothing on changes the poses, so the comparison above can fail.
    assert not np.allclose(raw.poses[-1].rotations, smooth.poses[-1].rotations, atol=1e-3)
