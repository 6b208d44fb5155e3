"""`immersion render` with a take's voice: the MP4 gets the voice as AAC on the video's clock,
and a take whose header points its voice outside its folder is refused."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from capture.pose import Pose
from capture.take import TakeWriter
from capture.voice import VoiceWriter
from capture.voice_media import levels
from tests.support import run_cli
from tests.voice_helpers import tone_packets

SINE_DB = 20 * math.log10(0.25 / math.sqrt(2))


def _take(folder: Path, voice: str, frames: int = 16, fps: float = 10.0) -> Path:
    take = folder / "take.jsonl"
    with TakeWriter(take, {"fps": fps, "voice": voice}) as w:
        for k in range(frames):
            w.write(k / fps, Pose.rest(hips_height=0.9 + 0.01 * k))
    return take


def _render(take: Path, out: Path) -> tuple[int, str]:
    result = run_cli(
        "render", "--take", str(take), "--out", str(out), "--size", "160x90", "--quiet"
    )
    return result.returncode, result.stderr


def test_render_muxes_the_takes_voice_on_the_videos_clock(tmp_path: Path) -> None:
    import av

    take = _take(tmp_path, "take.opus")
    # The actor's sound starts 0.4 s into the take and outlasts it.
    with VoiceWriter(tmp_path / "take.opus", origin=100.0) as voice:
        for k, packet in enumerate(tone_packets(2.0)):
            voice.write(100.4 + 0.02 * k, packet)
    out = tmp_path / "take.mp4"
    code, stderr = _render(take, out)
    assert code == 0, stderr
    with av.open(str(out)) as container:
        video, audio = container.streams.video[0], container.streams.audio[0]
        assert audio.codec_context.name == "aac" and audio.rate == 48_000
        assert video.duration and video.time_base and audio.duration and audio.time_base
        video_s = float(video.duration * video.time_base)
        audio_s = float(audio.duration * audio.time_base)
        samples = np.concatenate([f.to_ndarray()[0] for f in container.decode(audio=0)])
    assert video_s == pytest.approx(1.6, abs=0.01)  # 16 frames at 10 fps: the take
    assert audio_s == pytest.approx(video_s, abs=0.1)
    envelope = levels(samples.astype(np.float32))
    assert envelope.at(0.2) < -60  # silence before the actor's first packet
    assert np.argmax(np.abs(samples) > 0.05) / 48_000 == pytest.approx(0.4, abs=0.005)
    assert envelope.at(1.0) == pytest.approx(SINE_DB, abs=1.5)


def test_render_refuses_a_voice_outside_the_takes_folder(tmp_path: Path) -> None:
    take = _take(tmp_path, "../x.opus", frames=2)
    code, stderr = _render(take, tmp_path / "x.mp4")
    lines = stderr.strip().splitlines()
    assert code == 1 and len(lines) == 1, stderr
    assert f"{take}:1: 'voice'" in lines[0] and "'../x.opus'" in lines[0]
    assert not (tmp_path / "x.mp4").exists()
    # A header with a voice the disk does not hold: one line too.
    take.unlink()
    take = _take(tmp_path, "gone.opus", frames=2)
    code, stderr = _render(take, tmp_path / "y.mp4")
    assert code == 1 and len(stderr.strip().splitlines()) == 1 and "gone.opus" in stderr
    assert json.loads(take.read_text().splitlines()[0])["voice"] == "gone.opus"
