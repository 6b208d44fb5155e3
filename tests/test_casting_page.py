"""The casting page in a real browser: Debian's chromium, headless, driven by Playwright.

The room runs the demo (the bundled clip through MediaPipe), as `./dev run` does. Pictures
are read back from the page's canvas through ``window.immersion.probe()``.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, Playwright, expect

from capture.take import read_take
from immersion.catalogue import find_pack
from immersion.scenes.manifest import load_pack
from tests.support import (
    CHROMIUM,
    CHROMIUM_ARGS,
    ServedRoom,
    open_page,
    page_until,
    perf_take,
    served_room,
)

pytestmark = [pytest.mark.model, pytest.mark.fixtures]


@pytest.fixture(scope="module")
def room(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedRoom]:
    with served_room(tmp_path_factory.mktemp("page"), ["--size", "640x360"]) as served:
        yield served


def _probe(page: Page) -> dict[str, Any]:
    result: dict[str, Any] = page.evaluate("window.immersion.probe()")
    return result


def _changed_cells(a: dict[str, Any], b: dict[str, Any]) -> int:
    """Grid cells (of 64) whose mean colour moved by more than 12 levels."""
    return sum(
        max(abs(x - y) for x, y in zip(ca, cb, strict=True)) > 12
        for ca, cb in zip(a["cells"], b["cells"], strict=True)
    )


def test_the_page_draws_the_live_view_over_h264(room: ServedRoom, browser: Browser) -> None:
    page = open_page(browser, room.page(room.director), viewport={"width": 1440, "height": 900})
    expect(page.locator("#role")).to_have_text("director")
    page_until(
        page, lambda: page.evaluate("window.immersion.framesDrawn()") >= 20, "20 frames drawn"
    )
    expect(page.locator("#codec")).to_have_text("H264")
    picture = _probe(page)
    # The set itself, not a blank or uniform canvas: the noir office is dim but far from flat.
    assert (picture["width"], picture["height"]) == (640, 360)
    assert 10 < picture["mean"] < 200 and picture["std"] > 10, picture
    expect(page.locator("#confidence li")).to_have_count(6)
    # Render → drawn, measured by the page against the room clock: real, small, positive.
    expect(page.locator("#latency")).to_have_text(re.compile(r"^\d+ ms$"))
    latencies = page.evaluate("window.immersion.latencies()")
    assert len(latencies) >= 10 and 0 < statistics.median(latencies) < 500, latencies
    assert page.errors == []


def test_a_camera_click_changes_the_picture(room: ServedRoom, browser: Browser) -> None:
    page = open_page(browser, room.page(room.director))
    page_until(page, lambda: page.evaluate("window.immersion.framesDrawn()") >= 10, "frames")
    # What the moving actor alone changes over the same interval, with the camera held.
    still = _probe(page)
    page.wait_for_timeout(1000)
    moved = _changed_cells(still, _probe(page))
    buttons = page.locator("#cameras button")
    expect(buttons.first).to_have_class("active")
    before = _probe(page)
    buttons.last.click()
    expect(buttons.last).to_have_class("active")
    page.wait_for_timeout(1000)
    switched = _changed_cells(before, _probe(page))
    assert switched >= 24 and switched >= 3 * max(moved, 1), (moved, switched)
    buttons.first.click()
    expect(buttons.first).to_have_class("active")


def test_a_take_from_the_page_is_listed_and_on_disk(room: ServedRoom, browser: Browser) -> None:
    page = open_page(browser, room.page(room.director))
    expect(page.locator("#role")).to_have_text("director")
    page.click("#take-start")
    expect(page.locator("#rolling")).to_be_visible()
    page.wait_for_timeout(1500)
    page.fill("#note", "Hold the look at the window longer")
    page.click("#note-form button[type=submit]")
    page.click("#marker")
    page.wait_for_timeout(500)
    page.click("#take-stop")
    expect(page.locator("#rolling")).to_be_hidden()
    take = page.locator("#takes > li").last
    expect(take).to_contain_text(" s")  # its duration, once stopped
    expect(take).to_contain_text("Hold the look at the window longer")
    name = take.inner_text().split(" — ")[0]
    path = room.takes / name
    assert path.is_file(), f"{name} not in {room.takes}"
    recorded = read_take(path)
    assert len(recorded.poses) >= 10
    assert [e["event"] for e in recorded.events] == ["note", "marker", "end"]
    assert recorded.events[0]["text"] == "Hold the look at the window longer"


def test_observers_watch_without_controls(room: ServedRoom, browser: Browser) -> None:
    page = open_page(browser, room.page(room.observer))
    expect(page.locator("#role")).to_have_text("observer")
    expect(page.locator("footer.controls")).to_be_hidden()
    page_until(page, lambda: page.evaluate("window.immersion.framesDrawn()") >= 5, "frames")


def test_without_webcodecs_the_page_falls_back_to_jpeg(room: ServedRoom, browser: Browser) -> None:
    context = browser.new_context(viewport={"width": 820, "height": 1180})  # a tablet, upright
    context.add_init_script("delete window.VideoDecoder;")
    page = context.new_page()
    page.goto(room.page(room.observer))
    page_until(page, lambda: page.evaluate("window.immersion.framesDrawn()") >= 10, "JPEG frames")
    expect(page.locator("#codec")).to_have_text("JPEG")
    assert _probe(page)["std"] > 10
    # Laid out for the width: nothing runs off the side.
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_a_wrong_token_is_refused(room: ServedRoom, browser: Browser) -> None:
    page = open_page(browser, room.page(room.director[:-2] + "xx"))
    expect(page.locator("#message")).to_contain_text("Refused")
    expect(page.locator("#role")).to_have_text("disconnected")
    page.wait_for_timeout(500)
    assert page.evaluate("window.immersion.framesDrawn()") == 0


def test_after_a_scene_switch_the_camera_buttons_are_the_new_sets(
    room: ServedRoom, browser: Browser
) -> None:
    page = open_page(browser, room.page(room.director))
    expect(page.locator("#role")).to_have_text("director")
    saloon = [c.name for c in load_pack(find_pack("western-saloon")).cameras]
    noir = [c.name for c in load_pack(find_pack("noir-office")).cameras]
    assert saloon != noir
    try:
        page.select_option("#scene", "western-saloon")
        expect(page.locator("#scene-title")).to_have_text("western-saloon", timeout=20_000)
        expect(page.locator("#cameras button")).to_have_text(saloon)
        page.locator("#cameras button").last.click()  # a preset of the set now standing
        expect(page.locator("#cameras button").last).to_have_class("active")
        expect(page.locator("#message")).to_be_hidden()
    finally:
        page.select_option("#scene", "noir-office")
        expect(page.locator("#cameras button")).to_have_text(noir, timeout=20_000)


@pytest.fixture(scope="module")
def named_browser(playwright: Playwright) -> Iterator[Browser]:
    """Chromium that resolves casting.test to this machine and takes the room's self-signed
    certificate (as a casting team's browser does once it trusts it)."""
    browser = playwright.chromium.launch(
        executable_path=str(CHROMIUM),
        args=[
            *CHROMIUM_ARGS,
            "--host-resolver-rules=MAP casting.test 127.0.0.1",
            "--ignore-certificate-errors",
        ],
    )
    yield browser
    browser.close()


@pytest.mark.parametrize("tls", [True, False], ids=["https", "http"])
def test_on_a_network_name_h264_needs_tls_and_plain_http_says_why_it_is_jpeg(
    tmp_path: Path, named_browser: Browser, tls: bool
) -> None:
    args = ["--source", str(perf_take(tmp_path / "perf.jsonl")), "--size", "320x180"]
    args += ["--name", "casting.test", *(["--tls", "self-signed"] if tls else [])]
    with served_room(tmp_path, args) as served:
        assert served.base.startswith(("https" if tls else "http") + "://casting.test:")
        page = open_page(named_browser, served.page(served.director))
        expect(page.locator("#role")).to_have_text("director")
        page_until(page, lambda: page.evaluate("window.immersion.framesDrawn()") >= 10, "frames")
        assert page.evaluate("window.isSecureContext") is tls
        if tls:
            expect(page.locator("#codec")).to_have_text("H264")
            expect(page.locator("#message")).to_be_hidden()
        else:
            expect(page.locator("#codec")).to_have_text("JPEG")
            expect(page.locator("#message")).to_contain_text("not secure")
        assert page.errors == []


def test_a_dropped_connection_comes_back_by_itself(room: ServedRoom, browser: Browser) -> None:
    page = open_page(browser, room.page(room.director))
    page_until(page, lambda: page.evaluate("window.immersion.framesDrawn()") >= 5, "frames")
    page.evaluate("window.immersion.disconnect()")
    expect(page.locator("#message")).to_contain_text("reconnecting")
    expect(page.locator("#role")).to_have_text("director", timeout=15_000)
    drawn = page.evaluate("window.immersion.framesDrawn()")
    page_until(
        page, lambda: page.evaluate("window.immersion.framesDrawn()") >= drawn + 10, "frames again"
    )
    assert page.errors == []
