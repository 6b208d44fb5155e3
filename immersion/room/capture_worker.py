"""The capture worker: the room's source turned into the pose stream, on its own thread.

A recorded source (a video, a take, a landmarks file) is paced to real time from its own
timestamps; a live camera is never paced (its frames come when they come, and its driver's
clock is not ours). A camera that stops delivering is reopened after a pause, for as long as
the room runs; the avatar holds its last pose meanwhile. Each pose is pushed to the render
loop's :class:`~immersion.stage.pose_feed.LatestPose` stamped with the room clock, and to the
recorder while a take rolls.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from capture.errors import CaptureError, SourceError, TakeFormatError
from capture.pipeline import Estimators, pose_stream
from capture.pose import Pose
from capture.skeleton import Bone
from capture.sources import Source, open_source
from capture.take import TAKE_FORMAT, Take, iter_json_lines, read_take
from immersion.config import RoomSettings
from immersion.room.messages import MeterSnapshot, Problem, RoomEvent
from immersion.room.meter import Meter
from immersion.room.recorder import Recorder, RecordPose
from immersion.stage.pose_feed import LatestPose

log = logging.getLogger(__name__)

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
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.latest = latest
        self.recorder = recorder
        self.emit = emit
        self._stop = stop
        self.snapshot = CaptureSnapshot()  # replaced whole, read by other threads
        self._meter = Meter()
        # Opened now, so a missing file or camera fails the command before the room starts.
        self._open = opener or (lambda: open_source(settings.source, None))
        self._take: Take | None = None
        self._source: Source | None = None
        path = Path(settings.source)
        if opener is None and path.suffix == ".jsonl" and _is_take(path):
            self._take = read_take(path)
            if not self._take.poses:
                raise TakeFormatError(f"{path}: a take with no frames has nothing to play")
        else:
            self._source = self._open()
        self.live = self._source is not None and self._source.live
        fps = (self._take.fps if self._take is not None else None) or getattr(
            self._source, "fps", None
        )
        self._period = 1.0 / float(fps) if fps else 1.0 / 30.0  # between a source's frames
        self._resume_at = 0.0  # a recorded source's next pass plays no sooner than this
        self._estimators = Estimators()  # one landmarker for every pass, closed by run()

    def run(self) -> None:
        try:
            self._run()
        finally:
            self._estimators.close()

    def _run(self) -> None:
        while not self._stop.is_set():
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
            if self.live or not self.settings.loop:
                return
            if self._source is not None:  # played to its end: open it again for the next pass
                self._source = self._open()

    def _pass(self) -> None:
        """One run through the source, paced unless it is live. A recorded source's passes
        follow each other one frame period apart, however short it is: a one-frame take loops
        at its frame rate, not as fast as the processor can go."""
        anchor: float | None = None
        for item in self._items():
            if self._stop.is_set():
                return
            if not self.live:
                if anchor is None:
                    anchor = max(time.monotonic(), self._resume_at) - item.t
                delay = anchor + item.t - time.monotonic()
                if delay > 0 and self._stop.wait(delay):
                    return
                self._resume_at = anchor + item.t + self._period
            self._deliver(item)

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

    def _deliver(self, item: _Item) -> None:
        now = self.clock()
        self._meter.tick(now, capture=item.ms)
        confidence = self.snapshot.confidence
        if item.pose is not None:
            pose = Pose(now, item.pose.hips, item.pose.rotations, item.pose.confidence)
            self.latest.push(pose)
            if self.recorder.recording():
                self.recorder.send(RecordPose(now, pose))
            confidence = {
                limb: float(min(pose.confidence[b] for b in bones)) for limb, bones in LIMBS.items()
            }
        image = item.image if self.settings.show_camera else None
        if image is not None:
            image.flags.writeable = False
        self.snapshot = CaptureSnapshot(self._meter.snapshot(now), confidence, image)


def _is_take(path: Path) -> bool:
    """A take (pose frames), rather than a landmarks file, by its header line."""
    try:
        _, first = next(iter_json_lines(path), (0, None))
    except CaptureError:
        return False
    return first is not None and first.get("format") == TAKE_FORMAT
