"""Shared fixtures. Data comes from the set-up's cache (./dev setup); nothing is downloaded here."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from capture.cache import demo_clip, fixtures_dir, models_dir

ROOT = Path(__file__).resolve().parent.parent


def _need(path: Path) -> Path:
    # Missing data is a broken set-up, not a reason to skip: fail loudly with the fix.
    assert path.exists(), f"{path} is missing; run ./dev setup"
    return path


@pytest.fixture(scope="session")
def demo() -> Path:
    return _need(demo_clip())


@pytest.fixture(scope="session")
def pose2sim_cam01() -> Path:
    return _need(fixtures_dir() / "pose2sim" / "cam01.mp4")


@pytest.fixture(scope="session")
def deepmimic() -> Path:
    return _need(fixtures_dir() / "deepmimic")


@pytest.fixture(scope="session")
def lite_bundle() -> Path:
    return _need(models_dir() / "pose_landmarker_lite.task")


def run_cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run ``immersion`` as a user would, in a subprocess."""
    return subprocess.run(
        [sys.executable, "-m", "immersion", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )


@dataclass
class ServedRoom:
    """An ``immersion serve`` process on loopback, with its two tokens."""

    process: subprocess.Popen[str]
    port: int
    director: str
    observer: str
    takes: Path

    def url(self, token: str) -> str:
        return f"ws://127.0.0.1:{self.port}/feed?token={token}"

    def page(self, token: str) -> str:
        return f"http://127.0.0.1:{self.port}/?token={token}"


@contextlib.contextmanager
def served_room(tmp: Path, args: list[str], **env: str) -> Iterator[ServedRoom]:
    """Start ``immersion serve --port 0 --takes tmp/takes ARGS``; its log is tmp/serve.log."""
    command = [sys.executable, "-m", "immersion", "serve", "--port", "0", "--takes"]
    with (tmp / "serve.log").open("w") as log:
        process = subprocess.Popen(
            [*command, str(tmp / "takes"), *args],
            stdout=subprocess.PIPE, stderr=log, text=True, cwd=ROOT,
            env={**os.environ, "PYTHONWARNINGS": "ignore", **env},
        )  # fmt: skip
        assert process.stdout is not None
        try:
            lines = [process.stdout.readline() for _ in range(3)]
            director = re.search(r"http://127\.0\.0\.1:(\d+)/\?token=(\S+)", lines[1])
            observer = re.search(r"token=(\S+)", lines[2])
            assert director and observer, (lines, (tmp / "serve.log").read_text())
            yield ServedRoom(process, int(director[1]), director[2], observer[1], tmp / "takes")
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
            process.stdout.close()
