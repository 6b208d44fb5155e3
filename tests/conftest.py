"""Shared fixtures. Data comes from the set-up's cache (./dev setup); nothing is downloaded here.

Helpers that benchmarks and scripts use too live in :mod:`tests.support`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from capture.cache import demo_clip, fixtures_dir, models_dir
from tests.support import need as _need


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
