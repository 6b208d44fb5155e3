"""The reader: a scene partner on the pack's second mark, playing a recorded take on the room clock.

A director chooses a take from the room's takes folder (by name; never a path) and an avatar
from the catalogue; the reader plays the take's poses and its voice so the actor has someone to
play opposite. :class:`Reader` is the pure core: a state machine and a clock, no engine, no
sockets. The render thread asks it for the pose at a frame's time, the room's reader thread for
the voice packets due, the feed's loop drives its actions; one lock keeps them apart.

States: ``stopped``; ``loading`` (the take is being read off the feed's loop, then its avatar
loaded on the render thread: the clock starts when it stands on its mark, so the first second is not lost); then
``playing`` or ``paused``. A take that ends *holds* its last pose (and falls silent) until it is
restarted or stopped: a partner that loops back to its first line would confuse a scene, and
one that vanishes would leave the actor facing nothing.
"""

from __future__ import annotations

import bisect
import logging
import threading
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import Any

from capture.errors import TakeFormatError
from capture.pose import Pose
from capture.take import Take, read_take
from capture.voice import TimedPacket, read_voice, take_voice
from immersion.safe_files import resolve_inside
from immersion.stage.pose_feed import pose_at

READER = "reader"  # the reader's name among the stage's extra performers
STATES = ("stopped", "loading", "playing", "paused")
ACTIONS = ("start", "pause", "resume", "restart", "stop")
VOICE_FRAME_S = 0.02  # an Opus packet's length
MAX_LISTED_TAKES = 200
MAX_KEPT_FRAMES = 40_000  # takes kept read: 22 minutes at 30 fps, some 100 MB of poses

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ReaderTake:
    """A take's poses and voice packets, both on the take's own clock."""

    name: str
    poses: tuple[Pose, ...]
    voice: tuple[TimedPacket, ...] = ()
    start: float | None = None  # where its playing starts, when cut (see :meth:`cut`)

    def __post_init__(self) -> None:
        if not self.poses:
            raise TakeFormatError(f"{self.name}: a take with no poses has nothing to play")

    @property
    def begin(self) -> float:
        """The take's time its playing starts at: its first pose or voice packet, or its cut."""
        if self.start is not None:
            return self.start
        first = self.poses[0].t
        return min(first, self.voice[0][0]) if self.voice else first

    def cut(self, seconds: float) -> ReaderTake:
        """The take played from ``seconds`` after its begin (clamped to it): the poses stay
        (the first frame interpolates from the one before), the voice before it goes."""
        at = self.begin + min(max(seconds, 0.0), self.duration)
        return replace(self, voice=tuple(p for p in self.voice if p[0] >= at), start=at)

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


def read_played_take(folder: Path, name: str, where: str) -> tuple[ReaderTake, Take]:
    """The take ``name`` in ``folder`` (never a path; a link out of it is refused) as a player
    plays it (its poses and its voice file's packets), and the take file as read, strictly:
    the errors are one line naming ``where``, the file and the field."""
    path = resolve_inside(folder, take_name(name), where, "the takes folder")
    take = read_take(path)
    poses = tuple(p for p in take.poses if p is not None)
    voice_path = take_voice(path, take.header)
    voice = (
        read_voice(voice_path).packets if voice_path is not None and voice_path.is_file() else ()
    )
    return ReaderTake(name, poses, voice), take


ReadPlayed = Callable[[Path, str, str], tuple[ReaderTake, Take]]


class PlayedTakes:
    """Takes read for playing, kept while they fit in ``max_frames``: a replay restarted,
    realigned or compared again, or a reader's take replayed, is not read twice (a 60 s take
    is about a second of JSON). A take is known by its name, size and modification time, so
    one written anew is read anew; one deleted is let go at the next read or sweep. Thread-safe."""

    __slots__ = ("_kept", "_lock", "max_frames")

    def __init__(self, max_frames: int = MAX_KEPT_FRAMES) -> None:
        self.max_frames = max_frames
        self._lock = threading.Lock()
        self._kept: dict[tuple[Path, int, int], tuple[ReaderTake, Take]] = {}  # oldest first

    def sweep(self) -> None:
        """Let go of takes whose file is gone (deleted: nothing of them stays in memory)."""
        with self._lock:
            self._kept = {k: v for k, v in self._kept.items() if k[0].exists()}

    def read(self, folder: Path, name: str, where: str) -> tuple[ReaderTake, Take]:
        """As :func:`read_played_take`, from memory when the file is unchanged."""
        self.sweep()
        path = resolve_inside(folder, take_name(name), where, "the takes folder")
        try:
            stat = path.stat()
        except OSError:
            stat = None
        key = (path, stat.st_mtime_ns, stat.st_size) if stat is not None else None
        with self._lock:
            kept = self._kept.pop(key, None) if key is not None else None
            if key is not None and kept is not None:
                self._kept[key] = kept  # the newest used
                return kept
        played = read_played_take(folder, name, where)
        if key is None or len(played[0].poses) > self.max_frames:
            return played
        with self._lock:
            self._kept[key] = played
            while sum(len(p.poses) for p, _ in self._kept.values()) > self.max_frames:
                del self._kept[next(iter(self._kept))]
        return played


def load_reader_take(folder: Path, name: str, read: ReadPlayed = read_played_take) -> ReaderTake:
    """The take ``name`` in ``folder`` and its voice, for the reader."""
    return read(folder, name, "reader take")[0]


def listed_takes(folder: Path) -> list[str]:
    """The takes a reader can play: the folder's take files, oldest name first (names carry
    their date), at most :data:`MAX_LISTED_TAKES` of the newest."""
    try:
        names = sorted(p.name for p in folder.glob("*.jsonl") if p.is_file())
    except OSError:
        return []
    return names[-MAX_LISTED_TAKES:]


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
    """The reader's state and clock (times in room-clock seconds). Thread-safe.

    Each start has a *generation*: :meth:`load` takes a new one and :meth:`stop` ends it, and
    what arrives later for an older start (its take read, its avatar on the mark, its avatar's
    failed load) is ignored, so a stop or a newer start always wins. ``on_event`` hears each
    change of state as one line, for the rolling take (called outside the lock)."""

    __slots__ = (
        "_avatar",
        "_generation",
        "_last_voice_t",
        "_lock",
        "_name",
        "_noun",
        "_on_event",
        "_origin",
        "_paused_at",
        "_state",
        "_take",
        "_times",
        "_voice_next",
    )

    def __init__(
        self, on_event: Callable[[str], None] = lambda text: None, noun: str = READER
    ) -> None:
        self._lock = threading.Lock()
        self._noun = noun  # what its answers and events call it ("reader", "replay")
        self._on_event = on_event
        self._generation = 0
        self._name: str | None = None  # the take's name, known before it is read
        self._take: ReaderTake | None = None
        self._times: tuple[float, ...] = ()
        self._avatar: str | None = None
        self._state = "stopped"
        self._origin = 0.0  # the room time the take's begin plays at (playing)
        self._paused_at = 0.0  # seconds into the take (paused, loading)
        self._voice_next = 0  # the next voice packet to send
        self._last_voice_t = float("-inf")

    # Actions (the feed's loop; a take's reader for start; the render thread for ready, stop) ---

    def load(self, name: str, avatar: str) -> int:
        """A director's start: the take ``name`` is being read and ``avatar`` loaded (the
        reader is ``loading`` from now, so a stop is heard); the start's generation."""
        with self._lock:
            self._generation += 1
            self._name, self._avatar = name, avatar
            self._take, self._times = None, ()
            self._paused_at = 0.0
            self._state = "loading"
            generation = self._generation
        self._on_event(f"{self._noun} start: take {name} as {avatar}")
        return generation

    def start(self, generation: int, take: ReaderTake, now: float, *, ready: bool = False) -> bool:
        """Start ``generation``'s take, read: it waits at its start for :meth:`ready`, or plays
        now when ``ready`` (the avatar already stands on its mark). False: a stop or a newer
        start came meanwhile, and nothing changed."""
        with self._lock:
            if generation != self._generation or self._state != "loading":
                return False
            self._take, self._name = take, take.name
            self._times = tuple(p.t for p in take.poses)
            self._seek(0.0)
            if ready:
                self._play(now)
                text = self._describe(now)
        if ready:
            self._on_event(f"{self._noun} playing: {text}")
        return True

    def ready(self, generation: int, now: float) -> bool:
        """The render thread has ``generation``'s avatar on its mark: a loading reader whose
        take is read starts playing (False: not this start's, or not loading)."""
        with self._lock:
            if generation != self._generation or self._state != "loading" or self._take is None:
                return False
            self._play(now)
            text = self._describe(now)
        self._on_event(f"{self._noun} playing: {text}")
        return True

    def pause(self, now: float) -> str | None:
        with self._lock:
            if self._state != "playing":
                return f"the {self._noun} is {self._state}, not playing"
            self._paused_at = self._position(now)
            self._state = "paused"
            text = self._describe(now)
        self._on_event(f"{self._noun} pause: {text}")
        return None

    def resume(self, now: float) -> str | None:
        with self._lock:
            if self._state != "paused":
                return f"the {self._noun} is {self._state}, not paused"
            self._play(now)
            text = self._describe(now)
        self._on_event(f"{self._noun} resume: {text}")
        return None

    def restart(self, now: float) -> str | None:
        """From the take's start again (a paused reader plays; a loading one waits there)."""
        with self._lock:
            if self._take is None:
                if self._state == "loading":
                    return f"the {self._noun} is still reading its take"
                return f"the {self._noun} has no take to restart; start one"
            text = self._describe(now)
            self._seek(0.0)
            if self._state != "loading":
                self._play(now)
        self._on_event(f"{self._noun} restart: {text}")
        return None

    def seek(self, now: float, position: float) -> str | None:
        """To ``position`` seconds into the take (clamped to it): a playing take plays on from
        there, a paused one waits there. The voice follows: the packets from there on."""
        with self._lock:
            if self._take is None:
                if self._state == "loading":
                    return f"the {self._noun} is still reading its take"
                return f"the {self._noun} has no take to seek in; start one"
            if position != position:  # NaN: no place in a take
                return f"{self._noun}: seek needs a position in seconds"
            self._seek(min(max(position, 0.0), self._take.duration))
            if self._state == "playing":
                self._play(now)
            text = self._describe(now)
        self._on_event(f"{self._noun} seek: {text}")
        return None

    def stop(self, now: float, why: str = "", generation: int | None = None) -> bool:
        """Stop (``why``: the reason, when it was not a director's); with ``generation``, only
        that start. False: stopped already, or another start's."""
        with self._lock:
            if self._state == "stopped" or generation not in (None, self._generation):
                return False
            text = self._describe(now)
            self._generation += 1
            self._state = "stopped"
            self._name, self._take, self._times, self._avatar = None, None, (), None
        self._on_event(f"{self._noun} stop: {text}" + (f" ({why})" if why else ""))
        return True

    # Reads (any thread) -----------------------------------------------------------------------

    @property
    def noun(self) -> str:
        """What its answers and events call it ("reader", "replay")."""
        return self._noun

    @property
    def state(self) -> str:
        return self._state

    @property
    def generation(self) -> int:
        return self._generation

    @property
    def avatar(self) -> str | None:
        return self._avatar

    def snapshot(self, now: float) -> ReaderState:
        with self._lock:
            if self._name is None:
                return ReaderState(self._state)
            take = self._take
            if take is None:  # still being read
                return ReaderState(self._state, self._name, self._avatar)
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

    def _describe(self, now: float) -> str:
        where = f", at {self._position(now):.1f} s" if self._take is not None else ""
        return f"take {self._name} as {self._avatar}{where}"

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


class HeldVoice:
    """The reader's voice for a player that plays packets as they come (the headset's sound
    output): each is held until its picture shows, ``delay`` after the room time it plays at
    (the render loop poses the reader at :meth:`LatestPose.frame_time`, that much late)."""

    __slots__ = ("_held",)

    def __init__(self) -> None:
        self._held: deque[TimedPacket] = deque()

    def hold(self, packets: Iterable[TimedPacket]) -> None:
        self._held.extend(packets)

    def due(self, now: float, delay: float) -> list[bytes]:
        """The packets whose time has come at ``now``, in order."""
        out: list[bytes] = []
        while self._held and self._held[0][0] + delay <= now:
            out.append(self._held.popleft()[1])
        return out


STOPPING = "the room is stopping"


class TakeReads:
    """Reader takes read off the feed's loop, one at a time. Every start is answered: with
    its job's answer, or :data:`STOPPING` when the room stops before the job has answered."""

    __slots__ = ("_closed", "_executor", "_lock", "_pending")

    def __init__(self) -> None:
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="reader-take")
        self._lock = threading.Lock()
        self._pending: set[Future[str | None]] = set()
        self._closed = False

    def submit(self, job: Callable[[], str | None], reply: Future[str | None]) -> None:
        """Run ``job`` (its result: None, or why not) and answer ``reply`` with it."""
        with self._lock:
            if not self._closed:
                self._pending.add(reply)
                self._executor.submit(self._run, job, reply)
                return
        reply.set_result(STOPPING)

    def close(self) -> None:
        """Drop the jobs not begun and answer every start not answered yet."""
        with self._lock:
            self._closed = True
            pending, self._pending = self._pending, set()
        self._executor.shutdown(wait=False, cancel_futures=True)
        for reply in pending:
            reply.set_result(STOPPING)

    def _run(self, job: Callable[[], str | None], reply: Future[str | None]) -> None:
        try:
            answer = job()
        except Exception as exc:  # the director is answered whatever happens
            log.error("reader: %s", exc, exc_info=exc)
            answer = f"reader: {type(exc).__name__}: {exc}"
        with self._lock:
            if reply not in self._pending:
                return  # answered by close()
            self._pending.discard(reply)
        reply.set_result(answer)
