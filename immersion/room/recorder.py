"""The recorder: the one owner of the take files and of the room's take list.

Capture hands it poses, the feed hands it take starts and stops, notes and voice packets; each
is a message on a bounded queue, and all disk I/O happens on the recorder's own thread, never on
the feed's event loop. Take files are append-only and flushed per line
(:class:`~capture.take.TakeWriter`), their voice files per Ogg page
(:class:`~capture.voice.VoiceWriter`, beside the take and named in its header), so a killed
room leaves everything up to the kill readable.

A write that fails (a full disk, a yanked drive) ends the take then and there: what was
written stays readable, directors are told why, capture and rendering go on, and a new take is
refused, with the reason, until the disk has room again.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import shutil
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from capture.errors import CaptureError, VoiceFormatError, VoiceWriteError
from capture.pose import Pose
from capture.take import TakeWriter
from capture.voice import VoiceWriter
from immersion.errors import StageError
from immersion.room.messages import (
    NoteAdded,
    NoteItem,
    Problem,
    RoomEvent,
    TakeChanged,
    TakeEntry,
    TakeList,
    TakeState,
)

log = logging.getLogger(__name__)

# ~3 s of poses (30 a second) and voice (50 packets a second): a disk that stalls longer costs
# frames, not memory.
QUEUE_SIZE = 256
RECHECK_S = 2.0  # how often a refusal for want of disk is looked at again
NOTES_KEPT = 500  # per take, in memory for viewers; the take file keeps every one


@dataclass(frozen=True, slots=True)
class TakeEnded:
    """A take that has ended, for whoever files it (the casting record): names in the takes
    folder."""

    file: str
    duration: float
    voice: str | None
    talkback: str | None
    rolled_by: str
    ended_by: str | None  # why it stopped when nobody stopped it
    notes: tuple[tuple[float, str, str], ...] = ()  # (t in the take, kind, text), as rolled


# Files an ended take somewhere (the casting record), on the recorder's thread; a StageError
# it raises is told to directors as a problem, and the take itself stays as written.
OnTakeEnd = Callable[[TakeEnded], None]


@dataclass(frozen=True, slots=True)
class StartTake:
    header: dict[str, Any]
    reply: Future[str | None]  # None: rolling; else why not


@dataclass(frozen=True, slots=True)
class StopTake:
    reply: Future[str | None]


@dataclass(frozen=True, slots=True)
class RecordPose:
    t: float  # room clock
    pose: Pose


@dataclass(frozen=True, slots=True)
class RecordVoice:
    t: float  # capture time, room clock
    opus: bytes
    talkback: bool  # a director's, recorded only when the room was started to


@dataclass(frozen=True, slots=True)
class RecordNote:
    item: NoteItem
    reply: Future[NoteItem] | None = None


@dataclass(frozen=True, slots=True)
class _Stop:
    pass


Message = StartTake | StopTake | RecordPose | RecordVoice | RecordNote | _Stop


class Recorder:
    """Runs on its own thread (:meth:`run`); everything else talks to it by :meth:`send`."""

    def __init__(
        self,
        takes_dir: Path,
        clock: Callable[[], float],
        emit: Callable[[RoomEvent], None],
        min_free_bytes: int,
        talkback: bool = False,  # takes get a talkback voice file too
    ) -> None:
        self.takes_dir = takes_dir
        self.talkback = talkback
        self.clock = clock
        self.emit = emit
        self.min_free_bytes = min_free_bytes
        self.on_end: OnTakeEnd | None = None  # set before the thread starts
        self._queue: queue.Queue[Message] = queue.Queue(QUEUE_SIZE)
        self.dropped = 0  # messages not recorded because the queue was full
        # Published for other threads: replaced whole, never changed in place.
        self.takes = TakeList()
        self.state = TakeState(rolling=False)
        # The recorder thread's own.
        self._writer: TakeWriter | None = None
        self._voices: dict[bool, VoiceWriter] = {}  # talkback? -> its voice file
        self._refused: str | None = None  # why a take would be refused now; re-checked
        self._started = 0.0
        self._header: dict[str, Any] = {}
        self._entries: list[TakeEntry] = []
        self._notes: list[tuple[NoteItem, ...]] = []

    # Any thread ---------------------------------------------------------------------------------

    def send(self, message: Message) -> None:
        """Queue ``message`` without ever blocking the caller (the feed's event loop among
        them): when the recorder is that far behind, a pose is dropped and counted, a note too,
        and a take command is answered at once that the recorder is busy."""
        try:
            self._queue.put_nowait(message)
        except queue.Full:
            self.dropped += 1
            if isinstance(message, StartTake | StopTake):
                message.reply.set_result("the recorder is behind (a slow disk?); try again")
            elif isinstance(message, RecordNote):
                log.warning("recorder behind: note %r not recorded", message.item.text[:40])
                if message.reply is not None:
                    message.reply.set_result(message.item)

    def recording(self) -> bool:
        return self.state.rolling

    # The recorder thread ------------------------------------------------------------------------

    def run(self) -> None:
        while True:
            try:
                message = self._queue.get(timeout=RECHECK_S if self._refused else None)
            except queue.Empty:  # refused for want of disk: has room come back?
                self._set_refused(self._refusal())
                continue
            if isinstance(message, _Stop):
                self._stop_take(None)
                return
            if isinstance(message, RecordPose):
                self._write_pose(message)
            elif isinstance(message, RecordVoice):
                self._write_voice(message)
            elif isinstance(message, StartTake):
                message.reply.set_result(self._start(message.header))
            elif isinstance(message, StopTake):
                message.reply.set_result(self._stop_take(None))
            else:
                message_item = self._note(message.item)
                if message.reply is not None:
                    message.reply.set_result(message_item)

    def stop(self) -> None:
        """Close a rolling take and end the thread, after what is queued (a plain thread's
        call: it may wait its turn)."""
        try:
            self._queue.put(_Stop(), timeout=10)
        except queue.Full:
            log.error("the recorder is stuck (its disk?); a rolling take keeps what it has")

    def _start(self, header: dict[str, Any]) -> str | None:
        if self._writer is not None:
            return f"a take is already rolling ({self._writer.path.name})"
        refused = self._refusal()
        self._set_refused(refused)
        if refused:
            return refused
        stamp = time.strftime("%Y%m%d-%H%M%S")
        number = sum(1 for e in self._entries if e.file) + 1
        path = self.takes_dir / f"take-{stamp}-{number:02d}.jsonl"
        now = self.clock()
        voices = {False: path.with_suffix(".opus")}
        if self.talkback:
            voices[True] = path.with_suffix(".talkback.opus")
        names = {"voice": voices[False].name}
        if self.talkback:
            names["talkback"] = voices[True].name
        try:
            self._writer = TakeWriter(path, {**header, **names, "roomTime": round(now, 4)})
            for talkback, voice in voices.items():  # each kept as made: closed if one fails
                self._voices[talkback] = VoiceWriter(voice, origin=now)
        except (CaptureError, OSError) as exc:
            self._close_voices()
            if self._writer is not None:
                with contextlib.suppress(OSError):
                    self._writer.close()
            self._writer = None
            return f"cannot start a take: {exc}"
        self._started = now
        self._header = {**header, **names}
        self._entries.append(TakeEntry(path.name, now))
        self._notes.append(())
        self._publish(TakeChanged(self._entries[-1]))
        return None

    def _refusal(self) -> str | None:
        """Why a take cannot start now: too little room on its disk."""
        try:
            self.takes_dir.mkdir(parents=True, exist_ok=True)
            free = shutil.disk_usage(self.takes_dir).free
        except OSError as exc:
            return f"takes folder {self.takes_dir}: {exc.strerror or exc}"
        if free < self.min_free_bytes:
            return (
                f"takes folder {self.takes_dir} has {free // 1024} KB free; a take needs "
                f"{self.min_free_bytes // 1024} KB: free some space"
            )
        return None

    def _stop_take(self, reason: str | None) -> str | None:
        writer = self._writer
        if writer is None:
            return "no take is rolling"
        self._writer = None
        self._close_voices()
        now = self.clock()
        fps = writer.frames / (now - self._started) if now > self._started else 0.0
        try:
            if reason is None:
                end = now - self._started
                writer.write_event(end, "end", frames=writer.frames, fps=round(fps, 3))
            writer.close()
        except OSError as exc:  # the disk filled during the last lines: what is there stays
            reason = reason or f"the take could not be closed ({exc.strerror or exc})"
            with contextlib.suppress(OSError):
                writer.close()
        entry = replace(
            self._entries[-1], duration=now - self._started, frames=writer.frames, ended_by=reason
        )
        self._entries[-1] = entry
        if reason:
            self._refused = self._refusal()
        self._publish(TakeChanged(entry))
        if reason:
            self.emit(Problem("take", f"{writer.path.name} stopped: {reason}", now))
        self._file(writer.path.name, now - self._started, reason)
        return None

    def _file(self, name: str, duration: float, reason: str | None) -> None:
        if self.on_end is None:
            return
        header = self._header
        ended = TakeEnded(
            name,
            duration,
            header.get("voice"),
            header.get("talkback"),
            str(header.get("rolledBy", "")),
            reason,
            tuple((n.take_t, n.kind, n.text) for n in self._notes[-1] if n.take_t is not None),
        )
        try:
            self.on_end(ended)
        except StageError as exc:
            self.emit(Problem("take", f"{name} was not filed: {exc}", self.clock()))

    def _write_pose(self, message: RecordPose) -> None:
        if self._writer is None or message.t < self._started:
            return  # captured before the take started, queued while it did
        try:
            t = message.t - self._started
            self._writer.write(t, replace(message.pose, t=t))
        except OSError as exc:
            self._fail(exc)

    def _write_voice(self, message: RecordVoice) -> None:
        voice = self._voices.get(message.talkback)
        if voice is None or message.t < self._started:
            return
        try:
            voice.write(message.t, message.opus)
        except VoiceFormatError as exc:  # one bad packet from a page: dropped, the take goes on
            log.info("voice packet not recorded: %s", exc)
        except (VoiceWriteError, OSError) as exc:
            self._fail(exc)

    def _close_voices(self) -> None:
        for voice in self._voices.values():
            try:
                voice.close()
            except (VoiceWriteError, OSError) as exc:  # what is there stays readable
                log.warning("voice file %s: %s", voice.path.name, exc)
        self._voices = {}

    def _note(self, item: NoteItem) -> NoteItem:
        """Into the rolling take, and the list: under the rolling or last take, or, before any
        take, under one unnamed entry."""
        if self._writer is not None:
            item = replace(item, take_t=item.t - self._started)
            try:
                self._writer.write_event(item.t - self._started, item.kind, text=item.text)
            except OSError as exc:
                self._fail(exc)
        if not self._entries:
            self._entries.append(TakeEntry("", 0.0))
            self._notes.append(())
        self._notes[-1] = (*self._notes[-1][-(NOTES_KEPT - 1) :], item)
        self._publish(NoteAdded(self._entries[-1].file, item))
        return item

    def _fail(self, exc: OSError | VoiceWriteError) -> None:
        detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        reason = f"writing failed ({detail})"
        log.warning("take %s: %s", self._writer.path if self._writer else "?", reason)
        self._stop_take(reason)

    def _publish(self, event: RoomEvent) -> None:
        self.takes = TakeList(tuple(self._entries), tuple(self._notes))
        self._publish_state()
        self.emit(event)

    def _set_refused(self, refused: str | None) -> None:
        if refused != self._refused:
            self._refused = refused
            self._publish_state()

    def _publish_state(self) -> None:
        writer = self._writer
        self.state = (
            TakeState(True, writer.path.name, self._started)
            if writer is not None
            else TakeState(False, refused=self._refused)
        )
