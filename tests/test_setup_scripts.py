"""The set-up's promises, checked without running it: Monado's source and MediaPipe Tasks for
Web are checked against their pinned hashes and a wrong file is refused in one line that says
what to do; the actor page tests' fake webcam and microphone are what chromium takes; tests write
what the program writes at run time to a fresh folder, not into the set-up's cache."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import wave
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from capture.cache import cache_dir, state_dir
from tests.support import ROOT, need


def _script(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", *args], capture_output=True, text=True, timeout=60, cwd=ROOT, check=False
    )


def test_monado_source_with_the_wrong_hash_is_refused_in_one_line(tmp_path: Path) -> None:
    fake = tmp_path / "monado_25.0.0+dfsg.orig.tar.xz"
    fake.write_bytes(b"not monado")
    done = _script("scripts/build_monado.sh", "--verify", str(fake))
    assert done.returncode == 1
    (line,) = done.stderr.splitlines()
    assert line.startswith(f"setup: error: {fake}: SHA-256 ")
    assert "delete it and run the set-up again" in line


def test_the_cached_monado_source_matches_its_pin() -> None:
    script = (ROOT / "scripts" / "build_monado.sh").read_text()
    version = re.search(r"^VERSION=(\S+)$", script, re.MULTILINE)
    assert version
    tarball = need(cache_dir() / "downloads" / f"monado_{version[1]}+dfsg.orig.tar.xz")
    done = _script("scripts/build_monado.sh", "--verify", str(tarball))
    assert done.returncode == 0, done.stderr


def test_setup_refuses_an_unknown_purpose_before_installing_anything() -> None:
    done = _script("scripts/setup.sh", "deploy")
    assert done.returncode == 2
    assert done.stderr.strip() == "usage: scripts/setup.sh [run|test]"


SUMS = ROOT / "scripts" / "tasks-vision.sha256"


def _verify_files(folder: Path, sums: Path) -> subprocess.CompletedProcess[str]:
    return _script(
        "-c", 'source scripts/lib.sh && verify_files "$0" "$1" tasks-vision', str(folder), str(sums)
    )


def test_the_cached_tasks_vision_is_the_pinned_version_with_the_pinned_files(
    tasks_vision: Path,
) -> None:
    script = (ROOT / "scripts" / "setup.sh").read_text()
    pin = re.search(r"^TASKS_VISION=@mediapipe/tasks-vision@(\S+)$", script, re.MULTILINE)
    assert pin and pin[1] == "0.10.21"  # 1.1.0 sends usage logs out: a change is a decision
    package = json.loads((tasks_vision / "package.json").read_text())
    assert (package["name"], package["version"]) == ("@mediapipe/tasks-vision", pin[1])
    pinned = {line.split()[1] for line in SUMS.read_text().splitlines()}
    assert {"vision_bundle.mjs", "vision_bundle.cjs"} | {
        f"wasm/{p.name}" for p in (tasks_vision / "wasm").iterdir()
    } == pinned
    done = _verify_files(tasks_vision, SUMS)
    assert done.returncode == 0, done.stderr


def test_a_changed_or_missing_tasks_vision_file_is_refused_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "wasm").mkdir()
    (tmp_path / "vision_bundle.mjs").write_bytes(b"export {};\n")
    sums = tmp_path / "sums"
    bundle = hashlib.sha256(b"export {};\n").hexdigest()
    sums.write_text(
        f"{bundle}  vision_bundle.mjs\n{hashlib.sha256(b'wasm').hexdigest()}  wasm/x.wasm\n"
    )
    for content, problem in (
        (None, "wasm/x.wasm: missing: "),
        (b"altered", "wasm/x.wasm: SHA-256 "),
    ):
        if content:
            (tmp_path / "wasm" / "x.wasm").write_bytes(content)
        done = _verify_files(tmp_path, sums)
        assert done.returncode == 1
        (line,) = done.stderr.splitlines()
        assert line.startswith(f"setup: error: {tmp_path}/")
        assert problem in line and f"delete {tmp_path} and run the set-up again" in line


def _y4m_lumas(path: Path) -> tuple[int, Callable[[int], np.ndarray]]:
    """A fake webcam's frame count and its frames' luma, after checking it is what chromium
    takes: 640x480 at 30 fps, progressive 4:2:0, whole raw frames."""
    with path.open("rb") as f:
        header = f.readline().decode("ascii").split()
        start = f.tell()
    tags = {t[0]: t[1:] for t in header[1:]}
    assert header[0] == "YUV4MPEG2"
    assert (tags["W"], tags["H"], tags["F"], tags.get("I", "p")) == ("640", "480", "30:1", "p")
    assert tags.get("C", "420") in {"420", "420jpeg", "420mpeg2", "420paldv"}
    frame = 640 * 480 * 3 // 2
    count, rest = divmod(path.stat().st_size - start, len(b"FRAME\n") + frame)
    assert rest == 0

    def luma(k: int) -> np.ndarray:
        with path.open("rb") as f:
            f.seek(start + k * (len(b"FRAME\n") + frame))
            assert f.read(6) == b"FRAME\n"
            return np.frombuffer(f.read(640 * 480), np.uint8).reshape(480, 640)

    return count, luma


@pytest.mark.fixtures
def test_the_fake_webcam_is_a_y4m_chromium_takes(actor_video: Path) -> None:
    """640x480 at 30 fps, 4:2:0, about 10 s of frames, and a person in them (not a blank)."""
    count, luma = _y4m_lumas(actor_video)
    assert 9 * 30 <= count <= 11 * 30
    middle = luma(count // 2)
    assert middle[:, :100].max() <= 20 and middle[:, 200:440].std() > 30  # between black bars


@pytest.mark.fixtures
def test_the_face_webcam_is_a_short_loop_with_no_jump(actor_face_video: Path) -> None:
    """A few seconds, a picture (not a blank), played forward then back: chromium's loop
    goes from the last frame to the first, which are the second's neighbours."""
    count, luma = _y4m_lumas(actor_face_video)
    assert 3 * 30 <= count <= 8 * 30 and count % 2 == 0
    assert luma(count // 3).std() > 30
    assert np.array_equal(luma(1), luma(count - 1)) and not np.array_equal(luma(0), luma(1))


@pytest.mark.fixtures
def test_the_fake_microphone_is_48khz_mono_speech_with_pauses(actor_voice: Path) -> None:
    with wave.open(str(actor_voice)) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (48000, 1, 2)
        samples = np.frombuffer(w.readframes(w.getnframes()), "<i2") / 32768
    assert 8 <= len(samples) / 48000 <= 12
    windows = samples[: len(samples) // 4800 * 4800].reshape(-1, 4800)  # 100 ms each
    level = np.sqrt((windows**2).mean(axis=1))
    assert (level > 0.05).mean() > 0.4  # speaking most of the time
    quiet = level < 0.001
    gaps = np.flatnonzero(np.diff(quiet.astype(int)) == 1)  # where a pause begins
    assert quiet[0] and quiet[-1] and len(gaps) >= 3  # lines with pauses between them


@pytest.mark.pure
def test_a_test_session_writes_its_state_to_a_fresh_folder(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    assert state_dir().is_dir()
    assert state_dir().is_relative_to(tmp_path_factory.getbasetemp())
    assert not state_dir().is_relative_to(cache_dir())
