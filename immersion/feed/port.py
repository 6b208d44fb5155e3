"""What the feed needs of a room: the port a room implements. The feed imports no room.

A room runs its own threads; these calls may come from the feed's event loop and must not
block it: anything slow (a take's file) answers through a future.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, Protocol

from immersion.room.messages import Command, Picture, RoomEvent, RoomStatus, TakeList


class RoomPort(Protocol):
    on_event: Callable[[RoomEvent], None]  # set by the feed; called from the room's threads

    def now(self) -> float: ...

    def status(self) -> RoomStatus: ...

    def choices(self) -> dict[str, Any]: ...

    def takes(self) -> TakeList: ...

    def set_picture_sink(self, sink: Callable[[Picture], None]) -> None: ...

    def steer(self, command: Command) -> str | None: ...

    def take_start(self) -> Future[str | None]: ...

    def take_stop(self) -> Future[str | None]: ...

    def annotate(self, kind: str, text: str) -> None: ...

    def cue(self, text: str) -> str: ...
