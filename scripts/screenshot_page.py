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
import sys
import tempfile
from pathlib import Path

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
    out: Path = parser.parse_args().out
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
