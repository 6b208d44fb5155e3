"""What the room's stages say to each other and to the feed: typed commands, immutable
snapshots and events. Nothing here does anything; every value is frozen, so a snapshot handed
from one thread to another cannot change under the reader.

Times are on the room clock (seconds since the room started) unless a name says otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

# Director commands, checked by the room before they are queued --------------------------------


@dataclass(frozen=True, slots=True)
class SwitchCamera:
    name: str


@dataclass(frozen=True, slots=True)
class SwitchScene:
    name: str


@dataclass(frozen=True, slots=True)
class SwitchAvatar:
    name: str


@dataclass(frozen=True, slots=True)
class CueActor:
    """Text on the actor's in-headset panel; ``kind`` is note, rolling or cut."""

    kind: str
    text: str


@dataclass(frozen=True, slots=True)
class ShowSides:
    """The sides on the actor's in-headset teleprompter (None: none yet)."""

    sides: SidesState | None


@dataclass(frozen=True, slots=True)
class SetReader:
    """The reader's avatar on the pack's second mark (``avatar`` None: take it off), for the
    reader's start ``generation`` (its ready and its failure concern that start only)."""

    avatar: str | None
    generation: int = 0


@dataclass(frozen=True, slots=True)
class SplitTakes:
    """Side by side: the picture split into ``count`` strips, a strip's avatar for each take
    after the first (``count`` 1: one view again), for the replay's start ``generation``."""

    count: int
    generation: int = 0


Command = SwitchCamera | SwitchScene | SwitchAvatar | CueActor | ShowSides | SetReader | SplitTakes


# Snapshots -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MeterSnapshot:
    """Recent tick times and per-stage medians (ms), as one thread's meter last saw them."""

    times: tuple[float, ...] = ()
    medians: Mapping[str, float] = field(default_factory=dict)
    window_s: float = 2.0

    def rate(self, now: float) -> float:
        """Ticks a second over the last ``window_s`` before ``now`` (or since the first tick,
        when that is sooner); it falls as ticks stop, and is 0 once fewer than two are left."""
        recent = [t for t in self.times if now - self.window_s < t <= now]
        if len(recent) < 2:
            return 0.0
        return (len(recent) - 1) / max(now - recent[0], 1e-6)

    def median(self, stage: str, now: float) -> float | None:
        """The stage's median, or None when the meter has not ticked within the window."""
        if not self.times or now - self.times[-1] > self.window_s:
            return None
        return self.medians.get(stage)


@dataclass(frozen=True, slots=True)
class TakeEntry:
    """One take in the room's list (``file`` empty: the notes made outside any take)."""

    file: str
    started: float
    duration: float | None = None  # None while it rolls
    frames: int = 0
    ended_by: str | None = None  # why it stopped when a director did not stop it

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"file": self.file, "started": round(self.started, 3)}
        if self.duration is not None:
            out["duration"] = round(self.duration, 2)
            out["frames"] = self.frames
        if self.ended_by:
            out["endedBy"] = self.ended_by
        return out


@dataclass(frozen=True, slots=True)
class NoteItem:
    """A note, marker, cue or actor press; ``take_t`` is its time in the rolling take."""

    kind: str
    text: str
    t: float
    take_t: float | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "text": self.text, "t": round(self.t, 3)}
        if self.take_t is not None:
            out["takeT"] = round(self.take_t, 3)
        return out


@dataclass(frozen=True, slots=True)
class TakeList:
    """The room's takes, oldest first, each with its notes: an immutable snapshot."""

    entries: tuple[TakeEntry, ...] = ()
    notes: tuple[tuple[NoteItem, ...], ...] = ()

    def newest(self, takes: int, notes: int) -> list[dict[str, Any]]:
        """The newest ``takes`` entries with the newest ``notes`` of each, as JSON."""
        out = []
        for entry, items in list(zip(self.entries, self.notes, strict=True))[-takes:]:
            if not entry.file and not items:
                continue
            out.append({**entry.to_json(), "notes": [n.to_json() for n in items[-notes:]]})
        return out


@dataclass(frozen=True, slots=True)
class TakeState:
    rolling: bool
    file: str | None = None
    since: float | None = None
    refused: str | None = None  # why a new take would be refused now (e.g. a full disk)


@dataclass(frozen=True, slots=True)
class RoomStatus:
    """The room at one moment, for every viewer alike."""

    now: float
    scene: str
    avatar: str
    camera: str
    cameras: tuple[str, ...]
    take: TakeState
    capture_fps: float
    render_fps: float
    latency_ms: Mapping[str, float | None]
    confidence: Mapping[str, float]
    frame: int
    source: str  # what drives the avatar now
    headset: Mapping[str, Any] | None = None
    avatar_licence: str = ""  # e.g. "... licence: not stated ..." for a plain glTF
    reader: Mapping[str, Any] | None = None  # the scene partner (ReaderState.to_json)
    replay: Mapping[str, Any] | None = None  # takes replayed (Playback.snapshot)

    def to_json(self) -> dict[str, Any]:
        take: dict[str, Any] = {"rolling": self.take.rolling}
        if self.take.rolling:
            take.update(file=self.take.file, since=self.take.since)
        if self.take.refused:
            take["refused"] = self.take.refused
        return {
            "now": round(self.now, 4),
            "scene": self.scene,
            "avatar": self.avatar,
            "avatarLicence": self.avatar_licence,
            "camera": self.camera,
            "cameras": list(self.cameras),
            "take": take,
            "captureFps": round(self.capture_fps, 1),
            "renderFps": round(self.render_fps, 1),
            "latencyMs": {
                k: (round(v, 1) if v is not None else None) for k, v in self.latency_ms.items()
            },
            "confidence": {k: round(v, 2) for k, v in self.confidence.items()},
            "frame": self.frame,
            "source": self.source,
            **({"headset": dict(self.headset)} if self.headset is not None else {}),
            **({"reader": dict(self.reader)} if self.reader is not None else {}),
            **({"replay": dict(self.replay)} if self.replay is not None else {}),
        }


@dataclass(frozen=True, slots=True)
class Picture:
    """One rendered picture for the mirror: top-down BGRA, read-only, the room's own copy."""

    frame: int
    capture_t: float
    render_t: float
    bgra: NDArray[np.uint8]
    cut: bool = False  # the picture changed all at once (a switch): start a new H.264 group
    replay: int | None = None  # the replay start whose takes it shows (None: the live source)

    @property
    def width(self) -> int:
        return int(self.bgra.shape[1])

    @property
    def height(self) -> int:
        return int(self.bgra.shape[0])


# Events the room reports to whoever serves it ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class TakeChanged:
    """A take started, ended or was cut short (``entry`` is its new state)."""

    entry: TakeEntry


@dataclass(frozen=True, slots=True)
class SidesState:
    """The sides on the actor's teleprompter: the scene's text and the line at its top."""

    text: str
    line: int

    @property
    def lines(self) -> int:
        return self.text.count("\n") + 1


@dataclass(frozen=True, slots=True)
class NoteAdded:
    file: str  # the take it belongs to ("" outside takes)
    item: NoteItem


@dataclass(frozen=True, slots=True)
class Problem:
    """Something went wrong and was dealt with; shown once, then it clears."""

    where: str
    text: str
    t: float


@dataclass(frozen=True, slots=True)
class CueToActor:
    """A cue for the actor's page: ``kind`` note, rolling or cut."""

    kind: str
    text: str


@dataclass(frozen=True, slots=True)
class VoiceOut:
    """One Opus packet of the room's own source's voice (a take's, a video's), for viewers."""

    t: float  # capture time, room clock
    opus: bytes
    replay: bool = False  # a replayed take's (the only voice a presentation's guest may hear)


@dataclass(frozen=True, slots=True)
class SidesChanged:
    """The teleprompter's sides were put up or scrolled (by a director or the actor's
    controller): every viewer is told."""

    sides: SidesState


@dataclass(frozen=True, slots=True)
class ReaderVoice:
    """One Opus packet of the reader's voice (the take it plays), for viewers; never recorded
    into the actor's voice file."""

    t: float  # when it plays, room clock
    opus: bytes
    to_actor: bool = True  # False: the room plays it to the actor itself (the headset's sound)


RoomEvent = TakeChanged | NoteAdded | Problem | CueToActor | VoiceOut | SidesChanged | ReaderVoice
