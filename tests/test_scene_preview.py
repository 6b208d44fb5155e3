"""The designer's loop: `immersion scenes preview PACK` shows a pack live in chromium, follows
edits within a second, and names a broken field on the page instead of a stale picture."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urljoin

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from immersion.scenes.manifest import load_pack
from immersion.scenes.preview import top_view_svg
from tests.support import CHROMIUM, CHROMIUM_ARGS, ROOT, run_cli


def test_the_top_view_draws_every_mark_and_camera(tmp_path: Path) -> None:
    assert run_cli("scenes", "new", str(tmp_path / "set")).returncode == 0
    pack = load_pack(tmp_path / "set")
    svg = top_view_svg(pack)
    assert svg.count('class="mark"') == len(pack.marks) == 2
    assert svg.count('class="camera"') == len(pack.cameras) == 3
    assert all(m.name in svg for m in pack.marks)


@pytest.fixture
def previewed(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    folder = tmp_path / "my-set"
    assert run_cli("scenes", "new", str(folder)).returncode == 0
    process = subprocess.Popen(
        [sys.executable, "-m", "immersion", "scenes", "preview", str(folder), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=ROOT,
    )
    assert process.stdout is not None
    try:
        line = process.stdout.readline()
        assert "http://" in line, line
        yield folder, line.split()[-1]
    finally:
        process.kill()
        process.wait()
        process.stdout.close()


def _picture(page: Page) -> bytes:
    """The first camera preset's picture, as the page now asks for it."""
    src = page.locator("#cameras img").first.get_attribute("src") or ""
    with urllib.request.urlopen(urljoin(page.url, src), timeout=60) as reply:
        data: bytes = reply.read()
    return data


def test_a_designer_edits_a_light_and_breaks_a_field_and_the_page_follows(
    previewed: tuple[Path, str],
) -> None:
    folder, link = previewed
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
        page.goto(link)
        expect(page.locator("#state")).to_have_text("version 1: valid")
        expect(page.locator("#cameras figure")).to_have_count(3)
        expect(page.locator("#marks figure")).to_have_count(2)
        expect(page.locator("#top svg .mark")).to_have_count(2)
        loaded = "() => [...document.images].filter(i => i.complete && i.naturalWidth).length"
        deadline = time.monotonic() + 60
        while page.evaluate(loaded) < 5:  # the page's policy forbids wait_for_function's eval
            assert time.monotonic() < deadline, "the pictures did not load"
            page.wait_for_timeout(100)
        before = _picture(page)

        # The key light turns red: within a second or so the page shows the new pack.
        toml = folder / "scene.toml"
        toml.write_text(toml.read_text().replace('colour = "#fff2e0"', 'colour = "#ff2000"'))
        started = time.monotonic()
        expect(page.locator("#state")).to_have_text("version 2: valid")
        assert time.monotonic() - started < 3.0
        after = _picture(page)
        assert after != before

        # A broken field: the page names it, and shows no stale picture.
        toml.write_text(toml.read_text().replace("fov = 50", 'fov = "wide"'))
        expect(page.locator("#problem-list")).to_contain_text("fov")
        expect(page.locator("#cameras figure")).to_have_count(0)
        page.screenshot(path=str(folder.parent / "preview.png"))
        browser.close()

    # The link's token is the only way in.
    wrong = link.replace("token=", "token=x")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(wrong, timeout=5)
    assert refused.value.code == 403
    refused.value.close()
