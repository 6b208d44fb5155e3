"""The render loop: the one owner of Panda3D, the stage and the headset, on its own thread.

Each tick it carries out the director's due switches (:class:`~immersion.room.commands.
CommandBox`), poses the avatar for one capture period ago (so the pose is interpolated between
the two captured poses around that time rather than stepping at the capture's rate), renders,
and hands the mirror picture to the room's picture sink. With a headset the headset's frame
loop paces the ticks and the mirror is rendered and sent on every n-th only; when the headset's
session ends, the room's own clock takes over.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import itertools
import logging
import threading
import time
from collections.abc import Callable, Generator, Iterator, Mapping
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
from numpy.typing import NDArray

from capture.errors import CaptureError
from capture.pose import Pose
from immersion.avatars.rig import Rig
from immersion.catalogue import avatar_file, catalogue_pack
from immersion.config import RoomSettings
from immersion.errors import StageError
from immersion.room.capture_worker import CaptureSnapshot
from immersion.room.commands import CommandBox
from immersion.room.messages import (
    Command,
    CueActor,
    MeterSnapshot,
    Picture,
    Problem,
    RoomEvent,
    SetReader,
    ShowSides,
    SidesState,
    SplitTakes,
    SwitchAvatar,
    SwitchCamera,
    SwitchScene,
)
from immersion.room.meter import Meter
from immersion.room.reader import READER, Reader
from immersion.room.replay import Playback
from immersion.scenes.manifest import ScenePack, load_pack
from immersion.stage.avatar_actor import AvatarActor
from immersion.stage.pose_feed import LatestPose
from immersion.stage.stage import Stage

log = logging.getLogger(__name__)
STRIP = "strip"  # side by side: the extras' names, "strip-2".. (strip 1 is the main avatar's)


@dataclass(frozen=True, slots=True)
class StageSnapshot:
    scene: str
    avatar: str
    camera: str
    cameras: tuple[str, ...]
    frame: int = 0
    meter: MeterSnapshot = field(default_factory=MeterSnapshot)
    headset: Mapping[str, Any] | None = None
    licence: str = ""  # the avatar's licence, as AvatarLicence.summary says it
    marks: tuple[str, ...] = ()  # the pack's marks, in order (a reader needs a second)
    strips: int = 1  # side by side: how many strips the picture is split in


class RenderLoop:
    """Owns the stage; :meth:`run` is the render thread's body."""

    def __init__(
        self,
        settings: RoomSettings,
        pack: ScenePack,
        avatar_path: Path,
        clock: Callable[[], float],
        latest: LatestPose,
        commands: CommandBox,
        capture: Callable[[], CaptureSnapshot],
        emit: Callable[[RoomEvent], None],
        on_press: Callable[[str], None],
        stop: threading.Event,
        rolling: Callable[[], bool] = lambda: False,
    ) -> None:
        """``rolling``: whether a take rolls (the recorder's state), for the headset's tally."""
        self.settings = settings
        self.clock = clock
        self.latest = latest
        self.commands = commands
        self.capture = capture
        self.emit = emit
        self.on_press = on_press
        self._stop = stop
        self._rolling = rolling
        self.on_picture: Callable[[Picture], None] = lambda picture: None
        # The room's avatar loaded (at start, on a switch; not the reader's): VMC out's hook.
        self.on_avatar: Callable[[Rig], None] = lambda rig: None
        self._cut = True  # the next picture starts afresh (the first one, or after a switch)
        self._pack = pack
        self._avatar_path = avatar_path  # the room's avatar, with its bone map: the strips' too
        self._bone_map = settings.bone_map
        self._avatar = Path(settings.avatar).stem
        self._cue = ("note", "")
        self._sides: SidesState | None = None  # the teleprompter's, as the room last sent them
        self._headset: Any = None
        self._headset_status: dict[str, Any] | None = {"state": "off"} if settings.headset else None
        self._meter = Meter()
        self._frame = 0
        # The scene partner, posed each tick at the picture's time; set by the room.
        self.reader: Reader | None = None
        self.replay: Playback | None = None  # takes replayed: the main avatar's and the strips'
        self._reader_avatar: str | None = None  # the avatar standing in as the reader
        self._strips: tuple[str, ...] = ()  # side by side: the strips' extras (after strip 1)
        camera = pack.camera(settings.camera).name
        headset = self._headset_status
        self.snapshot = StageSnapshot(
            pack.name,
            self._avatar,
            camera,
            tuple(c.name for c in pack.cameras),
            headset=MappingProxyType(dict(headset)) if headset is not None else None,
            marks=tuple(m.name for m in pack.marks),
        )

    # The render thread ---------------------------------------------------------------------------

    def run(self) -> None:
        s = self.settings
        stage = Stage.open(
            self._pack,
            self._lead(self._load_avatar(self._avatar_path, self._bone_map)),
            width=s.width,
            height=s.height,
            camera=self.snapshot.camera,
            shading=s.shading,
        )
        period = 1.0 / s.fps
        self._headset = self._open_headset(stage)
        ticks: Iterator[object] = self._ticks(period)
        headset_frames = None
        if self._headset is not None:  # the headset paces the loop while it runs
            headset_frames = self._headset_frames(self._headset, period)
            ticks = itertools.chain(headset_frames, ticks)
        mirror = MirrorPace(period, time.monotonic())
        try:
            for _ in ticks:
                commands = self.commands.due(time.monotonic(), partial(self._loads, stage))
                if self._strips and self._one_view_due():
                    commands.append(SplitTakes(1))
                stage = self._carry_out(stage, commands)
                now = self.clock()
                captured = self.capture()
                # The reader at the main pose's time (its own clock runs on when the pose holds).
                shown_t = self.latest.frame_time(now)
                pose, replayed = self._main_pose(shown_t)
                t0 = time.perf_counter()
                due = mirror.due(time.monotonic())
                stage.show(pose, mirror=due, extras=self._extras(stage, shown_t))
                if not due:
                    continue  # a headset faster than the mirror: the viewers get every n-th
                bgra = np.ascontiguousarray(stage.target.bgra()[::-1])  # the room's own copy
                if captured.image is not None:
                    draw_inset(bgra, captured.image)
                render_t = self.clock()
                self._frame += 1
                self._meter.tick(render_t, render=(time.perf_counter() - t0) * 1e3)
                self._publish(stage)
                bgra.flags.writeable = False
                capture_t = pose.t if pose is not None else render_t
                self.on_picture(
                    Picture(self._frame, capture_t, render_t, bgra, self._cut, replayed)
                )
                self._cut = False
        finally:
            if headset_frames is not None:
                headset_frames.close()  # ends its frame, then closes the headset
            stage.close()

    def _publish(self, stage: Stage) -> None:
        headset = self._headset_status
        self.snapshot = StageSnapshot(
            stage.pack.name,
            self._avatar,
            stage.camera_preset.name,
            tuple(c.name for c in stage.pack.cameras),
            self._frame,
            self._meter.snapshot(self.clock()),
            MappingProxyType(dict(headset)) if headset is not None else None,
            stage.avatar.spec.licence.summary() if stage.avatar is not None else "",
            tuple(m.name for m in stage.pack.marks),
            stage.columns,
        )

    def _main_pose(self, t: float) -> tuple[Pose | None, int | None]:
        """The main avatar's pose at room time ``t`` and the replay start it comes from: a
        replay's while one holds it (stamped ``t``, so its picture and voice line up as live
        ones do), else the live source's (None). The picture carries that start: a
        presentation's guest is shown a picture of their takes, never one of the live room."""
        replay = self.replay
        if replay is not None and replay.state != "stopped":
            generation = replay.generation
            pose = replay.poses(t)[0]
            if pose is not None and replay.generation == generation:
                return replace(pose, t=t), generation
        return self.latest.at(t), None

    def _extras(self, stage: Stage, t: float) -> dict[str, Pose | None]:
        """The extra performers' poses for a picture of room time ``t`` (the time the main
        avatar's pose is shown at, so the reader's picture and voice keep the actor's timing)."""
        out: dict[str, Pose | None] = {}
        reader = self.reader
        if reader is not None and READER in stage.extras:
            out[READER] = reader.pose(t)
        if self._strips and self.replay is not None:
            out.update(zip(self._strips, self.replay.poses(t)[1:], strict=False))
        return out

    def _one_view_due(self) -> bool:
        """Whether a split picture should be one view again: its replay stopped, or a start of
        one take replaced it."""
        replay = self.replay
        return replay is None or replay.state == "stopped" or replay.count == 1

    def _ticks(self, period: float) -> Iterator[None]:
        """The room's own pace, without a headset: one tick per ``period`` until stopped."""
        next_at = time.monotonic()
        while not self._stop.is_set():
            yield None
            next_at += period
            delay = next_at - time.monotonic()
            if delay > 0:
                self._stop.wait(delay)
            else:
                next_at = time.monotonic()  # late: do not try to catch up in a burst

    # Switches ------------------------------------------------------------------------------------

    def _carry_out(self, stage: Stage, due: list[Command]) -> Stage:
        """Carry out due switches; one that fails is reported and the room plays on."""
        for command in due:
            if isinstance(command, CueActor):
                self._cue = (command.kind, command.text)
                if self._headset is not None:
                    self._headset.cue(command.kind, command.text)
                continue
            if isinstance(command, ShowSides):
                self._sides = command.sides
                if self._headset is not None:
                    self._headset.show_sides(command.sides)
                continue
            try:
                stage = self._switch(stage, command)
            except (CaptureError, StageError, OSError) as exc:
                self.emit(Problem(_label(command), str(exc), self.clock()))
                if isinstance(command, SetReader) and self.reader is not None:
                    # No avatar to play it: the director starts again (a newer start stands).
                    line = str(exc).partition("\n")[0][:160]
                    why = f"its avatar did not load: {line}"
                    self.reader.stop(self.clock(), why, command.generation)
                if isinstance(command, SplitTakes) and self.replay is not None:
                    self.replay.stop(self.clock(), "its avatars did not load", command.generation)
            self._cut = True
            if not isinstance(command, SwitchCamera):
                # The old set or avatar is held in reference cycles whose Python side is small,
                # so the collector would not run for a long time, while the engine memory they
                # hold (~8 MB a set) piles up; a load already takes a second or two.
                gc.collect()
                _give_back_heap()
        return stage

    def _switch(self, stage: Stage, command: Command) -> Stage:
        if isinstance(command, SwitchCamera):
            stage.set_camera(stage.pack.camera(command.name))
        elif isinstance(command, SwitchAvatar):
            path = avatar_file(command.name)
            stage.place_avatar(self._lead(self._load_avatar(path, None)), stage.mark)
            self._avatar, self._avatar_path, self._bone_map = command.name, path, None
            if self._strips:  # side by side: every strip shows the room's avatar
                self._stand_strips(stage, len(self._strips) + 1, anew=True)
        elif isinstance(command, SetReader):
            self._set_reader(stage, command)
        elif isinstance(command, SplitTakes):
            self._split(stage, command)
        elif isinstance(command, SwitchScene):
            pack = load_pack(
                catalogue_pack(command.name)
            )  # a bad pack fails before the set is touched
            if self._headset is not None:
                self._headset.detach()  # its nodes would go with the old set
            try:
                stage = stage.reopen(pack)
            except StageError as exc:
                stage = stage.reopen(self._pack)  # put the old set back, then report
                self.emit(Problem(_label(command), str(exc), self.clock()))
            else:
                self._pack = pack
            finally:
                if self._headset is not None:
                    self._headset.attach(stage)
            if self._reader_avatar is not None and READER not in stage.extras:
                self._reader_avatar = None
                if self.reader is not None:
                    self.reader.stop(self.clock(), f"{stage.pack.name!r} has no second mark")
                self.emit(Problem("reader", f"stopped: {stage.pack.name!r} has no second mark",
                                  self.clock()))  # fmt: skip
        self._publish(stage)
        return stage

    def _loads(self, stage: Stage, command: SetReader | SplitTakes) -> bool:
        """Whether ``command`` loads an avatar (one that stands already does not)."""
        if isinstance(command, SplitTakes):
            return command.count != len(self._strips) + 1
        return command.avatar != self._reader_avatar or READER not in stage.extras

    def _set_reader(self, stage: Stage, command: SetReader) -> None:
        """Stand the command's avatar on the pack's second mark as the reader (loaded unless it
        stands there already), then start the reader's clock; None takes it off. A start
        stopped or replaced meanwhile loads nothing."""
        avatar = command.avatar
        if avatar is None:
            stage.remove_extra(READER)
            self._reader_avatar = None
            return
        if self.reader is not None and self.reader.generation != command.generation:
            return
        if self._loads(stage, command):
            if len(stage.pack.marks) < 2:  # before the load: a second lost for nothing
                raise StageError(
                    f"scene pack {stage.pack.name!r} has one mark; a reader needs a second"
                )
            stage.place_extra(READER, self._load_avatar(avatar_file(avatar), None), 1)
            self._reader_avatar = avatar
        if self.reader is not None:
            self.reader.ready(command.generation, self.clock())

    def _split(self, stage: Stage, command: SplitTakes) -> None:
        """Side by side: the picture split in ``command.count`` strips, the room's avatar
        standing in each on the main avatar's mark, then the replay's clocks started; a count
        of 1 makes it one view again. A start stopped or replaced meanwhile loads nothing."""
        replay = self.replay
        if command.count > 1 and (replay is None or replay.generation != command.generation):
            return
        self._stand_strips(stage, command.count)
        if replay is not None and command.count > 1:
            replay.ready(command.generation, self.clock())

    def _stand_strips(self, stage: Stage, count: int, *, anew: bool = False) -> None:
        """``count`` strips, the room's avatar standing in each after the first; those that
        stand already stay (a side by side realigned loads nothing) unless ``anew``."""
        if count == len(self._strips) + 1 and not anew:
            return
        for name in self._strips:
            stage.remove_extra(name)
        self._strips = ()
        stage.split(count)
        if count == 1:
            return
        mark = stage.pack.marks.index(stage.mark)
        strips = tuple(f"{STRIP}-{k + 1}" for k in range(1, count))
        try:
            for column, name in enumerate(strips, start=1):
                actor = self._load_avatar(self._avatar_path, self._bone_map)
                stage.place_extra(name, actor, mark, column=column)
        except BaseException:  # one view again, with nothing half-placed (the caller reports)
            for name in strips:
                stage.remove_extra(name)
            stage.split(1)
            raise
        self._strips = strips

    def _lead(self, actor: AvatarActor) -> AvatarActor:
        self.on_avatar(actor.rig)
        return actor

    def _load_avatar(self, path: Path, bone_map: dict[str, str] | None) -> AvatarActor:
        s = self.settings
        actor = AvatarActor.load(path, use=s.use, licensed=s.licensed, bone_map=bone_map)
        log.info("avatar %s: %s", path.name, actor.spec.licence.summary())
        return actor

    # The headset ---------------------------------------------------------------------------------

    def _open_headset(self, stage: Stage) -> Any:
        """The headset, when asked for and found; otherwise a problem reported, and None."""
        if self.settings.headset is None:
            return None
        from immersion.headset.headset import Headset

        stage.show(None)  # leaves Panda's GL context current on this thread, for the binding
        headset = Headset(
            self.settings.headset, lambda press: self.on_press(press.button), self._rolling
        )
        try:
            headset.open(stage)
        except StageError as exc:
            self._headset_status = {"state": "unavailable", "reason": str(exc)}
            self.emit(Problem("headset", f"{exc}; the room runs without it", self.clock()))
            return None
        xs = headset.session
        chain = xs.swapchains[0]
        self._headset_status = {
            "state": xs.lifecycle.state.name,
            "runtime": xs.runtime_name,
            "system": xs.system_name,
            "eye": [chain.width, chain.height],
            "space": xs.space_type,
        }
        return headset

    def _headset_frames(self, headset: Any, period: float) -> Generator[object, None, None]:
        """The headset's frames until its session ends (the room then paces itself) or the
        room stops (the session is then asked to exit, and given a moment to)."""
        meter = Meter()
        deadline = None
        status = self._headset_status
        assert status is not None
        try:
            for frame in headset.frames(period):
                if self._stop.is_set() and deadline is None:
                    headset.request_exit()
                    deadline = time.monotonic() + 2.0
                if deadline is not None and time.monotonic() > deadline:
                    break
                headset.cue(*self._cue)
                headset.show_sides(self._sides)
                shown = headset.prompter.shown if headset.prompter is not None else None
                status["sidesLine"] = shown.line if shown is not None else None
                status["tallyLit"] = headset.tally is not None and headset.tally.rolling
                now = time.monotonic()
                if frame.views:
                    meter.tick(now)
                status["state"] = headset.session.lifecycle.state.name
                status["fps"] = round(meter.snapshot(now).rate(now), 1)
                yield frame
        except Exception as exc:  # a runtime that fails mid-take must not take the room with it
            log.warning("headset failed", exc_info=True)
            self.emit(
                Problem("headset", f"{type(exc).__name__}: {exc}; the room plays on", self.clock())
            )
        finally:
            status["state"] = "ended"
            status["fps"] = 0.0
            headset.close()
            self._headset = None


class MirrorPace:
    """Which of the loop's ticks the mirror takes: the first at or after each ``period``. A
    mirror running late may catch up by one tick, never in a burst."""

    __slots__ = ("_next", "period")

    def __init__(self, period: float, start: float) -> None:
        self.period = period
        self._next = start

    def due(self, now: float) -> bool:
        if now < self._next:
            return False
        self._next = max(self._next + self.period, now - self.period)
        return True


def _label(command: Command) -> str:
    if isinstance(command, SetReader):
        return f"reader {command.avatar!r}"
    if isinstance(command, SplitTakes):
        return f"side by side ({command.count} takes)"
    name = getattr(command, "name", "")
    return f"{type(command).__name__.removeprefix('Switch').lower()} {name!r}"


def draw_inset(bgra: NDArray[np.uint8], rgb: NDArray[np.uint8]) -> None:
    """Draw ``rgb`` (H, W, 3) into the bottom-right quarter-width corner of ``bgra``, in place.

    The actor's camera picture beside their avatar, for rooms started with ``--show-camera``:
    a director can tell a tracking artefact from the performance at a glance.
    """
    import cv2

    height, width = bgra.shape[:2]
    w = max(width // 4, 8)
    h = max(round(w * rgb.shape[0] / rgb.shape[1]), 8)
    margin, border = max(width // 80, 2), 2
    y1, x1 = height - margin, width - margin
    y0, x0 = max(y1 - h, border), max(x1 - w, border)
    bgra[y0 - border : y1 + border, x0 - border : x1 + border] = (255, 255, 255, 255)
    small = cv2.resize(rgb, (x1 - x0, y1 - y0), interpolation=cv2.INTER_AREA)
    bgra[y0:y1, x0:x1, :3] = small[:, :, ::-1]
    bgra[y0:y1, x0:x1, 3] = 255


def _give_back_heap() -> None:
    """Hand freed heap back to the system after a set or avatar is let go: glibc keeps freed
    pages of its arenas (the render thread's own arena included) and a room switched
    through every pack would otherwise keep the high-water mark of all of them."""
    name = ctypes.util.find_library("c")
    if name is None:
        return
    libc = ctypes.CDLL(name)
    trim = getattr(libc, "malloc_trim", None)  # glibc only; musl has none
    if trim is not None:
        trim(0)
