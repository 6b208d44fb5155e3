"""Replay: the room's main avatar performs a recorded take again, with its voice.

The player is a second :class:`~immersion.room.reader.Reader` (its clock, states, seek and
voice pacing), not a copy of it; this module adds what a replay shows beyond a reader: the
take's notes and markers as marks on its timeline, and the state every viewer sees.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from immersion.room.reader import ReaderState, ReaderTake, read_played_take

REPLAY = "replay"
ACTIONS = ("start", "pause", "resume", "seek", "stop")
MARK_KINDS = ("note", "marker")  # what a director wrote during the take
# The status carries the marks 4 times a second to every viewer: bounded to a few kB.
MAX_MARKS = 100  # a timeline with more is noise: the first ones are shown
MAX_MARK_TEXT = 120  # the rest of a long note is in the take list


@dataclass(frozen=True, slots=True)
class Mark:
    """A note or marker, ``t`` seconds into the take (its timeline's place)."""

    t: float
    kind: str
    text: str

    def to_json(self) -> dict[str, Any]:
        return {"t": round(self.t, 2), "kind": self.kind, "text": self.text}


def take_marks(events: list[dict[str, Any]], begin: float, duration: float) -> tuple[Mark, ...]:
    """The take's notes and markers, in time order, on the replay's clock (seconds from the
    take's ``begin``, within its ``duration``: a note typed after the last frame marks the end)."""
    marks = [
        Mark(
            min(max(float(e["t"]) - begin, 0.0), duration),
            e["event"],
            str(e.get("text", ""))[:MAX_MARK_TEXT],
        )
        for e in events
        if e.get("event") in MARK_KINDS
    ]
    marks.sort(key=lambda m: m.t)
    return tuple(marks[:MAX_MARKS])


@dataclass(frozen=True, slots=True)
class ReplayTake:
    take: ReaderTake
    marks: tuple[Mark, ...]


def load_replay_take(folder: Path, name: str) -> ReplayTake:
    """The take ``name`` in ``folder`` (never a path; a link out of it is refused), its voice
    and its marks, read strictly: errors are one line naming the file and the field."""
    played, take = read_played_take(folder, name, "replay take")
    return ReplayTake(played, take_marks(take.events, played.begin, played.duration))


def replay_json(state: ReaderState, marks: tuple[Mark, ...]) -> dict[str, Any]:
    """The status's ``replay``: {state, take, t, duration, ended, marks} (no avatar: a replay
    plays on whatever avatar the room shows)."""
    out = state.to_json()
    out.pop("avatar", None)
    if state.take is not None:
        out["marks"] = [m.to_json() for m in marks]
    return out
