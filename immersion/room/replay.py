"""Replay: recorded takes performed again in the room, one alone or up to four side by side.

One take plays on the main avatar, with its voice. Two to four play together, *side by side*:
the picture is split into a strip per take, each seen by the same camera on the same set and
avatar, time-aligned at their starts or at a mark of each (a note or marker written during it),
one voice heard at a time (the director's switch).

Each take's player is a :class:`~immersion.room.reader.Reader` (its clock, states, seek and
voice pacing), not a copy of one; :class:`Playback` drives them as one: every action reaches
each at the same room time, and alignment cuts each take so that its mark falls at the shared
start's offset (:func:`aligned`). This module adds what a replay shows beyond a reader: the
takes' notes and markers as marks on the timeline, and the state every viewer sees.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from capture.pose import Pose
from capture.voice import TimedPacket
from immersion.errors import StageError
from immersion.room.reader import Reader, ReaderTake, ReadPlayed, read_played_take
from immersion.stage.stage import MAX_COLUMNS

REPLAY = "replay"
ACTIONS = ("start", "pause", "resume", "seek", "stop", "voice")
MAX_TAKES = MAX_COLUMNS  # side by side: a strip each; a fifth would be too narrow to judge
MARK_KINDS = ("note", "marker")  # what a director wrote during the take
# The status carries the marks 4 times a second to every viewer: bounded to a few kB.
MAX_MARKS = 100  # a timeline with more is noise: the first ones are shown
MAX_MARK_TEXT = 120  # the rest of a long note is in the take list


class ReplayError(StageError):
    """A replay that cannot start as asked (a mark to align at that its take lacks)."""


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
    """A take as a replay plays it: cut by ``shift`` seconds when aligned at its mark number
    ``align`` (its marks stay on its own clock: the shared timeline's ``t`` is its ``t + shift``)."""

    take: ReaderTake
    marks: tuple[Mark, ...]
    shift: float = 0.0
    align: int | None = None

    def cut(self, seconds: float, align: int | None) -> ReplayTake:
        take = self.take.cut(seconds)
        return ReplayTake(take, self.marks, self.shift + take.begin - self.take.begin, align)

    def shown_marks(self) -> tuple[Mark, ...]:
        """Its marks on the shared timeline (those before its cut left off)."""
        return tuple(replace(m, t=m.t - self.shift) for m in self.marks if m.t >= self.shift)


def load_replay_take(folder: Path, name: str, read: ReadPlayed = read_played_take) -> ReplayTake:
    """The take ``name`` in ``folder`` (never a path; a link out of it is refused), its voice
    and its marks, read strictly: errors are one line naming the file and the field."""
    played, take = read(folder, name, "replay take")
    return ReplayTake(played, take_marks(take.events, played.begin, played.duration))


def aligned(takes: Sequence[ReplayTake], at: Sequence[int | None]) -> tuple[ReplayTake, ...]:
    """``takes`` cut so that each one's alignment point (``at``: the index of one of its marks,
    None for its start) falls at the same moment: the take whose point comes earliest plays
    from its start, the others from as far before their points. A mark a take lacks is a
    :class:`ReplayError`."""
    points = []
    for take, mark in zip(takes, at, strict=True):
        if mark is None:
            points.append(0.0)
        elif 0 <= mark < len(take.marks):
            points.append(take.marks[mark].t)
        else:
            raise ReplayError(
                f"replay: take {take.take.name} has {len(take.marks)} mark(s); "
                f"no mark {mark + 1} to align at"
            )
    lead = min(points, default=0.0)
    return tuple(
        take.cut(point - lead, mark) for take, point, mark in zip(takes, points, at, strict=True)
    )


class Playback:
    """One to :data:`MAX_TAKES` takes played as one (times in room-clock seconds; thread-safe
    as its readers are). Player 0 is the main avatar's; players 1.. the side-by-side strips'.

    Every action reaches each player at the same ``now``, so their clocks stay together; a
    take that ends holds its last pose while the longer ones play on. Its generation is player
    0's: what arrives for an older start is ignored, as a reader ignores it. Actions hold one
    lock across the players (theirs nest inside), so a start and a stop from two threads never
    interleave player by player; the render and voice threads' reads take only the players'."""

    __slots__ = ("_count", "_cuts", "_generations", "_lock", "_players", "_voice")

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._players = tuple(Reader(noun=REPLAY) for _ in range(MAX_TAKES))
        self._count = 1  # how many players the current (or last) start has
        self._generations: tuple[int, ...] = ()  # each player's, for that start
        self._cuts: tuple[ReplayTake, ...] = ()  # the started takes (their shifts and marks)
        self._voice: int | None = 0  # whose voice is heard

    # Actions ----------------------------------------------------------------------------------

    def load(self, names: Sequence[str]) -> int:
        """A start of ``names`` (1..MAX_TAKES): loading from now; the start's generation."""
        if not 1 <= len(names) <= MAX_TAKES:
            raise ReplayError(f"replay: 1 to {MAX_TAKES} takes, not {len(names)}")
        with self._lock:
            same = [c.take.name for c in self._cuts] == list(names)  # realigned: same voice
            for player in self._players[len(names) :]:
                player.stop(0.0)
            self._count, self._cuts = len(names), ()
            self._voice = self._voice if same else 0
            self._generations = tuple(
                player.load(name, "") for player, name in zip(self._players, names, strict=False)
            )
            return self._generations[0]

    def start(
        self, generation: int, takes: Sequence[ReplayTake], now: float, *, ready: bool
    ) -> bool:
        """Start ``generation``'s takes, read and aligned (as :meth:`Reader.start`): they play
        now when ``ready`` (one take: the main avatar stands already), else at :meth:`ready`
        (side by side: once the strips' avatars stand). False: a stop or newer start came."""
        with self._lock:
            generations = self._generations
            if not generations or generation != generations[0] or len(takes) != len(generations):
                return False
            started = zip(self._players, generations, takes, strict=False)
            if not all(p.start(g, t.take, now, ready=ready) for p, g, t in reversed(list(started))):
                return False  # player 0 last: once it plays, the others do
            self._cuts = tuple(takes)
            return True

    def ready(self, generation: int, now: float) -> bool:
        """The strips' avatars stand: a loaded side-by-side start plays from now."""
        with self._lock:
            generations = self._generations
            if not generations or generation != generations[0]:
                return False
            for player, own in reversed(list(zip(self._players, generations, strict=False))):
                if not player.ready(own, now):
                    return False
            return True

    def pause(self, now: float) -> str | None:
        return self._each(lambda p: p.pause(now))

    def resume(self, now: float) -> str | None:
        return self._each(lambda p: p.resume(now))

    def seek(self, now: float, position: float) -> str | None:
        """To ``position`` seconds on the shared timeline (a shorter take holds its end)."""
        return self._each(lambda p: p.seek(now, position))

    def stop(self, now: float, why: str = "", generation: int | None = None) -> bool:
        with self._lock:
            if not self._players[0].stop(now, why, generation):
                return False
            for player in self._players[1:]:
                player.stop(now, why)
            return True

    def listen(self, index: int | None) -> str | None:
        """Hear take ``index`` (0-based; None: none of them)."""
        with self._lock:
            if self.state == "stopped":
                return "the replay is stopped"
            if index is not None and not 0 <= index < self._count:
                return f"replay: there are {self._count} take(s); no take {index + 1} to hear"
            self._voice = index
            return None

    # Reads ------------------------------------------------------------------------------------

    @property
    def state(self) -> str:
        return self._players[0].state

    def takes(self) -> tuple[str, ...]:
        """The names of the takes it plays (or reads), none when stopped."""
        with self._lock:
            if self.state == "stopped":
                return ()
            return tuple(
                s.take for s in (p.snapshot(0.0) for p in self._players[: self._count]) if s.take
            )

    @property
    def count(self) -> int:
        """How many takes the current start plays (1: on the main avatar alone)."""
        return self._count

    @property
    def generation(self) -> int:
        return self._players[0].generation

    @property
    def noun(self) -> str:
        return REPLAY

    def poses(self, now: float) -> tuple[Pose | None, ...]:
        """Each take's pose for a frame shown at room time ``now`` (None: stopped or loading)."""
        return tuple(p.pose(now) for p in self._players[: self._count])

    def voice_due(self, now: float, lead: float = 0.0) -> list[TimedPacket]:
        """The heard take's voice packets due (as :meth:`Reader.voice_due`); the others' are
        passed over, so a switch to another voice picks it up where the picture is."""
        out: list[TimedPacket] = []
        for k, player in enumerate(self._players[: self._count]):
            due = player.voice_due(now, lead)
            if k == self._voice:
                out = due
        return out

    def snapshot(self, now: float) -> dict[str, Any]:
        """The status's ``replay``: {state, t, duration, ended, voice, take and marks (the
        first take's, on the shared timeline), takes: [{take, t, duration, shift, align,
        marks}]}: ``t``/``duration`` on the shared timeline (the longest take's), each take's
        own ``t`` and ``duration`` within it; a take's marks on its own clock (``shift``
        seconds of it are cut), ``align`` the index of the one it is aligned at."""
        with self._lock:
            states = [p.snapshot(now) for p in self._players[: self._count]]
            cuts, voice = self._cuts, self._voice
        out = states[0].to_json()
        out.pop("avatar", None)
        if states[0].take is None:
            return out
        takes: list[dict[str, Any]] = [
            {"take": s.take, "t": round(s.t, 2), "duration": round(s.duration, 2)} for s in states
        ]
        if len(cuts) == len(takes):  # read and started: their shifts and marks are known
            for shown, cut in zip(takes, cuts, strict=True):
                marks = [m.to_json() for m in cut.marks]
                shown.update(shift=round(cut.shift, 2), align=cut.align, marks=marks)
            out["marks"] = [m.to_json() for m in cuts[0].shown_marks()]
        out.update(
            t=round(max(s.t for s in states), 2),
            duration=round(max(s.duration for s in states), 2),
            ended=all(s.ended for s in states),
            voice=voice,
            takes=takes,
        )
        return out

    def _each(self, action: Callable[[Reader], str | None]) -> str | None:
        with self._lock:
            refused = action(self._players[0])  # its answer stands for all
            if refused is None:
                for player in self._players[1 : self._count]:
                    action(player)
            return refused
