"""Shared fixtures. Data comes from the set-up's cache (./dev setup); nothing is downloaded here.

Helpers that benchmarks and scripts use too live in :mod:`tests.support`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from capture import cache
from capture.cache import demo_clip, fixtures_dir, models_dir
from tests.support import need as _need

# The pure tier's guard and IMMERSION_TEST_ORDER (see there).
pytest_plugins = ["tests.plugin"]


@pytest.fixture(scope="session", autouse=True)
def _fresh_state(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """What the program writes at run time ($IMMERSION_STATE) goes to a fresh folder per
    session, in os.environ so that the processes tests start write there too; the set-up's
    cache ($IMMERSION_CACHE) is only read."""
    state = tmp_path_factory.mktemp("state")
    before = os.environ.get("IMMERSION_STATE")
    os.environ["IMMERSION_STATE"] = str(state)
    yield state
    if before is None:
        del os.environ["IMMERSION_STATE"]
    else:
        os.environ["IMMERSION_STATE"] = before


@pytest.fixture(scope="session")
def demo() -> Path:
    return _need(demo_clip())


@pytest.fixture(scope="session")
def pose2sim_cam01() -> Path:
    return _need(fixtures_dir() / "pose2sim" / "cam01.mp4")


@pytest.fixture(scope="session")
def pose2sim_cam02() -> Path:
    return _need(fixtures_dir() / "pose2sim" / "cam02.mp4")


@pytest.fixture(scope="session")
def deepmimic() -> Path:
    return _need(fixtures_dir() / "deepmimic")


@pytest.fixture(scope="session")
def lite_bundle() -> Path:
    return _need(models_dir() / "pose_landmarker_lite.task")


@pytest.fixture(scope="session")
def tasks_vision() -> Path:
    """MediaPipe Tasks for Web, as the actor page serves it (vision_bundle.mjs, wasm/)."""
    return _need(cache.tasks_vision_dir() / "vision_bundle.mjs").parent


@pytest.fixture(scope="session")
def actor_video() -> Path:
    """The actor page tests' fake webcam, a y4m for --use-file-for-fake-video-capture."""
    return _need(cache.actor_video())


@pytest.fixture(scope="session")
def actor_face_video() -> Path:
    """The actor page tests' second fake webcam, with a face the page can find (face.y4m)."""
    return _need(cache.actor_face_video())


@pytest.fixture(scope="session")
def actor_voice() -> Path:
    """The actor page tests' fake microphone, a WAV for --use-file-for-fake-audio-capture."""
    return _need(cache.actor_voice())


# Chromium (Debian's, through Playwright): one per test module --------------------------------


@pytest.fixture(scope="module")
def playwright() -> Iterator[Any]:
    """One Playwright for the module: a second sync one cannot start while the first runs."""
    from playwright.sync_api import sync_playwright

    from tests.support import CHROMIUM

    assert CHROMIUM.exists(), f"{CHROMIUM} is missing; run ./dev setup"
    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="module")
def browser(playwright: Any) -> Iterator[Any]:
    """Headless chromium without a camera (the actor's page tests give theirs a fake one)."""
    from tests.support import CHROMIUM, CHROMIUM_ARGS

    launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    yield launched
    launched.close()
