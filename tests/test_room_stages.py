"""The room's stages on their own: the command box, meters, the recorder and the capture
worker, without a stage, a feed or a network."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from pathlib import Path

import numpy as np
import pytest

from capture.errors import SourceError, TakeFormatError
from capture.landmarks import Landmark, LandmarkFrame
from capture.pose import Pose
from capture.rotations import quat_to_matrix
from capture.skeleton import Bone
from capture.synthetic import frame_from_avatar_points, tpose_avatar_points
from capture.take import TakeWriter, read_take
from immersion.config import RoomSettings
from immersion.room.actor import ActorLink, believable
from immersion.room.capture_worker import CaptureWorker
from immersion.room.commands import CommandBox
from immersion.room.messages import (
    CueActor,
    NoteAdded,
    NoteItem,
    Problem,
    RoomEvent,
    SwitchAvatar,
    SwitchCamera,
    SwitchScene,
    TakeChanged,
)
from immersion.room.meter import Meter
from immersion.room.recorder import Recorder, RecordNote, RecordPose, StartTake, StopTake
from immersion.stage.pose_feed import LatestPose
from tests.support import tmpfs


@pytest.mark.pure
def test_a_flood_of_switches_coalesces_to_the_newest_and_loads_are_spaced() -> None:
    box = CommandBox(gap_s=2.0)
    for k in range(100):  # 5 s of a director switching scenes every 50 ms
        box.put(SwitchScene(f"pack-{k}"))
        box.put(SwitchAvatar(f"avatar-{k}"))
    assert box.pending() == 2 and box.replaced == 198
    assert box.due(10.0) == [SwitchScene("pack-99")]  # one load per call, scene first
    assert box.due(11.0) == []  # the avatar waits for the gap
    assert box.due(12.0) == [SwitchAvatar("avatar-99")]
    assert box.pending() == 0


@pytest.mark.pure
def test_a_camera_waits_for_a_pending_scene_and_a_new_scene_drops_an_old_camera() -> None:
    box = CommandBox(gap_s=2.0)
    box.put(SwitchCamera("wide"))
    box.put(SwitchScene("western-saloon"))  # "wide" was a preset of the old set
    box.put(CueActor("note", "again"))
    assert box.due(0.0) == [SwitchScene("western-saloon"), CueActor("note", "again")]
    box.put(SwitchScene("noir-office"))
    box.put(SwitchCamera("close"))
    assert box.due(1.0) == []  # the scene is not due yet, and the camera belongs after it
    assert box.due(2.0) == [SwitchScene("noir-office"), SwitchCamera("close")]


@pytest.mark.pure
def test_rates_decay_to_zero_when_nothing_happens() -> None:
    meter = Meter(window_s=2.0)
    for k in range(90):  # 3 s at 30 fps
        meter.tick(k / 30, capture=12.0)
    snap = meter.snapshot(89 / 30)
    assert snap.rate(89 / 30) == pytest.approx(30.0, abs=0.6)
    assert snap.median("capture", 89 / 30) == 12.0
    later = 89 / 30 + 2.5
    assert snap.rate(later) == 0.0 and snap.median("capture", later) is None


def _recorder(folder: Path, events: list[RoomEvent], min_free: int = 0) -> Recorder:
    clock = time.monotonic
    recorder = Recorder(folder, clock, events.append, min_free)
    threading.Thread(target=recorder.run, daemon=True).start()
    return recorder


def _ask(recorder: Recorder, message: type[StartTake] | type[StopTake]) -> str | None:
    reply: Future[str | None] = Future()
    recorder.send(StartTake({"fps": 30.0}, reply) if message is StartTake else StopTake(reply))
    return reply.result(10)


def _pose(t: float) -> Pose:
    """A tracked standing pose (every bone confident, so a take writes every bone)."""
    rest = Pose.rest(t, hips_height=0.9)
    return Pose(t, rest.hips, rest.rotations, np.ones(len(rest.confidence)))


def test_the_recorder_writes_a_take_with_notes_and_tells_the_room(tmp_path: Path) -> None:
    events: list[RoomEvent] = []
    recorder = _recorder(tmp_path, events)
    recorder.send(RecordNote(NoteItem("note", "before anything", time.monotonic())))
    assert _ask(recorder, StartTake) is None
    assert "already rolling" in str(_ask(recorder, StartTake))
    for k in range(10):
        recorder.send(RecordPose(time.monotonic(), _pose(k / 30)))
    noted: Future[NoteItem] = Future()
    recorder.send(RecordNote(NoteItem("marker", "turn", time.monotonic()), noted))
    assert noted.result(10).take_t is not None
    assert _ask(recorder, StopTake) is None
    assert _ask(recorder, StopTake) == "no take is rolling"
    recorder.stop()
    (path,) = tmp_path.glob("take-*.jsonl")
    take = read_take(path)
    assert len(take.poses) == 10 and [e["event"] for e in take.events] == ["marker", "end"]
    assert take.events[-1]["frames"] == 10
    kinds = [type(e).__name__ for e in events]
    assert kinds == ["NoteAdded", "TakeChanged", "NoteAdded", "TakeChanged"]
    listing = recorder.takes.newest(50, 100)
    assert [t["file"] for t in listing] == ["", path.name]
    assert listing[1]["frames"] == 10 and listing[1]["notes"][0]["text"] == "turn"


def test_notes_sent_to_a_viewer_on_connecting_are_bounded(tmp_path: Path) -> None:
    events: list[RoomEvent] = []
    recorder = _recorder(tmp_path, events)
    deadline = time.monotonic() + 20
    for k in range(700):
        recorder.send(RecordNote(NoteItem("note", "x" * 2000, float(k))))
        while len(events) < k - 100 and time.monotonic() < deadline:  # its queue is bounded
            time.sleep(0.001)
    while sum(isinstance(e, NoteAdded) for e in events) < 700 and time.monotonic() < deadline:
        time.sleep(0.01)
    recorder.stop()
    assert recorder.dropped == 0
    listing = recorder.takes.newest(50, 100)
    assert len(listing) == 1 and len(listing[0]["notes"]) == 100
    assert listing[0]["notes"][-1]["t"] == 699.0  # the newest, not the oldest


@pytest.fixture
def full_disk(tmp_path: Path) -> Iterator[Path]:
    with tmpfs(tmp_path / "tiny", "256k") as folder:
        yield folder


def test_a_full_disk_ends_the_take_cleanly_and_refuses_the_next(full_disk: Path) -> None:
    events: list[RoomEvent] = []
    recorder = _recorder(full_disk, events, min_free=64 << 10)
    assert _ask(recorder, StartTake) is None
    for k in range(400):  # ~3 KB a line: far more than 256 KB
        recorder.send(RecordPose(time.monotonic(), _pose(k / 30)))
        if k % 50 == 0:
            time.sleep(0.05)  # let the recorder keep up: the queue is bounded
    deadline = time.monotonic() + 10
    while recorder.state.rolling and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not recorder.state.rolling, "the take should have ended when the disk filled"
    problems = [e for e in events if isinstance(e, Problem)]
    assert len(problems) == 1 and "No space left on device" in problems[0].text
    ended = [e.entry for e in events if isinstance(e, TakeChanged)][-1]
    assert ended.ended_by and "No space left" in ended.ended_by
    refused = _ask(recorder, StartTake)
    assert refused is not None and "KB free" in refused
    assert recorder.state.refused == refused
    (path,) = full_disk.glob("take-*.jsonl")
    take = read_take(path)  # what was written is readable (a torn last line is skipped)
    assert len(take.poses) > 10
    noted: Future[NoteItem] = Future()
    recorder.send(RecordNote(NoteItem("note", "still full", time.monotonic()), noted))
    noted.result(10)
    assert recorder.state.refused, "a note must not clear the refusal while the disk is full"
    path.unlink()  # room again: the recorder sees it by itself
    deadline = time.monotonic() + 10
    while recorder.state.refused and time.monotonic() < deadline:
        time.sleep(0.05)
    assert recorder.state.refused is None
    assert _ask(recorder, StartTake) is None
    recorder.stop()


class _DriverClock:
    """A live source whose frame times look like a V4L2 driver's: seconds since boot. It can
    drop out after ``frames`` (a camera unplugged) instead of ending."""

    name = "camera 0 (fake: no camera on this machine)"
    live = True
    total = None

    def __init__(self, frames: int, drops: bool = False) -> None:
        self._frames = frames
        self._drops = drops

    def frames(self) -> Iterator[LandmarkFrame]:
        for k in range(self._frames):
            yield frame_from_avatar_points(864_000.0 + k / 30, tpose_avatar_points())
        if self._drops:
            raise SourceError("camera 0: stopped delivering frames")

    def close(self) -> None:
        pass


def _worker(
    tmp_path: Path, events: list[RoomEvent], opener: Callable[[], _DriverClock]
) -> tuple[CaptureWorker, LatestPose]:
    settings = RoomSettings(source="0", scene="noir-office", avatar="detective", camera_retry_s=0.1)
    latest = LatestPose()
    recorder = Recorder(tmp_path, time.monotonic, events.append, 0)
    worker = CaptureWorker(  # no camera on this machine: the fake stands in for one
        settings, time.monotonic, latest, recorder, events.append, threading.Event(), opener
    )
    return worker, latest


def _run_to_the_end(worker: CaptureWorker) -> None:
    """Run the worker until its source has ended (it then waits for an actor's page: the
    room's stop ends that)."""
    thread = threading.Thread(target=worker.run)
    thread.start()
    deadline = time.monotonic() + 30
    while worker.snapshot.source != "ended" and time.monotonic() < deadline:
        time.sleep(0.01)
    worker._stop.set()
    thread.join(10)
    assert worker.snapshot.source == "ended" and not thread.is_alive()


@pytest.mark.pure
def test_a_live_source_is_not_paced_by_its_driver_clock(tmp_path: Path) -> None:
    worker, latest = _worker(tmp_path, [], lambda: _DriverClock(60))
    start = time.monotonic()
    _run_to_the_end(worker)  # 60 frames, 10 days after boot by the driver's clock
    assert time.monotonic() - start < 5.0, "a live source must never be paced"
    assert worker.live and len(worker.snapshot.meter.times) == 60
    assert latest.at(time.monotonic()) is not None


@pytest.mark.pure
def test_a_camera_that_drops_is_reopened_and_the_room_is_told(tmp_path: Path) -> None:
    events: list[RoomEvent] = []
    opened: list[_DriverClock] = []
    attempts = iter([_DriverClock(20, drops=True), None, _DriverClock(15)])

    def opener() -> _DriverClock:
        source = next(attempts)
        if source is None:
            raise SourceError("camera 0: not found or busy")  # still unplugged
        opened.append(source)
        return source

    worker, _ = _worker(tmp_path, events, opener)
    _run_to_the_end(worker)
    assert len(opened) == 2 and len(worker.snapshot.meter.times) == 35
    problems = [e for e in events if isinstance(e, Problem)]
    assert [p.text for p in problems] == ["camera 0: stopped delivering frames; reopening"]


@pytest.mark.pure
def test_a_one_frame_take_loops_at_its_frame_rate_and_an_empty_one_is_refused(
    tmp_path: Path,
) -> None:
    one = tmp_path / "one.jsonl"
    with TakeWriter(one, {"fps": 30.0}) as writer:
        writer.write(0.0, Pose.rest(0.0, hips_height=0.9))
    events: list[RoomEvent] = []
    settings = RoomSettings(source=str(one), scene="noir-office", avatar="detective")
    stop = threading.Event()
    recorder = Recorder(tmp_path, time.monotonic, events.append, 0)
    worker = CaptureWorker(settings, time.monotonic, LatestPose(), recorder, events.append, stop)
    thread = threading.Thread(target=worker.run)
    thread.start()
    time.sleep(1.0)
    stop.set()
    thread.join(5)
    ticks = len(worker.snapshot.meter.times)
    assert 20 <= ticks <= 40, f"{ticks} frames in a second from a 30 fps one-frame take"
    empty = tmp_path / "empty.jsonl"
    TakeWriter(empty, {"fps": 30.0}).close()
    with pytest.raises(TakeFormatError, match="no frames"):
        CaptureWorker(
            RoomSettings(source=str(empty), scene="noir-office", avatar="detective"),
            time.monotonic, LatestPose(), recorder, events.append, stop,
        )  # fmt: skip


def _arm_up(t: float) -> LandmarkFrame:
    """The T-pose with the left arm straight up (avatar space +Y)."""
    points = tpose_avatar_points()
    shoulder = points[Landmark.LEFT_SHOULDER].copy()
    for k, name in enumerate(("ELBOW", "WRIST", "PINKY", "INDEX", "THUMB")):
        points[Landmark[f"LEFT_{name}"]] = shoulder + np.array([0.0, 0.28 * min(k + 1, 2.2), 0.0])
    return frame_from_avatar_points(t, points)


def _left_arm_axis(latest: LatestPose) -> float:
    """Where the left upper arm points, up (+1) or down (-1)."""
    pose = latest.at(float("inf"))
    assert pose is not None
    return float((quat_to_matrix(pose.rotation(Bone.LEFT_UPPER_ARM)) @ [1.0, 0.0, 0.0])[1])


def _until(check: Callable[[], bool], timeout: float = 5.0) -> float:
    start = time.monotonic()
    while not check():
        assert time.monotonic() - start < timeout, "timed out"
        time.sleep(0.01)
    return time.monotonic() - start


@pytest.mark.pure
def test_an_actors_page_drives_the_avatar_holds_it_when_dropped_and_gives_it_back(
    tmp_path: Path,
) -> None:
    still = tmp_path / "still.jsonl"
    with TakeWriter(still, {"fps": 30.0}) as writer:
        writer.write(0.0, Pose.rest(0.0, hips_height=0.9))
    settings = RoomSettings(
        source=str(still), scene="noir-office", avatar="detective",
        actor_hold_s=0.1, actor_ease_s=0.2, actor_grace_s=0.8,
    )  # fmt: skip
    events: list[RoomEvent] = []
    stop, latest, link = threading.Event(), LatestPose(), ActorLink()
    recorder = Recorder(tmp_path, time.monotonic, events.append, 0)
    worker = CaptureWorker(
        settings, time.monotonic, latest, recorder, events.append, stop, actor=link
    )
    thread = threading.Thread(target=worker.run)
    thread.start()
    try:
        _until(lambda: worker.snapshot.source == "recording")

        def perform(session: int, seconds: float) -> None:
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                now = time.monotonic()
                assert link.frame(session, now - 0.03, now, _arm_up(0.0))
                time.sleep(1 / 30)

        link.join(1)
        _until(lambda: worker.snapshot.source == "actor")
        perform(1, 0.3)
        _until(lambda: _left_arm_axis(latest) > 0.9)  # the actor's raised arm
        # The page drops: its last pose holds, then eases to standing, arms down.
        assert link.leave(1, explicit=False)
        _until(lambda: worker.snapshot.source == "actor disconnected")
        assert _left_arm_axis(latest) > 0.9  # held at first
        _until(lambda: _left_arm_axis(latest) < -0.8, timeout=2)  # then at ease
        # Not back within the grace period: the room's own source resumes.
        waited = _until(lambda: worker.snapshot.source == "recording", timeout=3)
        assert waited > 0.2
        # A late goodbye from an old page changes nothing; one that leaves gives back at once.
        link.join(2)
        assert not link.frame(1, time.monotonic(), time.monotonic(), _arm_up(0.0))
        _until(lambda: worker.snapshot.source == "actor")
        perform(2, 0.2)
        assert not link.leave(1, explicit=False)
        assert link.leave(2, explicit=True)
        assert _until(lambda: worker.snapshot.source == "recording") < 0.5
        # Dropped, then back on a page that leaves before it performs: the hold ends at once.
        link.join(3)
        perform(3, 0.2)
        assert link.leave(3, explicit=False)
        _until(lambda: worker.snapshot.source == "actor disconnected")
        assert link.leave(4, explicit=True)
        assert _until(lambda: worker.snapshot.source == "recording") < 0.5
        assert not link.leave(5, explicit=True)  # nothing held: no news
    finally:
        stop.set()
        thread.join(5)


@pytest.mark.pure
def test_a_pages_clock_is_believed_only_near_the_rooms() -> None:
    assert believable(9.97, 10.0) == 9.97
    assert believable(10.5, 10.0) == 10.0  # never in the future
    assert believable(3.0, 10.0) == 10.0  # far off: its arrival instead
    link = ActorLink()
    link.join(7)
    for t in (5.0, 4.0, 5.0):  # a clock that goes back is moved on, never back
        assert link.frame(7, t, 5.0, _arm_up(0.0))
    times = []
    while (item := link.next(0.0)) is not None and isinstance(item, LandmarkFrame):
        times.append(item.t)
    assert times == sorted(times) and len(set(times)) == 3
