"""Guests whose links are being checked are bounded: a flood of ``?present=`` sockets cannot
fill the casting desk's queue (where a rolled take waits to be filed). A real desk on a
tmp_path record, kept busy; the sockets are stand-ins that keep what they are sent."""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, cast

import pytest

from immersion.casting.desk import CastingDesk
from immersion.feed.guests import OPENING_AT_ONCE, OPENING_FULL, REFUSED, Guests
from immersion.feed.protocol import ViewerProtocol
from immersion.feed.server import Viewer

if TYPE_CHECKING:
    from websockets.asyncio.server import ServerConnection

    from immersion.feed.server import Feed

pytestmark = pytest.mark.pure


class _Socket:
    """What a refused guest's socket is sent, and how it is closed."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.closed: tuple[int, str] | None = None

    async def send(self, data: str) -> None:
        self.sent.append(json.loads(data))

    async def close(self, code: int, reason: str) -> None:
        self.closed = (code, reason)


def _viewer(k: int, sock: _Socket) -> Viewer:
    return Viewer(k, cast("ServerConnection", sock), ViewerProtocol("guest", 0.0))


def test_guests_checked_at_once_are_bounded(tmp_path: Path) -> None:
    desk = CastingDesk(tmp_path / "casting.db")
    desk.start()
    release = threading.Event()
    desk.call(lambda conn: release.wait(10))  # the desk busy: every link waits its turn
    guests = Guests(cast("Feed", SimpleNamespace(desk=desk)))
    socks = [_Socket() for _ in range(OPENING_AT_ONCE + 1)]

    async def flood() -> None:
        for sock in socks:
            guests.handshake(cast("ServerConnection", sock), {"present": ["nope"], "name": ["Sam"]})
        assert guests.pending() == len(socks)  # each holds a place against max viewers
        waiting = [
            asyncio.create_task(guests.serve(_viewer(k, s))) for k, s in enumerate(socks[:-1])
        ]
        await asyncio.sleep(0.05)
        assert guests.pending() == len(socks)
        assert not any(s.sent for s in socks)  # the first ones wait on the desk
        await asyncio.wait_for(guests.serve(_viewer(99, socks[-1])), 1)  # the one past: at once
        assert [m["message"] for m in socks[-1].sent] == [OPENING_FULL]
        assert socks[-1].closed == (REFUSED, "busy")
        assert guests.pending() == OPENING_AT_ONCE
        release.set()
        await asyncio.gather(*waiting)
        assert all(s.closed == (REFUSED, "unknown") for s in socks[:-1])
        assert guests.pending() == 0

    try:
        asyncio.run(flood())
    finally:
        release.set()
        desk.stop()
