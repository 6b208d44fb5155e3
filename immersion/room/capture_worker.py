"""The capture worker: the room's source turned into the pose stream, on its own thread.

A recorded source (a video, a take, a landmarks file) is paced to real time from its own
timestamps; a live camera is never paced (its frames come when they come, and its driver's
clock is not ours). A camera that stops delivering is reopened after a pause, for as long as
the room runs; the avatar holds its last pose meanwhile. Each pose is pushed to the render
loop's :class:`~immersion.stage.pose_feed.LatestPose` stamped with the room clock, and to the
recorder while a take rolls.

A recorded source's voice (a take's voice file, a video's sound track) plays with it: each
packet goes out as the poses around it do, stamped on the room clock where its own time falls,
to :attr:`CaptureWorker.voice_out` (the room relays it and records it in a rolling take).

While an actor's page is connected (:mod:`immersion.room.actor`), their landmarks drive the
avatar through the same pipeline, whatever the room's own source is; it stops and picks up
again when they leave. A page that drops is held for: its last pose, easing to standing, until
it comes back or the grace period ends.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from capture.camera import DEFAULT_VFOV_DEG
from capture.errors import CaptureError, SourceError, TakeFormatError
from capture.pipeline import Estimators, Performer, pose_stream
from capture.pose import Pose
from capture.skeleton import Bone
from capture.sources import CameraSource, ImageFolderSource, Source, VideoSource, open_source
from capture.take import TAKE_FORMAT, Take, iter_json_lines, read_take
from capture.voice import TimedPacket, read_voice, take_voice
from capture.voice_media import video_opus
from immersion.config import RoomSettings
from immersion.room.actor import ActorLink, ActorSource, at_ease
from immersion.room.messages import MeterSnapshot, Problem, RoomEvent
from immersion.room.meter import Meter
from immersion.room.recorder import Recorder, RecordPose
from immersion.stage.pose_feed import LatestPose, blend

log = logging.getLogger(__name__)
VOICE_FRAME_S = 0.02  # an Opus packet's length, as the room's pages and voice files make them

# Limbs a director reads tracking confidence for: the least confident bone of each.
LIMBS: dict[str, tuple[Bone, ...]] = {
    "head": (Bone.NECK, Bone.HEAD),
    "torso": (Bone.HIPS, Bone.SPINE, Bone.CHEST),
    "leftArm": (Bone.LEFT_UPPER_ARM, Bone.LEFT_LOWER_ARM, Bone.LEFT_HAND),
    "rightArm": (Bone.RIGHT_UPPER_ARM, Bone.RIGHT_LOWER_ARM, Bone.RIGHT_HAND),
    "leftLeg": (Bone.LEFT_UPPER_LEG, Bone.LEFT_LOWER_LEG, Bone.LEFT_FOOT),
    "rightLeg": (Bone.RIGHT_UPPER_LEG, Bone.RIGHT_LOWER_LEG, Bone.RIGHT_FOOT),
}


@dataclass(frozen=True, slots=True)
class CaptureSnapshot:
    meter: MeterSnapshot = field(default_factory=MeterSnapshot)
    confidence: Mapping[str, float] = field(default_factory=lambda: dict.fromkeys(LIMBS, 0.0))
    image: NDArray[np.uint8] | None = None  # the actor's picture, kept only for --show-camera
    source: str = "recording"  # what drives the avatar: camera, recording, actor, ...


@dataclass(frozen=True, slots=True)
class _Item:
    t: float  # source time, seconds
    pose: Pose | None
    ms: float  # capture cost
    image: NDArray[np.uint8] | None


class CaptureWorker:
    """Owns the source; :meth:`run` is the capture thread's body."""

    def __init__(
        self,
        settings: RoomSettings,
        clock: Callable[[], float],
        latest: LatestPose,
        recorder: Recorder,
        emit: Callable[[RoomEvent], None],
        stop: threading.Event,
        opener: Callable[[], Source] | None = None,  # how to (re)open the source; tests give one
        actor: ActorLink | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.latest = latest
        self.recorder = recorder
        self.emit = emit
        self._stop = stop
        self.actor = actor or ActorLink()
        # The source's own voice, room time and packet: set by the room before run().
        self.voice_out: Callable[[float, bytes], None] = lambda t, opus: None
        # Each pose handed on, as the avatar shows it (VMC out): set by the room before run().
        self.pose_out: Callable[[Pose], None] = lambda pose: None
        self.snapshot = CaptureSnapshot()  # replaced whole, read by other threads
        self._meter = Meter()
        # Opened now, so a missing file or camera fails the command before the room starts.
        self._open = opener or (lambda: open_source(settings.source, None))
        self._take: Take | None = None
        self._source: Source | None = None
        path = Path(settings.source)
        self._take_voice: tuple[TimedPacket, ...] = ()
        if opener is None and path.suffix == ".jsonl" and _is_take(path):
            self._take = read_take(path)
            if not self._take.poses:
                raise TakeFormatError(f"{path}: a take with no frames has nothing to play")
            # Read now, so a bad voice file fails the command before the room starts.
            voice = take_voice(path, self._take.header)
            if voice is not None and voice.is_file():
                self._take_voice = read_voice(voice).packets
        else:
            self._source = self._open()
        self.live = self._source is not None and self._source.live
        self._label = "camera" if self.live else "recording"
        self.snapshot = CaptureSnapshot(source=self._label)
        self._last: Pose | None = None  # the newest pose delivered
        self._handed_t = float("-inf")
        self._voice_t = float("-inf")  # the room time the last voice packet went out at
        fps = (self._take.fps if self._take is not None else None) or getattr(
            self._source, "fps", None
        )
        self._period = 1.0 / float(fps) if fps else 1.0 / 30.0  # between a source's frames
        self._resume_at = 0.0  # a recorded source's next pass plays no sooner than this
        self._estimators = Estimators()  # one landmarker for every pass, closed by run()
        if opener is None and isinstance(
            self._source, VideoSource | CameraSource | ImageFolderSource
        ):
            self._estimators.prepare(settings.capture)

    def run(self) -> None:
        try:
            self._run()
        finally:
            self._estimators.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            if self.actor.present():
                self._perform()
                self._reopen()
                continue
            try:
                self._pass()
            except SourceError as exc:
                if not self.live:
                    raise
                self.emit(Problem("capture", f"{exc}; reopening", self.clock()))
                self._source = None
                while self._source is None and not self._stop.wait(self.settings.camera_retry_s):
                    try:
                        self._source = self._open()
                    except SourceError as again:
                        log.info("camera still unavailable: %s", again)
                continue
            if self.actor.present():
                continue  # the actor's page took over mid-pass
            if self.live or not self.settings.loop:
                # The room's own source is done; an actor may still come.
                self._relabel("ended")
                while not self._stop.is_set() and not self.actor.wait_for_actor(0.5):
                    pass
                continue
            self._reopen()

    def _reopen(self) -> None:
        """Open the room's own source again for its next pass (a take needs no opening)."""
        if self._source is not None:
            self._source = self._open()

    def _pass(self) -> None:
        """One run through the source, paced unless it is live, until it ends or an actor
        joins. A recorded source's passes follow each other one frame period apart, however
        short it is: a one-frame take loops at its frame rate, not as fast as it can go."""
        self._relabel("camera" if self.live else "recording")
        voice = self._voice()
        try:
            self._play(voice)
        finally:
            close = getattr(voice, "close", None)
            if close is not None:
                close()  # a video's sound track holds the file open

    def _play(self, voice: Iterator[TimedPacket]) -> None:
        anchor: float | None = None
        packet = next(voice, None)
        for item in self._items():
            if self._stop.is_set() or self.actor.present():
                return
            if not self.live:
                if anchor is None:
                    anchor = max(time.monotonic(), self._resume_at) - item.t
                delay = anchor + item.t - time.monotonic()
                if delay > 0 and self._stop.wait(delay):
                    return
                self._resume_at = anchor + item.t + self._period
            self._deliver(item)
            # The voice up to one frame ahead of the picture: a listener's buffer never
            # runs dry between two frames.
            now = self.clock()
            while packet is not None and packet[0] <= item.t + self._period:
                # A pass's voice may run a little past its last pose: the next pass's voice
                # follows it, never overlaps it.
                self._voice_t = max(now + packet[0] - item.t, self._voice_t + VOICE_FRAME_S)
                self.voice_out(self._voice_t, packet[1])
                packet = next(voice, None)

    def _perform(self) -> None:
        """The actor's page drives the avatar until they leave, or drop and do not come back
        within the grace period."""
        while not self._stop.is_set():
            self._relabel("actor")
            vfov = self.settings.capture.vfov_deg
            source = ActorSource(self.actor, self._stop, DEFAULT_VFOV_DEG if vfov is None else vfov)
            performer = Performer(self.settings.capture)
            stream = pose_stream(source, self.settings.capture, self._estimators, performer)
            try:
                for frame in stream:
                    if self.actor.take_calibration():
                        # The stream waits here between frames: calibrated from the next one.
                        performer.calibrate(frame.t + 1e-6)
                    item = _Item(frame.t, frame.pose, sum(frame.timings.values()), None)
                    self._deliver(item, room_t=frame.t)
            finally:
                stream.close()
            departure = source.departure
            if departure is None or departure.explicit or not self._hold():
                return

    def _hold(self) -> bool:
        """The actor's page dropped: hold their last pose, then ease it to standing, until
        they are back (True) or the grace period is over (False)."""
        self._relabel("actor disconnected")
        settings, start = self.settings, self.clock()
        last = self._last
        while not self._stop.is_set():
            came = self.actor.wait_while_away(self._period)
            if came is not None:
                return came == "back"
            now = self.clock()
            away = now - start
            if away >= settings.actor_grace_s:
                self.actor.stop_holding()
                return False
            if last is not None:  # not captured: shown and recorded, but not metered
                rest = at_ease(now, last.hips)
                f = min(max((away - settings.actor_hold_s) / settings.actor_ease_s, 0.0), 1.0)
                self._hand_on(blend(replace(last, t=now), rest, f))
        return False

    def _relabel(self, label: str) -> None:
        """Say what drives the avatar now, at once (not at the next pose: there may be none)."""
        self._label = label
        snapshot = self.snapshot
        self.snapshot = CaptureSnapshot(snapshot.meter, snapshot.confidence, None, label)

    def _voice(self) -> Iterator[TimedPacket]:
        """The room's own source's voice for one pass, on the source's clock: a take's voice
        file, or a video's sound track; nothing for a camera or landmarks."""
        if self._take is not None:
            return iter(self._take_voice)
        if isinstance(self._source, VideoSource):
            return self._video_voice(Path(self._source.name))
        return iter(())

    def _video_voice(self, path: Path) -> Iterator[TimedPacket]:
        """A video's sound track; one that cannot be read is reported, and the picture plays
        on without it."""
        try:
            packets = video_opus(path)
            if packets is not None:
                yield from packets
        except CaptureError as exc:
            self.emit(
                Problem("voice", f"{path.name}: {exc}; playing without its sound", self.clock())
            )

    def _items(self) -> Iterator[_Item]:
        if self._take is not None:
            for k, pose in enumerate(self._take.poses):
                yield _Item(pose.t if pose is not None else k * self._period, pose, 0.0, None)
            return
        assert self._source is not None
        stream = pose_stream(self._source, self.settings.capture, self._estimators)
        try:
            for frame in stream:
                yield _Item(frame.t, frame.pose, sum(frame.timings.values()), frame.image)
        finally:
            stream.close()  # releases the source and the landmarker

    def _deliver(self, item: _Item, room_t: float | None = None) -> None:
        """Hand one pose on, stamped with its capture time on the room clock: ``room_t`` when
        the source knows it (the actor's page), else now."""
        now = self.clock()
        self._meter.tick(now, capture=item.ms)
        confidence = self.snapshot.confidence
        if item.pose is not None:
            t = now if room_t is None else room_t
            pose = replace(item.pose, t=t)
            self._last = pose
            self._hand_on(pose)
            confidence = {
                limb: float(min(pose.confidence[b] for b in bones)) for limb, bones in LIMBS.items()
            }
        image = item.image if self.settings.show_camera else None
        if image is not None:
            image.flags.writeable = False
        self.snapshot = CaptureSnapshot(self._meter.snapshot(now), confidence, image, self._label)

    def _hand_on(self, pose: Pose) -> None:
        # One clock for every source: an actor's capture time can fall just before the
        # arrival time the room's own source last stamped, and a take never goes back.
        if pose.t <= self._handed_t:
            pose = replace(pose, t=self._handed_t + 1e-3)
        self._handed_t = pose.t
        self.latest.push(pose, arrived=self.clock())
        self.pose_out(pose)
        if self.recorder.recording():
            self.recorder.send(RecordPose(pose.t, pose))


def _is_take(path: Path) -> bool:
    """A take (pose frames), rather than a landmarks file, by its header line."""
    try:
        _, first = next(iter_json_lines(path), (0, None))
    except CaptureError:
        return False
    return first is not None and first.get("format") == TAKE_FORMAT
