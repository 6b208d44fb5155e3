"""The set-up's promises, checked without running it: Monado's source is checked against its
pinned hash and a wrong file is refused in one line that says what to do; tests write what the
program writes at run time to a fresh folder, not into the set-up's cache."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

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


@pytest.mark.pure
def test_a_test_session_writes_its_state_to_a_fresh_folder(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    assert state_dir().is_dir()
    assert state_dir().is_relative_to(tmp_path_factory.getbasetemp())
    assert not state_dir().is_relative_to(cache_dir())
