"""Screenshots of the casting page for the README: the demo room in Debian's chromium.

    .venv/bin/python scripts/screenshot_page.py [--out docs/screenshots]

Starts `immersion serve` on the demo clip, rolls a take with a note, a marker and a cue from the
page, and saves a laptop-width and a tablet-width picture while the take is rolling.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.support import (  # noqa: E402
    CHROMIUM,
    CHROMIUM_ARGS,
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


if __name__ == "__main__":
    main()
