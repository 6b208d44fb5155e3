"""The casting page's take library in Chromium: a room served with --role/--actor files two
takes; a director rates and selects from the page; both survive a reload and a room restart;
an observer sees them and cannot change them; a room served with --db alone reviews them."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Locator, Page, expect
from websockets.asyncio.client import connect

from immersion.casting import record as rec
from immersion.casting.db import open_db
from tests.support import (
    ServedRoom,
    hamlet_room,
    hello,
    open_page,
    page_until,
    served_room,
    until,
)

pytestmark = pytest.mark.fixtures


def _serve(tmp: Path) -> contextlib.AbstractContextManager[ServedRoom]:
    args = ["--source", str(tmp / "perf.jsonl"), "--size", "320x180", "--fps", "15"]
    return served_room(tmp, [*args, "--role", "Ophelia", "--actor", "Ada Lovelace"])


def _take(page: Page, file: str) -> Locator:
    return page.locator(
        f'.lib-role[data-role="Ophelia"] .lib-actor[data-actor="Ada Lovelace"] '
        f'.lib-take[data-file="{file}"]'
    )


def _stop(room: ServedRoom) -> None:
    """Close the room as Ctrl-C does: it files what it has and closes the record."""
    room.process.send_signal(signal.SIGINT)
    assert room.process.wait(30) == 0


def test_the_library_lists_rates_and_selects_and_they_persist(
    tmp_path: Path, browser: Browser
) -> None:
    hamlet_room(tmp_path)

    with _serve(tmp_path) as room:
        page = open_page(browser, room.page(room.director))
        expect(page.locator("#role")).to_have_text("director")
        expect(page.locator("#library-panel")).to_be_visible()
        expect(page.locator("#library")).to_contain_text("No takes in the casting record yet")
        for _ in range(2):
            page.click("#take-start")
            expect(page.locator("#rolling")).to_be_visible()
            page.wait_for_timeout(700)
            page.click("#take-stop")
            expect(page.locator("#rolling")).to_be_hidden()
        # Filed by the room's desk, and sent to the page as they were filed.
        takes = page.locator(".lib-take")
        expect(takes).to_have_count(2, timeout=15_000)
        first, second = (takes.nth(k).get_attribute("data-file") for k in range(2))
        assert first and second and (room.takes / first).is_file()
        expect(page.locator(".lib-role h3")).to_have_text("Ophelia Hamlet")
        expect(page.locator(".lib-actor h4")).to_have_text("Ada Lovelace")
        expect(_take(page, first)).to_contain_text("0 notes")

        _take(page, first).locator('.star[data-value="4"]').click()
        expect(_take(page, first).locator(".stars")).to_have_attribute("data-rating", "4")
        expect(_take(page, first).locator(".lib-mean")).to_have_text("avg 4.0")
        _take(page, second).locator(".lib-select").select_option("1")

        # A second director's page is told at once, without asking.
        other = open_page(browser, room.page(room.director))
        expect(_take(other, second).locator(".lib-select")).to_have_value("1")
        page.reload()
        expect(_take(page, first).locator(".stars")).to_have_attribute("data-rating", "4")
        expect(_take(page, second).locator(".lib-select")).to_have_value("1")
        # The search finds takes by the actor's name; an unrelated word finds none.
        page.fill("#library-search", "lovelace")
        expect(takes).to_have_count(2)
        page.fill("#library-search", "zebra")
        expect(page.locator("#library")).to_contain_text("No take matches.")
        assert page.errors == [] and other.errors == []
        _stop(room)

    with _serve(tmp_path) as room:  # the same takes folder and record, new tokens
        page = open_page(browser, room.page(room.director))
        expect(_take(page, first).locator(".stars")).to_have_attribute("data-rating", "4")
        expect(_take(page, second).locator(".lib-select")).to_have_value("1")

        # A take replays on the room's avatar from its row in the library.
        _take(page, first).locator(".replay-take").click()
        expect(page.locator("#replay-state")).to_contain_text(f"Replay: {first}")
        page.click("#replay-stop")
        expect(page.locator("#replay-state")).to_contain_text("No replay")

        watcher = open_page(browser, room.page(room.observer))
        expect(watcher.locator("#role")).to_have_text("observer")
        expect(_take(watcher, first).locator(".stars")).to_have_attribute("data-rating", "4")
        expect(_take(watcher, second).locator(".select-number")).to_have_text("#1")
        expect(
            watcher.locator("#library button.star, #library select, #library button.replay-take")
        ).to_have_count(0)
        # Its own socket, speaking the protocol as a page would: refused in one line.
        refused = watcher.evaluate(
            """(token) => new Promise((resolve) => {
                const ws = new WebSocket(`ws://${location.host}/feed?token=${token}`);
                ws.onopen = () => ws.send(JSON.stringify({type: "rate", take: "x", value: 1}));
                ws.onmessage = (e) => { const m = JSON.parse(e.data);
                  if (m.type === "error") { ws.close(); resolve(m.message); } };
            })""",
            room.observer,
        )
        assert refused == "rate: observers see ratings and selects; directors set them"
        assert watcher.errors == []
        _stop(room)

    conn = open_db(tmp_path / "takes" / "casting.db")
    assert rec.find_take(conn, first).rating == 4
    assert rec.find_take(conn, second).select == 1
    conn.close()

    # --db alone: a room for reviewing. Its library is the record's; a take it rolls is not
    # filed (it has no audition).
    db = ["--db", str(tmp_path / "takes" / "casting.db")]
    source = ["--source", str(tmp_path / "perf.jsonl"), "--size", "320x180"]
    with served_room(tmp_path, [*source, *db]) as room:
        with ThreadPoolExecutor(1) as pool:  # Playwright's own loop runs on this thread
            listed = pool.submit(asyncio.run, _review(room.url(room.director))).result(60)
        _stop(room)
    assert [(t["file"], t["rating"], t["select"]) for t in listed] == [
        (first, 4, None),
        (second, None, 1),
    ]


async def _review(url: str) -> list[dict[str, Any]]:
    async with connect(url) as director:
        await hello(director)
        await director.send(json.dumps({"type": "take", "action": "start"}))
        await until(director, "status", lambda s: s["take"]["rolling"])
        await director.send(json.dumps({"type": "take", "action": "stop"}))
        await until(director, "take", lambda m: m["take"].get("duration"))
        await asyncio.sleep(0.5)  # a filing, were there one, would be done by now
        await director.send(json.dumps({"type": "library"}))
        takes: list[dict[str, Any]] = (await until(director, "library"))["takes"]
        return takes


def _halves_differ(page: Page) -> float:
    """How far the picture's left half is from its right half (mean absolute difference of
    grey levels, 0-255): a split picture shows the same set twice, a single view does not."""
    import cv2
    import numpy as np

    png = page.locator("#view").screenshot()
    grey = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_GRAYSCALE)
    assert grey is not None
    grey = grey.astype(np.float32)
    half = grey.shape[1] // 2
    return float(np.abs(grey[:, :half] - grey[:, half : 2 * half]).mean())


def test_two_takes_play_side_by_side_from_the_library(tmp_path: Path, browser: Browser) -> None:
    hamlet_room(tmp_path)
    with _serve(tmp_path) as room:
        page = open_page(browser, room.page(room.director))
        expect(page.locator("#library-panel")).to_be_visible()
        for k in range(2):
            page.click("#take-start")
            expect(page.locator("#rolling")).to_be_visible()
            page.wait_for_timeout(600)
            if k == 1:
                page.click("#marker")  # the second take's moment to align at
                page.wait_for_timeout(600)
            page.click("#take-stop")
            expect(page.locator("#rolling")).to_be_hidden()
        rows = page.locator(".lib-take")
        expect(rows).to_have_count(2, timeout=15_000)
        first, second = (rows.nth(k).get_attribute("data-file") or "" for k in range(2))
        single = _halves_differ(page)

        expect(page.locator("#compare-start")).to_be_disabled()
        for file in (first, second):
            _take(page, file).locator(".compare-pick input").check()
        expect(page.locator("#compare-picked")).to_contain_text("A: Ada Lovelace — Ophelia")
        page.click("#compare-start")
        expect(page.locator("#replay-state")).to_contain_text("2 takes side by side")
        # Labelled once the room has split its picture: a strip per take, left to right.
        labels = page.locator("#strips .strip-label")
        expect(labels).to_have_count(2, timeout=20_000)
        expect(labels.nth(1)).to_contain_text("B · Ada Lovelace — Ophelia")
        page.wait_for_timeout(500)  # a split frame or two reach the page
        split = _halves_differ(page)
        # The same set from the same camera, twice: the halves match far better than a
        # single view's do (measured 0.2 against 21 grey levels).
        assert split < 0.5 * single, (split, single)

        # The voice switch: one take's voice at a time, the first's to begin with.
        voices = page.locator("#replay-takes .replay-voice input")
        expect(voices.nth(0)).to_be_checked()
        voices.nth(1).check()

        def replayed() -> dict[str, Any]:
            shown: dict[str, Any] = page.evaluate("window.immersion.replay()")
            return shown

        page_until(page, lambda: replayed().get("voice") == 1, "the room's voice switch")
        expect(voices.nth(1)).to_be_checked()
        expect(voices.nth(0)).not_to_be_checked()
        # Aligned at the second take's marker: it starts again, cut so that moment comes first.
        align = page.locator("#replay-takes .replay-align").nth(1)
        expect(align.locator("option")).to_have_count(2)  # its start, its marker
        align.select_option("0")
        # The second take cut so that its marker comes with the first take's start.
        page_until(
            page,
            lambda: (
                [(t.get("align"), t.get("shift", 0) > 0.3) for t in replayed()["takes"]]
                == [(None, False), (0, True)]
            ),
            "the second take aligned at its marker",
        )
        expect(page.locator("#replay-takes .replay-align").nth(1)).to_have_value("0")
        expect(labels).to_have_count(2, timeout=20_000)
        assert page.evaluate("window.immersion.replay().voice") == 1  # kept by a realignment

        page.click("#replay-stop")
        expect(page.locator("#replay-state")).to_contain_text("No replay")
        expect(page.locator("#strips")).to_be_hidden()
        page.wait_for_timeout(800)  # one-view frames reach the page
        assert _halves_differ(page) > 2 * split  # the room's picture is one view again
        assert page.errors == []
        _stop(room)
