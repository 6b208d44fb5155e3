"""What the feed needs of a room: the port a room implements. The feed imports no room.

A room runs its own threads; these calls may come from the feed's event loop and must not
block it: anything slow (a take's file) answers through a future.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from capture.landmarks import FaceLandmarks, HandLandmarks
from immersion.room.messages import Command, Picture, RoomEvent, RoomStatus, SidesState, TakeList


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

    def reader_control(
        self, action: str, take: str | None = None, avatar: str | None = None
    ) -> Future[str | None]: ...

    def replay_control(
        self,
        action: str,
        takes: tuple[str, ...] = (),
        position: float | None = None,
        *,
        align: tuple[int | None, ...] = (),
        voice: int | None = None,
    ) -> Future[str | None]: ...

    def replaying(self) -> bool: ...

    def replay_shown(self) -> int | None: ...

    @property
    def sides(self) -> SidesState | None: ...

    def set_sides(self, text: str) -> SidesState: ...

    def scroll_sides(self, line: int) -> SidesState | None: ...

    def cue(self, text: str) -> str: ...

    def actor_joined(self, session: int, consent: int) -> None: ...

    def actor_pose(
        self,
        session: int,
        capture_t: float,
        world: NDArray[np.float64],
        visibility: NDArray[np.float64],
        image: NDArray[np.float64] | None = None,
        face: FaceLandmarks | None = None,
        left_hand: HandLandmarks | None = None,
        right_hand: HandLandmarks | None = None,
    ) -> str | None: ...

    def actor_picture(self, session: int, width: int, height: int) -> str | None: ...

    def actor_calibrate(self, session: int) -> str | None: ...

    def actor_left(self, session: int, explicit: bool) -> None: ...

    def voice(self, capture_t: float, opus: bytes, talkback: bool) -> float: ...
