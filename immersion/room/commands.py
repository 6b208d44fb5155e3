"""The director's switches on their way to the render thread: bounded and coalesced.

A flood of switches must not become a backlog the render loop works through while every viewer
waits: there is one slot per kind of switch, a newer switch replaces one not yet carried out,
and the costly ones (a scene or avatar load, ~1-2 s on a CPU) are carried out at most once per
``gap_s``, the newest winning; a reader's avatar or a side-by-side split that loads nothing
(taken off, or standing already: the render loop says which) does not wait. So the box holds at
most seven commands (a cue, the sides, the reader's avatar and a side-by-side split too: the
newest of each), whatever arrives.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable

from immersion.room.messages import (
    Command,
    CueActor,
    SetReader,
    ShowSides,
    SplitTakes,
    SwitchAvatar,
    SwitchCamera,
    SwitchScene,
)

COSTLY = (SwitchScene, SwitchAvatar, SetReader, SplitTakes)


class CommandBox:
    """Written by the feed's thread, emptied by the render thread (times in seconds)."""

    __slots__ = ("_last_costly", "_lock", "_slots", "gap_s", "replaced")

    def __init__(self, gap_s: float) -> None:
        self.gap_s = gap_s
        self._lock = threading.Lock()
        self._slots: dict[type, Command] = {}
        self._last_costly = -math.inf
        self.replaced = 0  # switches overtaken by a newer one before they were carried out

    def put(self, command: Command) -> None:
        with self._lock:
            if isinstance(command, SwitchScene):
                # A preset chosen for the old set means nothing on the new one.
                self.replaced += self._slots.pop(SwitchCamera, None) is not None
            self.replaced += self._slots.get(type(command)) is not None
            self._slots[type(command)] = command

    def due(
        self, now: float, loads: Callable[[SetReader | SplitTakes], bool] = lambda c: True
    ) -> list[Command]:
        """What to carry out now, in order: at most one load (a scene before an avatar; a
        reader's avatar or a split that ``loads`` nothing comes at once), then a camera preset
        (which must name a preset of the set then standing)."""
        out: list[Command] = []
        with self._lock:
            light = [
                kind for kind in (SetReader, SplitTakes) if _light(self._slots.get(kind), loads)
            ]
            if now - self._last_costly >= self.gap_s:
                for kind in COSTLY:
                    if kind in self._slots and kind not in light:
                        out.append(self._slots.pop(kind))
                        self._last_costly = now
                        break
            out.extend(self._slots.pop(kind) for kind in light if kind in self._slots)
            if SwitchCamera in self._slots and SwitchScene not in self._slots:
                out.append(self._slots.pop(SwitchCamera))
            for cheap in (CueActor, ShowSides):
                if cheap in self._slots:
                    out.append(self._slots.pop(cheap))
        return out

    def pending(self) -> int:
        with self._lock:
            return len(self._slots)


def _light(command: Command | None, loads: Callable[[SetReader | SplitTakes], bool]) -> bool:
    """A reader's or split's command that loads no avatar (a reader taken off loads none)."""
    if isinstance(command, SetReader) and command.avatar is None:
        return True
    return isinstance(command, SetReader | SplitTakes) and not loads(command)
