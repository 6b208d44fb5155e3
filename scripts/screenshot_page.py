"""Screenshots of the casting page for the README: the demo room in Debian's chromium.

    .venv/bin/python scripts/screenshot_page.py [--out docs/screenshots]

Starts `immersion serve` on the demo clip, rolls a take with a note, a marker and a cue from the
page, and saves a laptop-width and a tablet-width picture while the take is rolling. Then the
actor's page: its consent screen, and an actor performing from it (chromium's fake camera and
microphone playing the test set-up's video of a person facing the camera and spoken lines), with
a director's cue.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from capture.cache import actor_face_video, actor_voice  # noqa: E402
from tests.support import (  # noqa: E402
    CHROMIUM,
    CHROMIUM_ARGS,
    fake_devices,
    need,
    perf_take,
    served_room,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument(
        "--only",
        choices=["library", "side-by-side", "presentation"],
        help="take only this one picture",
    )
    args = parser.parse_args()
    out: Path = args.out
    if args.only == "library":
        library_shot(out)
        return
    if args.only == "side-by-side":
        side_by_side_shot(out)
        return
    if args.only == "presentation":
        presentation_shot(out)
        return
    with (
        tempfile.TemporaryDirectory() as tmp,
        served_room(Path(tmp), []) as room,
        sync_playwright() as pw,
    ):
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        page.goto(room.page(room.director))
        page.wait_for_timeout(2000)
        page.locator("#cameras button").nth(1).click()
        page.click("#take-start")
        page.wait_for_timeout(1500)
        page.fill("#note", "Lovely stillness before the turn")
        page.click("#note-form button[type=submit]")
        page.wait_for_timeout(1200)
        page.click("#marker")
        page.wait_for_timeout(1500)
        page.fill("#note", "Turn on the line, not after it")
        page.click("#cue")  # the page confirms where the cue went
        page.wait_for_timeout(1000)
        page.screenshot(path=str(out / "casting-page.jpg"), quality=85, type="jpeg")
        page.set_viewport_size({"width": 820, "height": 1180})
        page.wait_for_timeout(1500)
        page.screenshot(path=str(out / "casting-page-tablet.jpg"), quality=80, type="jpeg")
        browser.close()
    print(f"wrote {out / 'casting-page.jpg'} and {out / 'casting-page-tablet.jpg'}")
    actor_shots(out)
    preview_shot(out)
    library_shot(out)
    side_by_side_shot(out)
    presentation_shot(out)


def library_shot(out: Path) -> None:
    """The take library: a room serving Ada's audition for Ophelia rolls two takes; Grace read
    for Ophelia and Ada for Gertrude on an earlier day; a director rates and selects."""
    import datetime as dt

    from immersion.casting import record as rec
    from immersion.casting.db import open_db

    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as pw:
        folder = Path(tmp)
        (folder / "takes").mkdir()
        conn = open_db(folder / "takes" / "casting.db")
        rec.add_production(conn, "Hamlet")
        ophelia = rec.add_role(conn, "Hamlet", "Ophelia", "noir-office", "detective")
        gertrude = rec.add_role(conn, "Hamlet", "Gertrude", "noir-office", "detective")
        day = dt.date.today() - dt.timedelta(days=1)
        for role, actor, notes in (
            (
                ophelia,
                "Grace Hopper",
                ("Lovely stillness before the turn", "Too quick on the line"),
            ),
            (gertrude, "Ada Lovelace", ("Warm, then cold: good",)),
        ):
            person = rec.find_actor(conn, actor) or rec.add_actor(conn, actor)
            audition = rec.open_audition(conn, role, person, day)
            for k, text in enumerate(notes, 1):
                name = f"{actor.split()[0].lower()}-{role.name.lower()}-{k}.jsonl"
                perf_take(folder / "takes" / name)
                rec.file_take(
                    conn, audition.id, name, 2.0 + 9 * k, room_notes=((1.0, "note", text),)
                )
        conn.close()
        still = perf_take(folder / "still.jsonl")
        args = ["--source", str(still), "--size", "640x360", "--role", "Ophelia"]
        with served_room(folder, [*args, "--actor", "Ada Lovelace"]) as room:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1440, "height": 1000}, device_scale_factor=2)
            page.goto(room.page(room.director))
            for _ in range(2):
                page.click("#take-start")
                page.wait_for_timeout(1500)
                page.click("#take-stop")
                page.wait_for_timeout(800)
            takes = page.locator(".lib-take")
            takes.nth(4).wait_for()
            for k, stars in ((0, 4), (1, 2), (2, 5), (3, 3), (4, 4)):
                takes.nth(k).locator(f'.star[data-value="{stars}"]').click()
                page.wait_for_timeout(150)
            takes.nth(2).locator(".lib-select").select_option("1")
            page.wait_for_timeout(150)
            takes.nth(1).locator(".lib-select").select_option("2")
            page.wait_for_timeout(150)
            takes.nth(0).locator(".lib-select").select_option("1")
            page.wait_for_timeout(800)
            page.locator("#library-panel").scroll_into_view_if_needed()
            page.locator("#library-panel").screenshot(
                path=str(out / "casting-library.jpg"), quality=85, type="jpeg"
            )
            browser.close()
    print(f"wrote {out / 'casting-library.jpg'}")


@contextlib.contextmanager
def _ophelias_room() -> Iterator[tuple[Any, Any]]:
    """A room on the demo clip (a real person, captured live) serving Ada's audition for
    Hamlet's Ophelia, chromium, and a director's page on it at laptop size: (browser, page)."""
    from immersion.casting import record as rec
    from immersion.casting.db import open_db

    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as pw:
        folder = Path(tmp)
        (folder / "takes").mkdir()
        conn = open_db(folder / "takes" / "casting.db")
        rec.add_production(conn, "Hamlet")
        rec.add_role(conn, "Hamlet", "Ophelia", "noir-office", "detective")
        conn.close()
        with served_room(folder, ["--role", "Ophelia", "--actor", "Ada Lovelace"]) as room:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1440, "height": 900})
            page.goto(room.page(room.director))
            page.wait_for_timeout(3000)
            try:
                yield browser, page
            finally:
                browser.close()


def side_by_side_shot(out: Path) -> None:
    """Side by side: a room on the demo clip (a real person, captured live) serving Ada's
    audition for Ophelia rolls two takes a few seconds apart; a director compares them."""
    with _ophelias_room() as (_, page):
        for wait in (2500, 1500):
            page.click("#take-start")
            page.wait_for_timeout(wait)
            page.click("#marker")
            page.wait_for_timeout(3000)
            page.click("#take-stop")
            page.wait_for_timeout(1500)
        takes = page.locator(".lib-take")
        takes.nth(1).wait_for()
        for k in range(2):
            takes.nth(k).locator(".compare-pick input").check()
        page.click("#compare-start")
        page.locator("#strips .strip-label").nth(1).wait_for(timeout=60_000)
        page.locator("#replay-takes .replay-align").nth(0).select_option("0")
        page.wait_for_timeout(1500)
        page.locator("#replay-takes .replay-align").nth(1).select_option("0")
        page.locator("#strips .strip-label").nth(1).wait_for(timeout=60_000)
        page.wait_for_timeout(2500)
        page.evaluate("window.scrollTo(0, 0)")
        page.wait_for_timeout(300)
        page.screenshot(path=str(out / "side-by-side.jpg"), quality=85, type="jpeg")
    print(f"wrote {out / 'side-by-side.jpg'}")


def presentation_shot(out: Path) -> None:
    """A presentation as a producer sees it: a room on the demo clip (a real person, captured
    live) serving Ada's audition for Ophelia rolls two takes; a director presents them; a guest
    gives their name and watches the second, its name drawn on the picture."""
    with _ophelias_room() as (browser, director):
        for wait in (2500, 4000):
            director.click("#take-start")
            director.wait_for_timeout(wait)
            director.click("#take-stop")
            director.wait_for_timeout(1500)
        rows = director.locator(".lib-take")
        rows.nth(1).wait_for()
        for k in range(2):
            rows.nth(k).locator(".lib-pick").check()
        director.fill("#present-title", "Ophelia: Ada Lovelace for the producers")
        director.click("#present-create")
        director.wait_for_function("document.querySelector('#present-url')?.value")
        url = director.locator("#present-url").input_value()
        guest = browser.new_page(viewport={"width": 1440, "height": 900})
        guest.goto(url)
        guest.fill("#viewer-name", "Sam Producer")
        guest.click("#name-form button[type=submit]")
        guest.locator(".play-take").nth(1).click()
        guest.locator("#placeholder").wait_for(state="hidden", timeout=30_000)
        guest.wait_for_timeout(2500)
        guest.click("#pause")
        guest.wait_for_timeout(1500)
        guest.screenshot(path=str(out / "presentation.jpg"), quality=85, type="jpeg")
    print(f"wrote {out / 'presentation.jpg'}")


def actor_shots(out: Path) -> None:
    # The clip whose face the page can see: the character takes the actor's face and hands too.
    devices = fake_devices(need(actor_face_video()), need(actor_voice()))
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as pw:
        still = perf_take(Path(tmp) / "still.jsonl")
        with served_room(Path(tmp), ["--source", str(still), "--size", "960x540"]) as room:
            browser = pw.chromium.launch(
                executable_path=str(CHROMIUM), args=CHROMIUM_ARGS + devices
            )
            director = browser.new_page(viewport={"width": 1280, "height": 800})
            director.goto(room.page(room.director))
            actor = browser.new_page(viewport={"width": 1280, "height": 800})
            actor.goto(room.page(room.actor))
            actor.wait_for_timeout(1500)
            actor.screenshot(path=str(out / "actor-consent.jpg"), quality=85, type="jpeg")
            actor.click("#agree")
            actor.wait_for_timeout(6000)
            director.fill("#note", "From the top, softer")
            director.click("#cue")
            actor.wait_for_timeout(1200)
            actor.screenshot(path=str(out / "actor-page.jpg"), quality=85, type="jpeg")
            director.wait_for_timeout(500)
            director.screenshot(path=str(out / "casting-page-actor.jpg"), quality=85, type="jpeg")
            browser.close()
    print(
        f"wrote {out / 'actor-consent.jpg'}, {out / 'actor-page.jpg'}, {out / 'casting-page-actor.jpg'}"
    )


def preview_shot(out: Path) -> None:
    """The designer's live preview of a shipped pack (`immersion scenes preview`)."""
    import subprocess

    process = subprocess.Popen(
        [sys.executable, "-m", "immersion", "scenes", "preview", "noir-office", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    assert process.stdout is not None
    try:
        link = process.stdout.readline().split()[-1]
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(link)
            loaded = "() => [...document.images].filter(i => i.complete && i.naturalWidth).length"
            for _ in range(600):
                if page.evaluate(loaded) >= 4:
                    break
                page.wait_for_timeout(100)
            page.wait_for_timeout(500)
            page.screenshot(path=str(out / "scene-preview.jpg"), quality=85, type="jpeg")
            browser.close()
    finally:
        process.kill()
        process.wait()
        process.stdout.close()
    print(f"wrote {out / 'scene-preview.jpg'}")


if __name__ == "__main__":
    main()
