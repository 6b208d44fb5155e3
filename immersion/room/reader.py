"""The reader: a scene partner on the pack's second mark, playing a recorded take on the room clock.

A director chooses a take from the room's takes folder (by name; never a path) and an avatar
from the catalogue; the reader plays the take's poses and its voice so the actor has someone to
play opposite. :class:`Reader` is the pure core: a state machine and a clock, no engine, no
sockets. The render thread asks it for the pose at a frame's time, the room's reader thread for
the voice packets due, the feed's loop drives its actions; one lock keeps them apart.

States: ``stopped``; ``loading`` (the take is read, its avatar is being loaded on the render
thread: the clock starts when it stands on its mark, so the first second is not lost); then
``playing`` or ``paused``. A take that ends *holds* its last pose (and falls silent) until it is
restarted or stopped: a partner that loops back to its first line would confuse a scene, and
one that vanishes would leave the actor facing nothing.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from capture.errors import TakeFormatError
from capture.pose import Pose
from capture.take import read_take
from capture.voice import TimedPacket, read_voice, take_voice
from immersion.safe_files import resolve_inside
from immersion.stage.pose_feed import blend

READER = "reader"  # the reader's name among the stage's extra performers
STATES = ("stopped", "loading", "playing", "paused")
ACTIONS = ("start", "pause", "resume", "restart", "stop")
VOICE_FRAME_S = 0.02  # an Opus packet's length
MAX_LISTED_TAKES = 200


@dataclass(frozen=True, slots=True)
class ReaderTake:
    """A take's poses and voice packets, both on the take's own clock."""

    name: str
    poses: tuple[Pose, ...]
    voice: tuple[TimedPacket, ...] = ()

    def __post_init__(self) -> None:
        if not self.poses:
            raise TakeFormatError(f"{self.name}: a take with no poses has nothing to play")

    @property
    def begin(self) -> float:
        """The take's time its playing starts at: its first pose or voice packet."""
        first = self.poses[0].t
        return min(first, self.voice[0][0]) if self.voice else first

    @property
    def end(self) -> float:
        last = self.poses[-1].t
        return max(last, self.voice[-1][0] + VOICE_FRAME_S) if self.voice else last

    @property
    def duration(self) -> float:
        return self.end - self.begin


def take_name(name: str) -> str:
    """``name`` when it is a take's plain file name (``NAME.jsonl``, no folder), else a
    :class:`TakeFormatError` line saying so."""
    if (
        not name
        or "/" in name
        or "\\" in name
        or "\0" in name
        or name.startswith(".")
        or PurePosixPath(name).suffix != ".jsonl"
    ):
        raise TakeFormatError(
            f"take {name[:80]!r}: a reader plays a take by its file name in the room's takes "
            "folder (NAME.jsonl), never a path"
        )
    return name


def load_reader_take(folder: Path, name: str) -> ReaderTake:
    """The take ``name`` in ``folder`` (a link out of it is refused) and its voice file, read
    strictly; the errors are one line naming the file and the field."""
    path = resolve_inside(folder, take_name(name), "reader take")
    take = read_take(path)
    poses = tuple(p for p in take.poses if p is not None)
    voice_path = take_voice(path, take.header)
    voice = (
        read_voice(voice_path).packets if voice_path is not None and voice_path.is_file() else ()
    )
    return ReaderTake(name, poses, voice)


def listed_takes(folder: Path) -> list[str]:
    """The takes a reader can play: the folder's take files, oldest name first (names carry
    their date), at most :data:`MAX_LISTED_TAKES` of the newest."""
    try:
        names = sorted(p.name for p in folder.glob("*.jsonl") if p.is_file())
    except OSError:
        return []
    return names[-MAX_LISTED_TAKES:]


def pose_at(poses: Sequence[Pose], times: Sequence[float], t: float) -> Pose:
    """The pose at take time ``t``: blended between the two around it, else the nearest end
    (held: never extrapolated)."""
    k = bisect.bisect_right(times, t)
    if k == len(times):
        return poses[-1]
    if k == 0:
        return poses[0]
    older, newer = poses[k - 1], poses[k]
    span = newer.t - older.t
    return blend(older, newer, (t - older.t) / span) if span > 0 else newer


@dataclass(frozen=True, slots=True)
class ReaderState:
    """The reader as every viewer sees it."""

    state: str = "stopped"
    take: str | None = None
    avatar: str | None = None
    t: float = 0.0  # seconds into the take
    duration: float = 0.0

    @property
    def ended(self) -> bool:
        return self.state in ("playing", "paused") and self.t >= self.duration

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"state": self.state}
        if self.take is not None:
            out.update(
                take=self.take,
                avatar=self.avatar,
                t=round(self.t, 2),
                duration=round(self.duration, 2),
                ended=self.ended,
            )
        return out


class Reader:
    """The reader's state and clock (times in room-clock seconds). Thread-safe."""

    __slots__ = (
        "_avatar",
        "_last_voice_t",
        "_lock",
        "_origin",
        "_paused_at",
        "_state",
        "_take",
        "_times",
        "_voice_next",
    )

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._take: ReaderTake | None = None
        self._times: tuple[float, ...] = ()
        self._avatar: str | None = None
        self._state = "stopped"
        self._origin = 0.0  # the room time the take's begin plays at (playing)
        self._paused_at = 0.0  # seconds into the take (paused, loading)
        self._voice_next = 0  # the next voice packet to send
        self._last_voice_t = float("-inf")

    # Actions (the feed's loop; the render thread for ready and stop) --------------------------

    def start(self, take: ReaderTake, avatar: str, now: float, *, ready: bool = False) -> None:
        """Play ``take`` from its start as ``avatar``; the clock waits for :meth:`ready`
        unless ``ready`` (the avatar already stands on its mark)."""
        with self._lock:
            self._take, self._avatar = take, avatar
            self._times = tuple(p.t for p in take.poses)
            self._seek(0.0)
            self._state = "loading"
            if ready:
                self._play(now)

    def ready(self, avatar: str, now: float) -> None:
        """The render thread has ``avatar`` on its mark: a loading reader starts playing."""
        with self._lock:
            if self._state == "loading" and avatar == self._avatar:
                self._play(now)

    def pause(self, now: float) -> str | None:
        with self._lock:
            if self._state != "playing":
                return f"the reader is {self._state}, not playing"
            self._paused_at = self._position(now)
            self._state = "paused"
            return None

    def resume(self, now: float) -> str | None:
        with self._lock:
            if self._state != "paused":
                return f"the reader is {self._state}, not paused"
            self._play(now)
            return None

    def restart(self, now: float) -> str | None:
        """From the take's start again (a paused reader plays)."""
        with self._lock:
            if self._take is None:
                return "the reader has no take to restart; start one"
            self._seek(0.0)
            if self._state != "loading":
                self._play(now)
            return None

    def stop(self) -> None:
        with self._lock:
            self._state = "stopped"
            self._take, self._times, self._avatar = None, (), None

    # Reads (any thread) -----------------------------------------------------------------------

    @property
    def state(self) -> str:
        return self._state

    @property
    def avatar(self) -> str | None:
        return self._avatar

    def snapshot(self, now: float) -> ReaderState:
        with self._lock:
            take = self._take
            if take is None:
                return ReaderState(self._state)
            return ReaderState(
                self._state, take.name, self._avatar, self._position(now), take.duration
            )

    def pose(self, now: float) -> Pose | None:
        """The reader's pose for a frame shown at room time ``now`` (None: stopped)."""
        with self._lock:
            take = self._take
            if take is None or self._state == "stopped":
                return None
            return pose_at(take.poses, self._times, take.begin + self._position(now))

    def voice_due(self, now: float, lead: float = 0.0) -> list[TimedPacket]:
        """The voice packets to send now, in order, each stamped with the room time it plays
        at: those up to ``lead`` seconds ahead of the take's place (a listener's buffer never
        runs dry between two calls). Nothing while not playing."""
        with self._lock:
            take = self._take
            if take is None or self._state != "playing":
                return []
            until = take.begin + self._position(now) + lead
            out: list[TimedPacket] = []
            while self._voice_next < len(take.voice) and take.voice[self._voice_next][0] <= until:
                t, opus = take.voice[self._voice_next]
                # After a resume the clock moved on: the packets stay in order and 20 ms apart.
                at = max(self._origin + t - take.begin, self._last_voice_t + VOICE_FRAME_S)
                self._last_voice_t = at
                out.append((at, opus))
                self._voice_next += 1
            return out

    # Internals (the lock held) ----------------------------------------------------------------

    def _position(self, now: float) -> float:
        """Seconds into the take, at most its duration (the end holds)."""
        assert self._take is not None
        if self._state == "playing":
            return min(max(now - self._origin, 0.0), self._take.duration)
        return self._paused_at

    def _seek(self, position: float) -> None:
        assert self._take is not None
        self._paused_at = position
        begin = self._take.begin + position
        self._voice_next = bisect.bisect_left([t for t, _ in self._take.voice], begin)
        self._last_voice_t = float("-inf")

    def _play(self, now: float) -> None:
        self._origin = now - self._paused_at
        self._state = "playing"
