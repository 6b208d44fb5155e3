"""A presentation in Chromium: a director presents one take from the library; a guest opens
the link, gives a name, sees nothing of the live room, replays the take (pictures arrive, the
name drawn into them); the director sees "viewed"; after a revoke the link is refused (the
page says why, its socket closed); a presentation past its expiry is refused."""

from __future__ import annotations

import datetime as dt
import io
import re
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray
from PIL import Image
from playwright.sync_api import Browser, Page, expect

from immersion.casting import presentations as present
from immersion.casting.db import open_db
from tests.support import hamlet_room, open_page, page_until, served_room

pytestmark = pytest.mark.fixtures
GUEST = "Sam Producer"


def _picture(page: Page) -> NDArray[np.float64]:
    """The canvas as shown, grey levels (a screenshot: what a screen recording would hold)."""
    shot = Image.open(io.BytesIO(page.locator("#view").screenshot())).convert("L")
    return np.asarray(shot, dtype=np.float64)


def _stamp_strip(page: Page) -> NDArray[np.float64]:
    """The bottom right of the picture: where the guest's page draws the viewer's name."""
    grey = _picture(page)
    h, w = grey.shape
    return grey[h - h // 10 :, w // 3 :]


def _top(page: Page) -> NDArray[np.float64]:
    grey = _picture(page)
    return grey[: grey.shape[0] // 2]


def test_a_presentation_shows_its_take_stamps_the_viewer_and_is_refused_when_revoked(
    tmp_path: Path, browser: Browser
) -> None:
    db = hamlet_room(tmp_path)
    args = ["--source", str(tmp_path / "perf.jsonl"), "--size", "320x180", "--fps", "15"]
    with served_room(tmp_path, [*args, "--role", "Ophelia", "--actor", "Ada Lovelace"]) as room:
        director = open_page(browser, room.page(room.director))
        expect(director.locator("#present-panel")).to_be_visible()
        director.click("#take-start")
        expect(director.locator("#rolling")).to_be_visible()
        director.wait_for_timeout(1200)
        director.click("#take-stop")
        row = director.locator(".lib-take")
        expect(row).to_have_count(1, timeout=15_000)
        take = row.get_attribute("data-file")
        assert take

        # The director presents it: a link, shown once.
        expect(director.locator("#present-create")).to_be_disabled()
        row.locator(".lib-pick").check()
        director.fill("#present-title", "Ophelia for the producers")
        director.click("#present-create")
        link = director.locator("#present-url")
        expect(link).to_have_value(re.compile(r"\?present=[\w-]{32}$"), timeout=10_000)
        url = link.input_value()
        assert url.startswith(f"{room.base}/?present=") and len(url) > len(room.base) + 40
        expect(director.locator(".present-item")).to_contain_text("Ophelia for the producers")

        # A guest: asked their name once; shown the presentation's take only; no live room.
        guest = open_page(browser, url)
        expect(guest.locator("#name-form")).to_be_visible()
        guest.fill("#viewer-name", GUEST)
        guest.click("#name-form button[type=submit]")
        expect(guest.locator("#title")).to_have_text("Ophelia for the producers")
        expect(guest.locator(".present-take")).to_have_count(1)
        expect(guest.locator(".present-take")).to_contain_text("Ophelia — Ada Lovelace")
        expect(guest.locator("#placeholder")).to_be_visible()
        expect(guest.locator("#placeholder")).to_contain_text("Choose a take")
        guest.wait_for_timeout(1500)  # the room renders its live source all the while
        assert guest.evaluate("window.immersion.drawn()") == 0

        guest.click(".play-take")
        expect(guest.locator("#placeholder")).to_be_hidden(timeout=10_000)
        expect(guest.locator("#replay-state")).to_contain_text("Ophelia — Ada Lovelace")
        page_until(
            guest,
            lambda: guest.evaluate("window.immersion.drawn() > 5"),
            "window.immersion.drawn() > 5",
        )
        # Pause: the room shows one still picture to both pages; the guest's carries the name
        # in its bottom row, the director's (the same frames) does not.
        guest.click("#pause")
        expect(guest.locator("#pause")).to_have_text("Play")
        director.wait_for_timeout(1000)
        guest_strip, room_strip = _stamp_strip(guest), _stamp_strip(director)
        # White letters on a darkened band: many bright pixels where the room's has few, and
        # the rest of the picture alike.
        bright = float((guest_strip > 190).mean()), float((room_strip > 190).mean())
        assert bright[0] > 0.005 and bright[0] > 10 * bright[1], bright
        assert abs(float(_top(guest).mean()) - float(_top(director).mean())) < 8

        # The director sees who viewed it, in the library and in the presentations' list.
        expect(row.locator(".viewed")).to_contain_text(f"viewed · {GUEST}", timeout=10_000)
        expect(director.locator(".present-item .viewed")).to_contain_text(GUEST)
        guest.click("#stop")
        expect(guest.locator("#placeholder")).to_be_visible()

        # Revoked: the guest is cut off at once, and the link no longer opens.
        director.click(".present-revoke")
        expect(guest.locator("#refused")).to_be_visible(timeout=10_000)
        expect(guest.locator("#refused-why")).to_contain_text("revoked")
        page_until(
            guest, lambda: guest.evaluate("!window.immersion.open()"), "!window.immersion.open()"
        )
        expect(director.locator(".present-item")).to_have_attribute("data-state", "revoked")
        again = open_page(browser, url)
        again.fill("#viewer-name", GUEST)
        again.click("#name-form button[type=submit]")
        expect(again.locator("#refused-why")).to_contain_text("revoked")

        # Past its expiry: refused, saying so. create refuses a past expiry, so the test
        # moves it back in SQL.
        conn = open_db(db)
        old = present.create(
            conn, "Last week", [take], dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
        )
        past = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)).isoformat(timespec="seconds")
        conn.execute(
            "UPDATE presentations SET expires = ? WHERE id = ?", (past, old.presentation.id)
        )
        conn.close()
        late = open_page(browser, f"{room.base}/?present={old.token}")
        late.fill("#viewer-name", GUEST)
        late.click("#name-form button[type=submit]")
        expect(late.locator("#refused-why")).to_contain_text("expired")
        assert late.evaluate("window.immersion.drawn()") == 0
        for page in (director, guest, again, late):
            assert page.errors == []
