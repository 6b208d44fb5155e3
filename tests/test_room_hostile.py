"""`immersion serve` under the conditions a tester found breaking it: a full takes disk, a
director flooding switches, a source that ends. Real processes, real sockets, a real tmpfs."""

from __future__ import annotations

import asyncio
import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import connect

from capture.pose import Pose
from capture.take import TakeWriter, read_take
from tests.support import frames, hello, perf_take, served_room, tmpfs, until


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    with tmpfs(tmp_path / "tiny", "3m") as folder:
        yield folder


def test_a_full_takes_disk_ends_the_take_tells_directors_and_the_room_plays_on(
    tmp_path: Path, tiny_disk: Path
) -> None:
    args = ["--source", str(perf_take(tmp_path / "perf.jsonl")), "--size", "320x180", "--fps", "20"]
    args += ["--takes", str(tiny_disk)]  # the later --takes wins over served_room's

    async def go(url: str) -> None:
        async with connect(url) as director:
            await hello(director)
            await director.send(json.dumps({"type": "take", "action": "start"}))
            await until(director, "status", lambda s: s["take"]["rolling"])
            await frames(director, 5)
            # Something else fills the disk while the take rolls.
            free = shutil.disk_usage(tiny_disk).free
            (tiny_disk / "filler.bin").write_bytes(b"\0" * (free - 16 * 1024))
            ended = await until(director, "take", lambda m: m["take"].get("endedBy"), 20)
            assert "No space left on device" in ended["take"]["endedBy"]
            problem = await until(director, "error", lambda e: e["scope"] == "room")
            assert "stopped" in problem["message"] and "No space left" in problem["message"]
            # A note or a new take now: answered, not a crash; the take is refused with why.
            await director.send(json.dumps({"type": "note", "text": "still here"}))
            await director.send(json.dumps({"type": "take", "action": "start"}))
            refused = await until(director, "error", lambda e: e["scope"] == "request")
            assert "KB free" in refused["message"]
            status = await until(director, "status", lambda s: s["take"].get("refused"))
            assert not status["take"]["rolling"]
            # Capture and rendering go on.
            before = status["frame"]
            assert len(await frames(director, 10)) == 10
            later = await until(director, "status", lambda s: s["frame"] > before)
            assert later["captureFps"] > 5 and later["renderFps"] > 5

    with served_room(tmp_path, args) as room:
        asyncio.run(go(room.url(room.director)))
        assert room.process.poll() is None
    (path,) = tiny_disk.glob("take-*.jsonl")
    assert len(read_take(path).poses) >= 5  # what reached the disk is readable
    log = (tmp_path / "serve.log").read_text()
    assert "Traceback" not in log


def test_a_flood_of_switches_neither_freezes_viewers_nor_queues_up(tmp_path: Path) -> None:
    args = ["--source", str(perf_take(tmp_path / "perf.jsonl")), "--size", "320x180", "--fps", "20"]

    async def go(director_url: str, observer_url: str) -> None:
        async with connect(director_url) as director, connect(observer_url) as watcher:
            await hello(director)
            await hello(watcher)
            await frames(watcher, 3)
            gaps: list[float] = []

            async def watch(seconds: float) -> None:
                last = time.monotonic()
                end = last + seconds
                while time.monotonic() < end:
                    message = await asyncio.wait_for(watcher.recv(), 10)
                    if isinstance(message, bytes):
                        now = time.monotonic()
                        gaps.append(now - last)
                        last = now
                        await watcher.send(json.dumps({"type": "ack", "frame": _frame_of(message)}))

            async def flood() -> None:
                packs = ["western-saloon", "noir-office", "starship-bridge", "enchanted-forest"]
                for k in range(60):  # every 50 ms for 3 s
                    await director.send(json.dumps({"type": "scene", "name": packs[k % 4]}))
                    await asyncio.sleep(0.05)

            await asyncio.gather(flood(), watch(8.0))
            assert max(gaps) <= 3.0, f"the watcher's longest gap was {max(gaps):.1f} s"
            # The newest switch won, and the room settled on it.
            status = await until(watcher, "status", lambda s: s["scene"] == "enchanted-forest", 15)
            assert status["scene"] == "enchanted-forest"

    with served_room(tmp_path, args) as room:
        asyncio.run(go(room.url(room.director), room.url(room.observer)))


def _frame_of(message: bytes) -> int:
    from immersion.feed.protocol import decode_video

    return decode_video(message)[0].frame


def test_rates_fall_to_zero_when_the_source_ends(tmp_path: Path) -> None:
    with TakeWriter(tmp_path / "short.jsonl", {"fps": 30.0}) as writer:
        for k in range(30):
            writer.write(k / 30, Pose.rest(k / 30, hips_height=0.9))
    args = ["--source", str(tmp_path / "short.jsonl"), "--once", "--size", "320x180"]

    async def go(url: str) -> None:
        async with connect(url) as ws:
            await hello(ws)
            seen: dict[str, Any] = await until(ws, "status", lambda s: s["captureFps"] > 0, 15)
            assert seen["latencyMs"]["capture"] is not None
            idle = await until(
                ws,
                "status",
                lambda s: s["captureFps"] == 0 and s["latencyMs"]["capture"] is None,
                15,
            )
            assert idle["renderFps"] > 0  # the room renders on, holding the last pose

    with served_room(tmp_path, args) as room:
        asyncio.run(go(room.url(room.director)))
