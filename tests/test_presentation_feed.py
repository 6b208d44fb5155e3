"""A presentation's guest on the feed, speaking the protocol: its own welcome and status (none
of the room's), no pictures of the live room, only its takes, no start while the room is in an
audition, pictures while its take plays and none the moment it stops, its view logged
(also for a guest who joins a screening another started), and none of the takes' notes unless
the presentation shows them."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect

from immersion.casting import presentations as present
from immersion.casting import record as rec
from immersion.casting.db import open_db
from immersion.feed.presenting import IN_AUDITION
from immersion.feed.protocol import decode_video, is_audio
from tests.support import ServedRoom, perf_take, served_room, until

pytestmark = pytest.mark.fixtures

PRIVATE = "private note"


class _Recording(ClientConnection):
    """A guest's socket that keeps every text message it gets, to look for what must not be
    in any of them."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.texts: list[str] = []

    async def recv(self, decode: bool | None = None) -> Any:
        message = await super().recv(decode)
        if isinstance(message, str):
            self.texts.append(message)
        return message


async def _quiet(ws: ClientConnection, seconds: float) -> tuple[int, list[dict[str, Any]]]:
    """Video frames and text messages that arrive in the next ``seconds`` (frames acked)."""
    frames, texts = 0, []
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        try:
            message = await asyncio.wait_for(ws.recv(), left)
        except TimeoutError:
            break
        if isinstance(message, bytes):
            if not is_audio(message):
                frames += 1
                await ws.send(json.dumps({"type": "ack", "frame": decode_video(message)[0].frame}))
        else:
            texts.append(json.loads(message))
    return frames, texts


async def _guest(room: ServedRoom, token: str, shown: str, other: str) -> None:
    base = f"ws://127.0.0.1:{room.port}/feed"
    async with connect(
        f"{base}?present={token}&name=Sam%20Producer", create_connection=_Recording
    ) as guest:
        assert isinstance(guest, _Recording)
        welcome = json.loads(await guest.recv())
        assert welcome["type"] == "presentation"
        assert [t["file"] for t in welcome["presentation"]["takes"]] == [shown]
        assert welcome["presentation"]["viewer"] == "Sam Producer"
        await guest.send(json.dumps({"type": "hello", "codecs": ["jpeg"], "audio": True}))
        frames, texts = await _quiet(guest, 1.5)  # the room renders its live source meanwhile
        assert frames == 0
        statuses = [t for t in texts if t["type"] == "status"]
        assert statuses and all(set(s) == {"type", "now", "replay", "busy"} for s in statuses)
        assert statuses[-1]["replay"] is None and statuses[-1]["busy"] is None

        async def refused(message: dict[str, Any]) -> str:
            await guest.send(json.dumps(message))
            line: str = (await until(guest, "error"))["message"]
            return line

        assert await refused({"type": "take", "action": "start"}) == (
            "take: a presentation's guest only watches and replays its takes"
        )
        assert await refused({"type": "replay", "action": "start", "take": other}) == (
            f"replay: take {other!r} is not in this presentation"
        )
        assert await refused({"type": "replay", "action": "stop"}) == (
            "replay: nothing of this presentation is playing"
        )
        async with connect(f"{base}?token={room.actor}"):  # an actor's page: an audition
            await until(guest, "status", lambda s: s["busy"] == IN_AUDITION)
            assert await refused({"type": "replay", "action": "start", "take": shown}) == (
                f"replay: {IN_AUDITION}"
            )
        await until(guest, "status", lambda s: s["busy"] is None)

        await guest.send(json.dumps({"type": "replay", "action": "start", "take": shown}))
        status = await until(guest, "status", lambda s: (s["replay"] or {}).get("t", 0) > 0.3)
        assert status["replay"]["take"] == shown and "marks" not in status["replay"]
        frames, _ = await _quiet(guest, 1.0)
        assert frames >= 5
        # Another guest joins the screening Sam started: let in, and logged as a view too.
        async with connect(f"{base}?present={token}&name=Kim") as kim:
            assert json.loads(await kim.recv())["type"] == "presentation"
            await kim.send(json.dumps({"type": "hello", "codecs": ["jpeg"]}))
            frames, _ = await _quiet(kim, 1.0)
            assert frames >= 3
        async with connect(f"{base}?token={room.director}") as director:
            await until(director, "welcome")
            await director.send(json.dumps({"type": "replay", "action": "stop"}))
            await until(guest, "status", lambda s: s["replay"] is None)
            frames, _ = await _quiet(guest, 1.0)
            assert frames == 0  # the live room again: nothing for the guest
            await director.send(json.dumps({"type": "presentation", "action": "list"}))
            listed = (await until(director, "presentations"))["presentations"]
            assert [(p["title"], p["state"]) for p in listed] == [
                ("Soon", "expired"),
                ("With notes", "open"),
                ("Gone", "revoked"),
                ("For Sam", "open"),
            ]
            [take] = listed[3]["takes"]
            assert [v["viewer"] for v in take["viewed"]] == ["Kim", "Sam Producer"]  # once each
        # The note was never in anything Sam's page got: welcome, statuses, errors.
        assert guest.texts and not any(PRIVATE in t for t in guest.texts)


async def _noted(room: ServedRoom, token: str) -> None:
    """A presentation that shows notes: the guest gets them."""
    url = f"ws://127.0.0.1:{room.port}/feed?present={token}&name=Ann"
    async with connect(url, create_connection=_Recording) as guest:
        assert isinstance(guest, _Recording)
        welcome = json.loads(await guest.recv())
        assert [n["text"] for n in welcome["presentation"]["takes"][0]["notes"]] == [PRIVATE]
        assert any(PRIVATE in t for t in guest.texts)


async def _expires(room: ServedRoom, token: str) -> tuple[str, str]:
    async with connect(f"ws://127.0.0.1:{room.port}/feed?present={token}&name=Kim") as guest:
        assert json.loads(await guest.recv())["type"] == "presentation"
        error = await until(guest, "error")
        await asyncio.wait_for(guest.wait_closed(), 5)
        assert error["scope"] == "presentation" and guest.close_code == 1008
        return error["message"], str(guest.close_reason)


async def _refused(room: ServedRoom, query: str) -> tuple[str, str]:
    async with connect(f"ws://127.0.0.1:{room.port}/feed?{query}") as guest:
        error = json.loads(await guest.recv())
        assert error["type"] == "error" and error["scope"] == "presentation"
        await guest.wait_closed()
        assert guest.close_code == 1008
        return error["message"], str(guest.close_reason)


def test_a_guest_sees_only_its_takes_and_only_while_they_play(tmp_path: Path) -> None:
    perf_take(tmp_path / "perf.jsonl")
    takes = tmp_path / "takes"
    takes.mkdir()
    for name in ("shown.jsonl", "other.jsonl"):
        shutil.copy(tmp_path / "perf.jsonl", takes / name)
    conn = open_db(takes / "casting.db")
    rec.add_production(conn, "Hamlet")
    role = rec.add_role(conn, "Hamlet", "Ophelia", "noir-office", "detective")
    audition = rec.open_audition(conn, role, rec.add_actor(conn, "Ada"), dt.date(2026, 11, 26))
    for name in ("shown.jsonl", "other.jsonl"):
        rec.file_take(conn, audition.id, name, 2.0)
    rec.add_note(conn, rec.find_take(conn, "shown.jsonl"), 0.5, PRIVATE, "note")
    week = present.utc_now() + dt.timedelta(days=7)
    made = present.create(conn, "For Sam", ["shown.jsonl"], week)
    gone = present.create(conn, "Gone", ["shown.jsonl"], week)
    present.revoke(conn, gone.presentation.id)
    noted = present.create(conn, "With notes", ["shown.jsonl"], week, show_notes=True)
    conn.close()

    args = ["--source", str(tmp_path / "perf.jsonl"), "--size", "160x90", "--fps", "15"]
    with served_room(tmp_path, [*args, "--db", str(takes / "casting.db")]) as room:
        # Open when it connects; cut off at its expiry, a few seconds later.
        conn = open_db(takes / "casting.db")
        soon = present.create(
            conn, "Soon", ["shown.jsonl"], present.utc_now() + dt.timedelta(seconds=3)
        )
        conn.close()
        assert asyncio.run(_expires(room, soon.token)) == (
            "this presentation has expired",
            "expired",
        )
        asyncio.run(_guest(room, made.token, "shown.jsonl", "other.jsonl"))
        asyncio.run(_noted(room, noted.token))
        line, why = asyncio.run(_refused(room, f"present={gone.token}&name=Sam"))
        assert "revoked" in line and why == "revoked"
        line, why = asyncio.run(_refused(room, "present=nope&name=Sam"))
        assert "not known" in line and why == "unknown"
        line, why = asyncio.run(_refused(room, f"present={made.token}"))
        assert line.startswith("name:") and why == "name"
