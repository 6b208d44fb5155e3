"""What tests, benchmarks and scripts share: one way to run the CLI, start a room, launch chromium.

A module of its own (not conftest, not a test module), so benchmarks import it without pulling
in pytest's fixtures or another test module's collection.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection

from capture.errors import CaptureError
from capture.pose import Pose
from capture.take import TakeWriter
from immersion.feed.protocol import decode_video

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
# As root, on a machine with no network and no GPU: no sandbox, nothing phoning home.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def fake_devices(video: Path, voice: Path) -> list[str]:
    """Chromium arguments for a camera playing ``video`` (y4m) and a microphone playing
    ``voice`` (WAV), granted without asking, and sound that plays without a click."""
    return [
        "--use-fake-device-for-media-stream",
        "--use-fake-ui-for-media-stream",
        f"--use-file-for-fake-video-capture={video}",
        f"--use-file-for-fake-audio-capture={voice}",
        "--autoplay-policy=no-user-gesture-required",
    ]


def need(path: Path) -> Path:
    """``path``, which the set-up makes. Missing data is a broken set-up, not a reason to skip:
    fail loudly with the fix."""
    assert path.exists(), f"{path} is missing; run ./dev setup"
    return path


@contextlib.contextmanager
def tmpfs(folder: Path, size: str) -> Iterator[Path]:
    """A real filesystem of ``size`` (e.g. "256k") mounted on ``folder``, for a disk that
    fills up. Needs root, as the tests and CI run."""
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], check=True)
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


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


@dataclass
class ServedRoom:
    """An ``immersion serve`` process, with its two tokens and the base of its links."""

    process: subprocess.Popen[str]
    port: int
    director: str
    observer: str
    actor: str
    takes: Path
    base: str = ""  # what the printed links start with, e.g. https://casting.test:43123

    def url(self, token: str) -> str:
        return f"ws://127.0.0.1:{self.port}/feed?token={token}"

    def page(self, token: str) -> str:
        """The page a token's link opens: the actor's page for the actor's."""
        return f"{self.base}/{'actor' if token == self.actor else ''}?token={token}"


LINK = re.compile(r"(https?://[^/\s]+:(\d+))/(?:actor)?\?token=(\S+)")


@contextlib.contextmanager
def served_room(tmp: Path, args: list[str], **env: str) -> Iterator[ServedRoom]:
    """Start ``immersion serve --port 0 --takes tmp/takes ARGS``: its console goes to
    tmp/serve.log, its own log to tmp/room.log."""
    command = [sys.executable, "-m", "immersion", "serve", "--port", "0", "--log"]
    command += [str(tmp / "room.log"), "--takes", str(tmp / "takes")]
    tmp.mkdir(parents=True, exist_ok=True)
    with (tmp / "serve.log").open("w") as log:
        process = subprocess.Popen(
            [*command, *args],
            stdout=subprocess.PIPE, stderr=log, text=True, cwd=ROOT,
            env={**os.environ, "PYTHONWARNINGS": "ignore", **env},
        )  # fmt: skip
        assert process.stdout is not None
        try:
            lines: list[str] = []
            while len(lines) < 12 and not any("actors:" in line for line in lines):
                lines.append(process.stdout.readline())
            links = {
                role: next((LINK.search(x) for x in lines if f"{role}s:" in x), None)
                for role in ("director", "observer", "actor")
            }
            director, observer, actor = links.values()
            assert director and observer and actor, (lines, (tmp / "serve.log").read_text())
            port, base = int(director[2]), director[1]
            yield ServedRoom(process, port, director[3], observer[3], actor[3], tmp / "takes", base)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
            process.stdout.close()


# A room's feed, as a viewer sees it ------------------------------------------------------


def perf_take(path: Path) -> Path:
    """A 2 s take (the hips rising slowly): a source that needs no model."""
    with TakeWriter(path, {"fps": 30.0}) as w:
        for k in range(60):
            w.write(k / 30, Pose.rest(hips_height=0.9 + 0.001 * k))
    return path


async def hello(ws: ClientConnection, codec: str = "jpeg") -> dict[str, Any]:
    welcome: dict[str, Any] = json.loads(await ws.recv())
    assert welcome["type"] == "welcome"
    await ws.send(json.dumps({"type": "hello", "codecs": [codec]}))
    return welcome


async def frames(ws: ClientConnection, count: int, ack: bool = True) -> list[Any]:
    """The next ``count`` video headers (acknowledging each), and the text messages between."""
    headers: list[Any] = []
    while len(headers) < count:
        message = await asyncio.wait_for(ws.recv(), 10)
        if isinstance(message, bytes):
            header, payload = decode_video(message)
            assert len(payload) > (100 if header.keyframe else 0)
            headers.append(header)
            if ack:
                await ws.send(json.dumps({"type": "ack", "frame": header.frame}))
    return headers


async def until(
    ws: ClientConnection, kind: str, check: Any = None, timeout: float = 10
) -> dict[str, Any]:
    """The next ``kind`` message that passes ``check``, acknowledging frames meanwhile."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        message = await asyncio.wait_for(ws.recv(), 10)
        if isinstance(message, bytes):
            await ws.send(json.dumps({"type": "ack", "frame": decode_video(message)[0].frame}))
            continue
        data: dict[str, Any] = json.loads(message)
        if data["type"] == kind and (check is None or check(data)):
            return data
    raise AssertionError(f"no {kind} message")


# Fuzzing readers of outside input -------------------------------------------------------------

# A reader's peak allocation on one fuzzed file: what a header claims must not be allocated up
# front (a file of a few lines needs well under 1 MiB).
FUZZ_MEMORY_BOUND = 16 << 20


def bounded(read: Callable[[], object]) -> object:
    """``read()``'s result or its CaptureError; any other exception fails the example, as does
    a peak allocation over FUZZ_MEMORY_BOUND or an error message of more than one short line."""
    from hypothesis import event

    tracemalloc.start()
    try:
        result: object = read()
    except CaptureError as exc:
        message = str(exc)
        assert message and "\n" not in message and len(message) < 600, message
        result = exc
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert peak < FUZZ_MEMORY_BOUND, f"peak {peak} bytes"
    # Shown by --hypothesis-show-statistics: how many inputs each outcome had.
    event("refused" if isinstance(result, CaptureError) else "accepted")
    return result


def open_page(browser: Any, url: str, requests: list[str] | None = None, **context: Any) -> Any:
    """A page of its own context at ``url``; its script errors gather in ``page.errors`` (a
    test asserts there are none), the URLs it asks for in ``requests`` when given."""
    page = browser.new_context(**context).new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    if requests is not None:
        page.on("request", lambda r: requests.append(r.url))
    page.goto(url)
    page.errors = errors
    return page


def page_until(page: Any, check: Callable[[], bool], what: str, timeout: float = 30) -> None:
    """Poll ``check`` (which may ask the page with ``page.evaluate``: the pages' CSP forbids
    Playwright's ``wait_for_function``, which evaluates a string) until true or ``timeout``."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        page.wait_for_timeout(100)


def hamlet_room(tmp: Path, *actors: str) -> Path:
    """A room's folder for Hamlet's Ophelia: tmp/perf.jsonl (a still source) and the record
    tmp/takes/casting.db holding the production, the role (noir-office, ada) and ``actors``;
    the record's path."""
    from immersion.casting import record as rec
    from immersion.casting.db import open_db

    perf_take(tmp / "perf.jsonl")
    (tmp / "takes").mkdir()
    db = tmp / "takes" / "casting.db"
    conn = open_db(db)
    rec.add_production(conn, "Hamlet")
    rec.add_role(conn, "Hamlet", "Ophelia", "noir-office", "ada")
    for actor in actors:
        rec.add_actor(conn, actor)
    conn.close()
    return db
