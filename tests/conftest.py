"""Shared fixtures. Data comes from the set-up's cache (./dev setup); nothing is downloaded here."""

from __future__ import annotations

import os
import subprocess
import sys
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
