"""The audition room: it wires the stages and owns none of their state.

::

    ActorLink ◀── the actor's page (the feed's loop): landmarks in, one pipeline
        │
    CaptureWorker ──pose──▶ LatestPose ──▶ RenderLoop ──Picture──▶ picture sink (the feed)
          │                                   ▲
          └──RecordPose──▶ Recorder           └── CommandBox ◀── steer() (the feed's thread)
                              ▲
          take/note/cue ──────┘                  events (takes, notes, problems) ──▶ on_event

Each stage runs on its own thread and keeps its own state; they talk through the typed messages
of :mod:`immersion.room.messages`, bounded queues and immutable snapshots. The room's methods
are what a server needs (the feed's port): check a director's command and queue it, start or
stop a take, note, cue, and read one :class:`RoomStatus` snapshot. The room knows nothing of
viewers, sockets or codecs.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from numpy.typing import NDArray

from capture.camera import CameraModel
from capture.errors import CaptureError
from capture.landmarks import FaceLandmarks, HandLandmarks, LandmarkFrame
from capture.pose import Pose
from immersion.avatars.vrm import check_use, inspect_avatar
from immersion.catalogue import avatar_names, find_avatar, find_pack, pack_names
from immersion.config import RoomSettings
from immersion.errors import StageError
from immersion.headset.talkback import NoSoundOutputError, TalkbackPlayer
from immersion.room.actor import ActorLink, believable
from immersion.room.capture_worker import CaptureWorker
from immersion.room.commands import CommandBox
from immersion.room.messages import (
    Command,
    CueActor,
    CueToActor,
    NoteItem,
    Picture,
    Problem,
    ReaderVoice,
    RoomEvent,
    RoomStatus,
    SetReader,
    ShowSides,
    SidesChanged,
    SidesState,
    SplitTakes,
    SwitchAvatar,
    SwitchCamera,
    SwitchScene,
    TakeList,
    VoiceOut,
)
from immersion.room.reader import (
    ACTIONS,
    HeldVoice,
    PlayedTakes,
    Reader,
    TakeReads,
    listed_takes,
    load_reader_take,
    take_name,
)
from immersion.room.recorder import (
    Recorder,
    RecordNote,
    RecordVoice,
    StartTake,
    StopTake,
)
from immersion.room.render_loop import RenderLoop
from immersion.room.replay import ACTIONS as REPLAY_ACTIONS
from immersion.room.replay import MAX_TAKES, Playback, ReplayTake, aligned, load_replay_take
from immersion.scenes.manifest import load_pack
from immersion.stage.pose_feed import LatestPose
from immersion.vmc.sender import VmcSender

log = logging.getLogger(__name__)
T = TypeVar("T")
READER_TICK_S = 0.02  # the reader's voice is sent this often ...
READER_LEAD_S = 0.06  # ... up to this far ahead of when it plays
SWEEP_S = 2.0  # how soon a take deleted from outside stops playing and leaves memory

SCROLL_STEPS = {"scroll-down": 1, "scroll-up": -1}  # the actor's controller, a line at a time


class Room:
    def __init__(self, settings: RoomSettings) -> None:
        self.settings = settings
        self.started = time.monotonic()
        # Checked now, so a bad argument fails the command before anything starts.
        self.pack = load_pack(find_pack(settings.scene))
        avatar_path = find_avatar(settings.avatar)
        _, spec = inspect_avatar(avatar_path, settings.bone_map)
        check_use(spec.licence, settings.use, settings.licensed, avatar_path.name)
        self.on_event: Callable[[RoomEvent], None] = lambda event: None
        self._talkback: TalkbackPlayer | None = None  # plays talkback for the headset's wearer
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._commands = CommandBox(settings.switch_gap_s)
        latest = self.latest = LatestPose()
        self.recorder = Recorder(
            settings.takes_dir,
            self.now,
            self._emit,
            settings.min_free_bytes,
            talkback=settings.record_talkback,
        )
        self.actor = ActorLink()
        # The teleprompter's sides: replaced whole by the feed's loop (a director) or the render
        # thread (the actor's controller), under the lock; read by any thread.
        self.sides: SidesState | None = None
        self._sides_lock = threading.Lock()
        self.capture = CaptureWorker(
            settings, self.now, latest, self.recorder, self._emit, self._stop, actor=self.actor
        )
        self.capture.voice_out = self._own_voice
        self.vmc: VmcSender | None = None
        if settings.vmc is not None:  # the performance out to VSeeFace, Warudo, an engine
            self.vmc = VmcSender(settings.vmc, self.now)
            self.capture.pose_out = self._live_to_vmc
        self.render = RenderLoop(
            settings,
            self.pack,
            avatar_path,
            self.now,
            latest,
            self._commands,
            lambda: self.capture.snapshot,
            self._emit,
            self.actor_press,
            self._stop,
            rolling=self.recorder.recording,
        )
        # The scene partner: its take is read off the feed's loop, its avatar loaded on the
        # render thread, its voice sent by its own thread.
        # Each change of its state is recorded in the rolling take, so a replay lines up.
        self.reader = Reader(lambda text: self.annotate("event", text))
        self.render.reader = self.reader
        if self.vmc is not None:
            self.render.on_avatar = self.vmc.use_avatar
        self._reader_loads = TakeReads()
        self._played = PlayedTakes()  # takes read for the reader and replays, kept a while
        # A start's take applied and its avatar asked for, or a stop and its avatar taken off:
        # each pair together, so the render thread's slot never ends on the older of two.
        self._reader_lock = threading.Lock()
        self._reader_sound: TalkbackPlayer | None = None  # its voice in the headset
        # Replay: players on the reader's clock; while they play (or pause) the render
        # loop poses the main avatar from it, and the live source's poses (capture keeps
        # running) and voice are not shown. Its voice goes out as the VOICE source: it is the
        # main avatar's voice, so a page plays it as it plays the actor's.
        # Side by side, the render loop splits the picture, a strip and an avatar per take.
        self.replay = Playback()
        self.render.replay = self.replay
        self._replay_loads = TakeReads()

    # Clock, status, choices ----------------------------------------------------------------------

    def now(self) -> float:
        """The room clock: seconds since the room started."""
        return time.monotonic() - self.started

    @property
    def title(self) -> str:
        return self.pack.title

    def status(self) -> RoomStatus:
        now = self.now()
        captured, staged = self.capture.snapshot, self.render.snapshot
        return RoomStatus(
            now=now,
            scene=staged.scene,
            avatar=staged.avatar,
            camera=staged.camera,
            cameras=staged.cameras,
            take=self.recorder.state,
            capture_fps=captured.meter.rate(now),
            render_fps=staged.meter.rate(now),
            latency_ms={
                "capture": captured.meter.median("capture", now),
                "render": staged.meter.median("render", now),
            },
            confidence=captured.confidence,
            frame=staged.frame,
            source=captured.source,
            headset=staged.headset,
            avatar_licence=staged.licence,
            reader=self.reader.snapshot(now).to_json(),
            replay=_with_strips(self.replay.snapshot(now), staged.strips),
        )

    def choices(self) -> dict[str, Any]:
        return {
            "scenes": pack_names(),
            "avatars": avatar_names(),
            "size": [self.settings.width, self.settings.height],
            "takes": listed_takes(self.settings.takes_dir),  # what a reader can play
        }

    def takes(self) -> TakeList:
        return self.recorder.takes

    def set_picture_sink(self, sink: Callable[[Picture], None]) -> None:
        self.render.on_picture = sink

    # Director actions (any thread) ---------------------------------------------------------------

    def steer(self, command: Command) -> str | None:
        """Queue a switch; an error message when it names nothing in the catalogue. Names are
        looked up in the catalogue, never used as paths."""
        if isinstance(command, SwitchCamera) and command.name not in self.render.snapshot.cameras:
            return f"no camera preset {command.name!r} in {self.render.snapshot.scene}"
        if isinstance(command, SwitchScene) and command.name not in pack_names():
            return f"no scene pack {command.name!r} in this room's catalogue"
        if isinstance(command, SwitchAvatar) and command.name not in avatar_names():
            return f"no avatar {command.name!r} in this room's catalogue"
        self._commands.put(command)
        return None

    def take_start(self, by: str = "director") -> Future[str | None]:
        """Roll a take (``by``: who rolled it, written in its header); the future holds None,
        or why not (disk I/O happens on the recorder)."""
        staged, now = self.render.snapshot, self.now()
        rate = self.capture.snapshot.meter.rate(now)
        header = {
            "source": self.settings.source,
            "scene": staged.scene,
            "avatar": staged.avatar,
            "camera": staged.camera,
            # The capture's measured rate when the take starts; each frame carries its own
            # time, and the "end" line the rate over the whole take.
            "fps": round(rate, 2) if rate >= 0.01 else self.settings.fps,
            "rolledBy": by,
        }
        reply: Future[str | None] = Future()
        if self.replaying():  # a take records the actor, not a replay
            reply.set_result("a replay is on: stop it before rolling a take")
            return reply
        self.recorder.send(StartTake(header, reply))
        reply.add_done_callback(self._cue_when_done("rolling", "● ROLLING"))
        return reply

    def take_stop(self) -> Future[str | None]:
        reply: Future[str | None] = Future()
        self.recorder.send(StopTake(reply))
        reply.add_done_callback(self._cue_when_done("cut", "CUT"))
        return reply

    def reader_control(
        self, action: str, take: str | None = None, avatar: str | None = None
    ) -> Future[str | None]:
        """Start (``take`` by its name in the takes folder, ``avatar`` by catalogue name),
        pause, resume, restart or stop the reader; the future holds None, or why not. Each
        change is recorded in the rolling take as an event (by the reader)."""
        reply: Future[str | None] = Future()
        now, reader = self.now(), self.reader
        refused: str | None
        if action not in ACTIONS:
            refused = f"reader: unknown action {action!r}"
        elif action == "start":
            refused = self._reader_refuses(take, avatar)
            if refused is None:
                assert take is not None and avatar is not None
                # Loading from now (a stop is heard while the take is read).
                generation = reader.load(take, avatar)
                job = partial(self._reader_start, take, avatar, generation)
                self._reader_loads.submit(job, reply)
                return reply
        elif action == "pause":
            refused = reader.pause(now)
        elif action == "resume":
            refused = reader.resume(now)
        elif action == "restart":
            refused = reader.restart(now)
        else:
            refused = None if self._reader_off(now) else "the reader is stopped already"
        reply.set_result(refused)
        return reply

    def _reader_off(self, now: float, why: str = "") -> bool:
        """Stop the reader and take its avatar off the mark (False: it was stopped)."""
        with self._reader_lock:
            stopped = self.reader.stop(now, why)
            if stopped:
                self._commands.put(SetReader(None))
        return stopped

    def _reader_refuses(self, take: str | None, avatar: str | None) -> str | None:
        if self.replaying():  # a presentation's guests see what a replay shows, and only that
            return "a replay is on: stop it before starting a reader"
        staged = self.render.snapshot
        if len(staged.marks) < 2:
            return f"scene pack {staged.scene!r} has one mark; a reader needs a second"
        if avatar is None or avatar not in avatar_names():
            return f"no avatar {avatar!r} in this room's catalogue"
        try:
            name = take_name(take or "")
        except CaptureError as exc:
            return str(exc)
        rolling = self.recorder.state
        if rolling.rolling and rolling.file == name:
            return f"take {name!r} is still rolling; stop it before a reader plays it"
        return None

    def _reader_start(self, take: str, avatar: str, generation: int) -> str | None:
        """Read the take (a worker thread: a long take is a lot of JSON), then start it unless
        a stop or a newer start came meanwhile; None, or why not."""
        load = partial(load_reader_take, read=self._played.read)
        loaded = self._read_for(self.reader, generation, load, take)
        if isinstance(loaded, str):
            return loaded
        with self._reader_lock:
            if self.reader.start(generation, loaded, self.now()):
                self._commands.put(SetReader(avatar, generation))
        return None

    def _reader_voice(self) -> None:
        """The reader's thread: its voice packets as they fall due, to viewers and the
        headset's sound (never to the recorder: the actor's voice file is the actor's). The
        viewers' pages time it to the pictures themselves; the headset's player plays what
        it gets at once, so its packets are held until the reader's picture shows them."""
        held = HeldVoice()
        while not self._stop.wait(READER_TICK_S):
            now, sound = self.now(), self._reader_sound
            packets = self.reader.voice_due(now, READER_LEAD_S)
            for t, opus in packets:  # the actor hears it in the headset, not twice
                self.on_event(ReaderVoice(t, opus, to_actor=sound is None))
            if sound is not None:
                held.hold(packets)
                for opus in held.due(now, now - self.latest.frame_time(now)):
                    sound.put(opus)

    def replaying(self) -> bool:
        """Whether a replay holds the main avatar (loading, playing or paused)."""
        return self.replay.state != "stopped"

    def replay_shown(self) -> int | None:
        """The replay start the room shows now (as pictures are stamped), None: live."""
        generation = self.replay.generation
        return generation if self.replaying() else None

    def replay_control(
        self,
        action: str,
        takes: tuple[str, ...] = (),
        position: float | None = None,
        *,
        align: tuple[int | None, ...] = (),
        voice: int | None = None,
    ) -> Future[str | None]:
        """Start (``takes`` by their names in the takes folder: one on the main avatar, up to
        four side by side, ``align``-ed at their start (None) or a mark's index each), pause,
        resume, seek (to ``position`` seconds on the shared timeline), switch whose ``voice`` is
        heard (a take's index, None for none) or stop; the future holds None, or why not.
        Never while a take rolls: a replay is not a performance."""
        reply: Future[str | None] = Future()
        now, replay = self.now(), self.replay
        refused: str | None
        if action not in REPLAY_ACTIONS:
            refused = f"replay: unknown action {action!r}"
        elif action == "start":
            refused = self._replay_refuses(takes, align)
            if refused is None:
                # The reader leaves the set: a replay shows its takes alone (a presentation's
                # guests are shown the replay, and only the takes it holds).
                self._reader_off(now, "a replay started")
                generation = replay.load(takes)
                job = partial(self._replay_start, takes, align or (None,) * len(takes), generation)
                self._replay_loads.submit(job, reply)
                return reply
        elif action == "pause":
            refused = replay.pause(now)
        elif action == "resume":
            refused = replay.resume(now)
        elif action == "seek":
            refused = (
                "replay: seek needs a position in seconds"
                if position is None
                else replay.seek(now, position)
            )
        elif action == "voice":
            refused = replay.listen(voice)
        else:
            refused = None if replay.stop(now) else "the replay is stopped already"
        reply.set_result(refused)
        return reply

    def _replay_refuses(self, takes: tuple[str, ...], align: tuple[int | None, ...]) -> str | None:
        if self.recorder.state.rolling:
            return "a take is rolling: stop it before a replay (a replay is never recorded)"
        if not 1 <= len(takes) <= MAX_TAKES:
            return f"replay: 1 to {MAX_TAKES} takes, not {len(takes)}"
        if align and len(align) != len(takes):
            return f"replay: align has {len(align)} entries for {len(takes)} takes"
        try:
            for take in takes:
                take_name(take)
        except CaptureError as exc:
            return f"replay: {exc}"
        return None

    def _replay_start(
        self, names: tuple[str, ...], align: tuple[int | None, ...], generation: int
    ) -> str | None:
        """Read the takes off the feed's loop and align them, then play: one take at once on
        the main avatar (it stands already); side by side once the render thread has split
        the picture and stood an avatar in each strip. Unless a stop or a newer start came."""
        read: list[ReplayTake] = []
        for name in names:
            load = partial(load_replay_take, read=self._played.read)
            loaded = self._read_for(self.replay, generation, load, name)
            if isinstance(loaded, str):
                return loaded
            read.append(loaded)
        try:
            takes = aligned(read, align)
        except StageError as exc:
            self.replay.stop(self.now(), "it could not align", generation)
            return str(exc)
        if self.recorder.state.rolling:
            self.replay.stop(self.now(), "a take rolled meanwhile", generation)
            return "a take is rolling: stop it before a replay (a replay is never recorded)"
        side_by_side = len(takes) > 1
        started = self.replay.start(generation, takes, self.now(), ready=not side_by_side)
        if started and side_by_side:  # the render thread splits, stands the avatars, then plays
            self._commands.put(SplitTakes(len(takes), generation))
        return None

    def _read_for(
        self, player: Reader | Playback, generation: int, load: Callable[[Path, str], T], take: str
    ) -> T | str:
        """Read ``take`` from the takes folder for ``player`` (a worker thread: a long take is
        a lot of JSON); on failure, that start of the player is stopped and why is returned
        (one line, named as the player names itself)."""
        try:
            return load(self.settings.takes_dir, take)
        except (CaptureError, StageError) as exc:
            why = str(exc)
        except Exception as exc:  # the director is answered whatever happens
            why = _one_line(exc)
            log.error("%s: %s", player.noun, why, exc_info=exc)
        player.stop(self.now(), "its take did not read", generation)
        return f"{player.noun}: {why}"

    def _replay_out(self) -> None:
        """The replay's thread: the take's voice as it falls due, to viewers as the avatar's
        voice (never recorded: no take rolls during a replay); and, with VMC out, the main
        avatar's pose at the capture rate, as the live source's would go."""
        vmc, period, sent = self.vmc, 1.0 / self.settings.fps, -math.inf
        swept = 0.0
        while not self._stop.wait(READER_TICK_S):
            now = self.now()
            if now - swept >= SWEEP_S:
                self._forget_deleted(now)
                swept = now
            for t, opus in self.replay.voice_due(now, READER_LEAD_S):
                self.on_event(VoiceOut(t, opus, replay=True))
            if vmc is not None and now - sent >= period and self.replay.state == "playing":
                pose = self.replay.poses(now)[0]
                if pose is not None:
                    vmc.offer(replace(pose, t=now))
                    sent = now

    def _forget_deleted(self, now: float) -> None:
        """Takes deleted from outside the room (``immersion takes delete``, ``casting
        delete-actor``, a purge) stop playing and are let go from memory: deletion is
        complete while the room runs too."""
        self._played.sweep()
        folder = self.settings.takes_dir
        if any(not (folder / name).exists() for name in self.replay.takes()):
            self.replay.stop(now, "its take was deleted")
        reader = self.reader.snapshot(now).take
        if reader is not None and not (folder / reader).exists():
            self._reader_off(now, "its take was deleted")

    def _live_to_vmc(self, pose: Pose) -> None:
        """The live source's pose out as VMC, unless a replay holds the avatar."""
        if self.vmc is not None and not self.replaying():
            self.vmc.offer(pose)

    def annotate(self, kind: str, text: str) -> None:
        """A note, marker, cue or actor press: into the rolling take (if any) and the list."""
        self.recorder.send(RecordNote(NoteItem(kind, text, self.now())))

    def cue(self, text: str) -> str:
        """Show ``text`` on the actor's panel and page, and record it; says where it went."""
        self._cue("note", text)
        self.annotate("cue", text)
        headset = self.render.snapshot.headset
        shown = []
        if headset is not None and headset.get("state") in ("VISIBLE", "FOCUSED", "SYNCHRONIZED"):
            shown.append("in the actor's headset")
        if self.actor.present():
            shown.append("on the actor's page")
        if shown:
            return "shown " + " and ".join(shown)
        return "recorded in the take; no headset or actor's page is showing it to the actor"

    # The actor's page (the feed's loop) ------------------------------------------------------

    def set_sides(self, text: str) -> SidesState:
        """Put the scene's text on the actor's teleprompter, from its first line."""
        with self._sides_lock:
            sides = self._show_sides(SidesState(text, 0))
        self.annotate("event", f"sides on the teleprompter ({sides.lines} lines)")
        return sides

    def scroll_sides(self, line: int) -> SidesState | None:
        """Move the teleprompter's top to ``line`` (kept within the text); None: no sides."""
        with self._sides_lock:
            sides = self.sides
            if sides is None:
                return None
            return self._show_sides(replace(sides, line=_within(line, sides)))

    def _show_sides(self, sides: SidesState) -> SidesState:
        """One way out for new sides, whoever moved them: the headset's panel and every
        viewer (the lock is held, so both see changes in the order they were made). Sides
        that did not change (a stick held at the last line) are not sent again."""
        if sides == self.sides:
            return sides
        self.sides = sides
        self._commands.put(ShowSides(sides))
        self.on_event(SidesChanged(sides))
        return sides

    def actor_joined(self, session: int, consent: int) -> None:
        """An actor's page connected and the actor consented (to the page's consent text of
        version ``consent``): from now on their landmarks drive the avatar."""
        returning = self.capture.snapshot.source == "actor disconnected"
        self.actor.join(session)
        joined = "actor reconnected" if returning else "actor joined"
        self.annotate("event", f"{joined} (consented to capture, consent text v{consent})")

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
    ) -> str | None:
        """One frame of the actor's landmarks (the body's, and their image positions, face and
        hands when the page found them); why not, when refused."""
        try:
            frame = LandmarkFrame.from_array(capture_t, np.column_stack([world, visibility]))
            frame = replace(
                frame, image=image, face=face, left_hand=left_hand, right_hand=right_hand
            )
        except CaptureError as exc:
            return f"pose: {exc}"
        if not self.actor.frame(session, capture_t, self.now(), frame):
            return "another page has taken over as the actor"
        return None

    def actor_picture(self, session: int, width: int, height: int) -> str | None:
        """The size of the actor's camera picture (their page's; the picture stays there):
        the camera model root motion needs. Why not, when refused."""
        try:
            CameraModel(width, height)
        except ValueError as exc:
            return f"picture: {exc}"
        if not self.actor.picture(session, width, height):
            return "another page has taken over as the actor"
        return None

    def actor_calibrate(self, session: int) -> str | None:
        """The actor relaxes and looks at the camera: the next second of their face and head
        is their neutral. Why not, when refused."""
        if not self.actor.calibrate(session):
            return "another page has taken over as the actor"
        self.annotate("event", "actor calibrated (relaxed, looking at the camera)")
        return None

    def voice(self, capture_t: float, opus: bytes, talkback: bool) -> float:
        """One Opus packet of the actor's voice, or of a director's talkback: into the rolling
        take's voice file (talkback only when the room was started to record it). Returns
        the capture time the room takes it at (a page's clock is not believed blindly)."""
        t = believable(capture_t, self.now())
        if self.recorder.recording() and (self.settings.record_talkback or not talkback):
            self.recorder.send(RecordVoice(t, opus, talkback))
        if talkback and self._talkback is not None:
            self._talkback.put(opus)
        return t

    def _own_voice(self, t: float, opus: bytes) -> None:
        """The room's own source's voice (capture thread): recorded and relayed like an
        actor's."""
        if self.recorder.recording():
            self.recorder.send(RecordVoice(t, opus, False))
        if not self.replaying():  # the avatar speaks with the take's voice meanwhile
            self.on_event(VoiceOut(t, opus))

    def actor_left(self, session: int, explicit: bool) -> None:
        """The actor's page went away: it left (the room's own source resumes), or it
        dropped (the avatar holds, easing to standing, while it reconnects)."""
        if self.actor.leave(session, explicit):
            self.annotate("event", "actor left" if explicit else "actor disconnected")

    def actor_press(self, button: str) -> None:
        """The actor pressed "ready" or "again" in the headset, or pushed the thumbstick to
        scroll the teleprompter a line ("scroll-down": on to later lines, "scroll-up": back)."""
        step = SCROLL_STEPS.get(button)
        if step is None:
            self.annotate("actor", button)
            return
        with self._sides_lock:
            sides = self.sides
            if sides is not None:
                self._show_sides(replace(sides, line=_within(sides.line + step, sides)))

    def _cue(self, kind: str, text: str) -> None:
        self._commands.put(CueActor(kind, text))
        self.on_event(CueToActor(kind, text))

    def _cue_when_done(self, kind: str, text: str) -> Callable[[Future[str | None]], None]:
        def done(reply: Future[str | None]) -> None:
            if reply.result() is None:
                self._cue(kind, text)

        return done

    # Threads ---------------------------------------------------------------------------------------

    def start(self) -> None:
        if self.settings.headset is not None:
            try:  # each its own decoder: two streams cannot share one
                self._talkback = TalkbackPlayer()
                self._reader_sound = TalkbackPlayer()
            except NoSoundOutputError as exc:
                log.warning("talkback and the reader's voice will not play in the headset: %s", exc)
        for name, body in (
            ("recorder", self.recorder.run),
            ("capture", self.capture.run),
            ("render", self.render.run),
            ("reader", self._reader_voice),
            ("replay", self._replay_out),
            *((("vmc", self.vmc.run),) if self.vmc is not None else ()),
        ):
            thread = threading.Thread(target=self._guard(name, body), name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        """Stop the stages and close a rolling take (it stays readable either way)."""
        self._stop.set()
        if self.vmc is not None:
            self.vmc.stop()
        self._reader_loads.close()  # answers the starts not answered yet
        self._replay_loads.close()
        if not self._threads:
            return
        recorder, *stages = self._threads
        for thread in stages:
            thread.join(timeout=10)
        self.recorder.stop()  # last: it closes a rolling take after capture has stopped
        recorder.join(timeout=10)
        if self._talkback is not None:
            self._talkback.close()
        if self._reader_sound is not None:
            self._reader_sound.close()

    def _guard(self, name: str, body: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                body()
            except Exception as exc:  # a stage must report, not vanish silently
                line = _one_line(exc)
                log.error("%s stopped: %s", name, line, exc_info=exc)  # the log keeps the trace
                self.on_event(Problem(name, line, self.now()))

        return run

    def _emit(self, event: RoomEvent) -> None:
        if isinstance(event, Problem):
            log.warning("%s: %s", event.where, event.text)
        self.on_event(event)


def _within(line: int, sides: SidesState) -> int:
    return max(0, min(line, sides.lines - 1))


def _with_strips(replay: dict[str, Any], strips: int) -> dict[str, Any]:
    """The replay's state with how many strips the picture shows (side by side once the
    render thread has split it; the page labels them then)."""
    return replay if replay["state"] == "stopped" else {**replay, "strips": strips}


def _one_line(exc: Exception) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return text if isinstance(exc, CaptureError | StageError) else f"{type(exc).__name__}: {text}"
