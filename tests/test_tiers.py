"""tests/plugin.py does what it says: a pure test that reaches for a process, a socket, the
engine, the model or the set-up's data fails; IMMERSION_TEST_ORDER reorders modules and tests."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.support import ROOT

PRETEND = """
import socket, subprocess
import pytest
from capture.cache import demo_clip
from immersion.catalogue import avatars_dir

pytestmark = pytest.mark.pure

def test_process(): subprocess.run(["true"])
def test_socket(): socket.create_connection(("127.0.0.1", 9))
def test_cache(): assert demo_clip().exists()
def test_cast(): assert (avatars_dir() / "detective.vrm").exists()
def test_engine(): from direct.showbase.ShowBase import ShowBase
def test_model(): import mediapipe
@pytest.mark.model
def test_marked(): pass
def test_pure(tmp_path): (tmp_path / "x").write_text("fine")
"""


def _pytest(tmp: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """The project's pytest configuration and plugin on files outside the suite."""
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-c", str(ROOT / "pyproject.toml"), "--rootdir", str(tmp),
         "-p", "tests.plugin", "-p", "no:cacheprovider", "-q", "-rA", *args],
        capture_output=True, text=True, timeout=120, cwd=tmp,
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
    )  # fmt: skip


def test_a_pure_test_cannot_reach_what_the_tier_excludes(tmp_path: Path) -> None:
    (tmp_path / "test_pretend.py").write_text(PRETEND)
    done = _pytest(tmp_path, "test_pretend.py")
    outcome = {test: result for result, test in re.findall(
        r"^(PASSED|FAILED|ERROR) test_pretend\.py::(\w+)", done.stdout, re.M
    )}  # fmt: skip
    assert outcome == {
        "test_process": "FAILED",
        "test_socket": "FAILED",
        "test_cache": "FAILED",
        "test_cast": "FAILED",
        "test_engine": "FAILED",
        "test_model": "FAILED",
        "test_marked": "ERROR",
        "test_pure": "PASSED",
    }, done.stdout
    assert done.stdout.count("a test marked pure") >= 5, done.stdout


def test_the_order_switch_reverses_modules_and_tests(tmp_path: Path) -> None:
    for module in ("a", "b"):
        (tmp_path / f"test_{module}.py").write_text("def test_1(): pass\ndef test_2(): pass\n")
    done = _pytest(tmp_path, "-vv", "test_a.py", "test_b.py", IMMERSION_TEST_ORDER="reverse")
    ran = re.findall(r"^(test_\w\.py::test_\d) PASSED", done.stdout, re.M)
    assert ran == [
        "test_b.py::test_2",
        "test_b.py::test_1",
        "test_a.py::test_2",
        "test_a.py::test_1",
    ], done.stdout
