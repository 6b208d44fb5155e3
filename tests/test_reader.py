"""The reader (a scene partner playing a take) on its own: its clock and states, its voice on
the room clock, the take it may read, the director's message for it. No engine, no sockets."""

from __future__ import annotations

import itertools
import json
import os
import threading
from concurrent.futures import Future
from pathlib import Path
from typing import Any, cast

import pytest

from capture.errors import CaptureError, TakeFormatError
from capture.opus import SILENCE
from capture.pose import Pose
from capture.take import TakeWriter
from capture.voice import VoiceWriter
from immersion.errors import StageError
from immersion.feed.protocol import ReaderControl, Reject, ViewerProtocol
from immersion.feed.server import Viewer, reader_hears
from immersion.room.commands import CommandBox
from immersion.room.messages import ReaderVoice, SetReader, SplitTakes, SwitchAvatar
from immersion.room.reader import (
    STOPPING,
    HeldVoice,
    PlayedTakes,
    Reader,
    ReaderTake,
    TakeReads,
    listed_takes,
    load_reader_take,
)
from immersion.stage.pose_feed import LatestPose

pytestmark = pytest.mark.pure


def _rising(seconds: float = 2.0, fps: float = 10.0, voice: int = 0) -> ReaderTake:
    """A take whose hips rise 0.1 m a second from 1 m, and ``voice`` packets from t = 0."""
    poses = tuple(Pose.rest(k / fps, 1.0 + 0.1 * k / fps) for k in range(round(seconds * fps) + 1))
    packets = tuple((k * 0.02, bytes([k % 256]) + b"\x00") for k in range(voice))
    return ReaderTake("take-a.jsonl", poses, packets)


def _height(reader: Reader, now: float) -> float:
    pose = reader.pose(now)
    assert pose is not None
    return float(pose.hips[1])


def test_the_reader_waits_for_its_avatar_then_plays_on_the_room_clock() -> None:
    reader = Reader()
    assert reader.pose(0.0) is None and reader.snapshot(0.0).to_json() == {"state": "stopped"}
    generation = reader.load("take-a.jsonl", "alice")
    # Loading: the take is being read; nothing to pose yet, but viewers see what comes.
    assert reader.pose(1.0) is None and reader.snapshot(1.0).to_json()["take"] == "take-a.jsonl"
    assert reader.start(generation, _rising(), 5.0)
    # The avatar is not on its mark yet: the take waits at its start.
    assert reader.snapshot(9.0).state == "loading" and _height(reader, 9.0) == pytest.approx(1.0)
    assert not reader.ready(generation - 1, 9.5)  # an older start's avatar is no signal
    assert reader.state == "loading"
    assert reader.ready(generation, 10.0)
    state = reader.snapshot(10.55)
    assert (state.state, state.take, state.avatar) == ("playing", "take-a.jsonl", "alice")
    assert state.t == pytest.approx(0.55) and state.duration == pytest.approx(2.0)
    # Between two poses (0.5 and 0.6 s): interpolated, as the main avatar is.
    assert _height(reader, 10.55) == pytest.approx(1.055)


def test_pause_resume_and_restart_move_the_takes_clock() -> None:
    reader = Reader()
    reader.start(reader.load("take-a.jsonl", "alice"), _rising(), 0.0, ready=True)
    assert reader.resume(0.5) == "the reader is playing, not paused"
    assert reader.pause(1.0) is None
    assert reader.pause(1.1) == "the reader is paused, not playing"
    # Paused: the take holds where it was, however long the pause.
    assert _height(reader, 50.0) == pytest.approx(1.1) and reader.snapshot(50.0).t == 1.0
    assert reader.resume(50.0) is None
    assert _height(reader, 50.5) == pytest.approx(1.15)
    assert reader.restart(51.0) is None
    assert reader.snapshot(51.2).t == pytest.approx(0.2) and _height(reader, 51.2) == pytest.approx(
        1.02
    )
    # A paused reader that restarts plays.
    reader.pause(51.5)
    reader.restart(60.0)
    assert reader.state == "playing" and reader.snapshot(60.3).t == pytest.approx(0.3)
    reader.stop(60.5)
    assert reader.pose(61.0) is None and reader.restart(62.0) is not None


def test_a_take_that_ends_holds_its_last_pose_and_falls_silent() -> None:
    reader = Reader()
    reader.start(reader.load("take-a.jsonl", "alice"), _rising(voice=20), 0.0, ready=True)
    assert len(reader.voice_due(5.0)) == 20
    state = reader.snapshot(5.0)
    assert state.ended and state.state == "playing" and state.t == pytest.approx(2.0)
    assert state.to_json()["ended"] is True
    assert _height(reader, 5.0) == pytest.approx(1.2) == _height(reader, 500.0)
    assert reader.voice_due(500.0) == []


def test_voice_packets_go_out_in_order_stamped_on_the_room_clock() -> None:
    reader = Reader()
    take = _rising(voice=100)  # 2 s of packets
    generation = reader.load(take.name, "alice")
    reader.start(generation, take, 0.0)
    assert reader.voice_due(3.0, lead=1.0) == []  # loading: silent
    reader.ready(generation, 8.0)
    first = reader.voice_due(8.125, lead=0.0625)
    # Up to 62.5 ms ahead of the take's place (0.1875 s), each where it plays on the room clock.
    assert [opus for _, opus in first] == [opus for _, opus in take.voice[:10]]
    assert [t for t, _ in first] == pytest.approx([8.0 + 0.02 * k for k in range(10)])
    assert reader.voice_due(8.125, lead=0.0625) == []  # each packet once
    reader.pause(8.5)
    before = first + reader.voice_due(8.5, lead=0.0625)
    assert reader.voice_due(20.0, lead=0.0625) == []  # paused: silent
    reader.resume(30.0)
    after = reader.voice_due(30.25, lead=0.0625)
    # On after the pause where it stopped, none lost or repeated, never less than 20 ms apart.
    sent = before + after
    assert [o for _, o in sent] == [o for _, o in take.voice[: len(sent)]]
    times = [t for t, _ in sent]
    assert all(b - a >= 0.02 - 1e-9 for a, b in itertools.pairwise(times))
    assert 30.0 <= after[-1][0] <= 30.25 + 0.0625 + 0.02 and after[0][0] < 30.1
    reader.restart(40.0)
    again = reader.voice_due(40.0, lead=0.0)
    assert [o for _, o in again] == [take.voice[0][1]] and again[0][0] == pytest.approx(40.0)


def test_the_take_and_its_voice_are_read_by_name_from_the_takes_folder(tmp_path: Path) -> None:
    folder = tmp_path / "takes"
    with TakeWriter(folder / "take-1.jsonl", {"fps": 10.0, "voice": "take-1.opus"}) as w:
        w.write(0.0, None)  # no one seen: skipped, the reader holds
        for k in range(1, 11):
            w.write(k / 10, Pose.rest(k / 10, 1.0))
        w.write_event(0.5, "note", text="a note is no pose")
    with VoiceWriter(folder / "take-1.opus") as voice:
        for k in range(25):
            voice.write(0.05 + k * 0.02, SILENCE)
    take = load_reader_take(folder, "take-1.jsonl")
    assert len(take.poses) == 10 and len(take.voice) == 25
    assert take.begin == pytest.approx(0.05) and take.end == pytest.approx(1.0)
    (folder / "take-2.jsonl").write_text("")
    assert listed_takes(folder) == ["take-1.jsonl", "take-2.jsonl"]
    with pytest.raises(TakeFormatError, match=r"take-2\.jsonl: not an immersion take"):
        load_reader_take(folder, "take-2.jsonl")
    # Anything but a plain take name in that folder is refused with one line.
    outside = tmp_path / "secret.jsonl"
    outside.write_text(json.dumps({"format": "immersion-take", "version": 2}) + "\n")
    os.symlink(outside, folder / "link.jsonl")
    for bad in ("../secret.jsonl", "/etc/passwd", "sub/take-1.jsonl", "take-1.opus", ".x.jsonl",
                "link.jsonl", "missing.jsonl", ""):  # fmt: skip
        with pytest.raises((CaptureError, StageError)) as info:
            load_reader_take(folder, bad)
        assert "\n" not in str(info.value) and len(str(info.value)) < 300
        assert "pack" not in str(info.value)  # a takes folder is no scene pack
    with pytest.raises(StageError, match="a link that leads outside the takes folder"):
        load_reader_take(folder, "link.jsonl")


def test_the_directors_reader_message_is_checked_field_by_field() -> None:
    director = ViewerProtocol("director", 0.0)

    def parse(**fields: object) -> object:
        return director.receive(json.dumps({"type": "reader", **fields}), 0.0)

    assert parse(action="start", take="take-1.jsonl", avatar="alice") == ReaderControl(
        "start", "take-1.jsonl", "alice"
    )
    assert parse(action="pause") == ReaderControl("pause")
    for fields, fault in (
        ({"action": "play"}, "action must be one of start, pause"),
        ({"action": "start", "avatar": "alice"}, "take must be a non-empty string"),
        ({"action": "start", "take": "../x.jsonl", "avatar": "a"}, "not a path"),
        ({"action": "start", "take": "t.jsonl"}, "avatar must be a non-empty string"),
        ({"action": "start", "take": "t" * 81, "avatar": "a"}, "take is over 80 characters"),
        ({"action": "stop", "take": "t.jsonl"}, "take comes with start only"),
    ):
        refused = parse(**fields)
        assert isinstance(refused, Reject) and refused.reason.startswith("reader: ")
        assert fault in refused.reason, refused.reason
    observer = ViewerProtocol("observer", 0.0).receive('{"type": "reader", "action": "stop"}', 0.0)
    assert observer == Reject("reader: only directors steer the room")


def test_the_readers_avatar_is_one_coalesced_costly_switch() -> None:
    box = CommandBox(gap_s=1.0)
    box.put(SetReader("alice"))
    box.put(SetReader("bob"))
    box.put(SwitchAvatar("carol"))
    assert box.due(0.0) == [SwitchAvatar("carol")]  # one load at a time
    assert box.due(0.5) == []
    assert box.due(1.0) == [SetReader("bob")] and box.replaced == 1


def test_a_split_loads_like_an_avatar_unless_its_strips_stand_already() -> None:
    box = CommandBox(gap_s=1.0)
    box.put(SwitchAvatar("carol"))
    box.put(SplitTakes(2, 7))
    assert box.due(0.0) == [SwitchAvatar("carol")]
    assert box.due(0.5) == []  # two strips to stand: it waits its turn
    assert box.due(0.6, lambda c: False) == [SplitTakes(2, 7)]  # they stand: a realignment
    box.put(SplitTakes(3, 8))
    assert box.due(1.0, lambda c: True) == [SplitTakes(3, 8)]


def test_a_stop_while_the_take_is_read_wins_and_each_start_acts_on_its_own() -> None:
    reader = Reader()
    first = reader.load("take-a.jsonl", "alice")
    assert reader.state == "loading"  # at once, on the feed's loop: a Stop is heard
    assert reader.stop(1.0) and reader.state == "stopped"
    assert not reader.stop(1.1)  # stopped already
    assert not reader.start(first, _rising(), 2.0, ready=True)  # read too late: nothing
    assert reader.state == "stopped" and reader.pose(2.0) is None
    # A newer start: the older one's read, ready and failure change nothing.
    second = reader.load("take-a.jsonl", "bob")
    assert not reader.start(first, _rising(), 3.0)
    assert reader.snapshot(3.0).duration == 0.0  # still its own take to read
    assert reader.start(second, _rising(), 3.0)
    assert not reader.ready(first, 4.0) and reader.state == "loading"
    assert not reader.stop(4.0, "its avatar did not load", first)  # the render thread, late
    assert reader.ready(second, 5.0) and reader.state == "playing"
    assert reader.snapshot(5.5).avatar == "bob"
    assert reader.stop(6.0, "its avatar did not load", second) and reader.state == "stopped"


def test_every_change_of_the_readers_state_is_an_event_for_the_take() -> None:
    heard: list[str] = []
    reader = Reader(heard.append)
    reader.restart(0.0)  # refused: no event
    generation = reader.load("take-a.jsonl", "alice")
    reader.start(generation, _rising(), 0.0)
    assert heard == ["reader start: take take-a.jsonl as alice"]  # not playing yet
    reader.ready(generation, 10.0)  # its avatar stands: the replay's time zero for the take
    reader.pause(10.5)
    reader.pause(10.6)  # refused
    reader.resume(20.0)
    reader.restart(20.7)
    reader.stop(21.0, "'one-mark' has no second mark")
    assert heard[1:] == [
        "reader playing: take take-a.jsonl as alice, at 0.0 s",
        "reader pause: take take-a.jsonl as alice, at 0.5 s",
        "reader resume: take take-a.jsonl as alice, at 0.5 s",
        "reader restart: take take-a.jsonl as alice, at 1.2 s",
        "reader stop: take take-a.jsonl as alice, at 0.3 s ('one-mark' has no second mark)",
    ]
    # An avatar already on its mark: it plays as its take is read, and says so.
    reader.start(reader.load("take-a.jsonl", "alice"), _rising(), 30.0, ready=True)
    assert heard[-1] == "reader playing: take take-a.jsonl as alice, at 0.0 s"


def test_the_event_callback_runs_outside_the_readers_lock() -> None:
    reader: Reader

    def look(text: str) -> None:
        reader.snapshot(0.0)  # would deadlock inside the lock

    reader = Reader(look)
    done = threading.Event()

    def go() -> None:
        reader.start(reader.load("take-a.jsonl", "alice"), _rising(), 0.0, ready=True)
        reader.pause(0.5)
        reader.stop(1.0)
        done.set()

    threading.Thread(target=go, daemon=True).start()
    assert done.wait(5.0)


def test_the_headsets_reader_voice_is_held_until_its_picture_shows() -> None:
    held = HeldVoice()
    held.hold([(1.00, b"a"), (1.02, b"b"), (1.04, b"c")])
    assert held.due(1.05, delay=0.1) == []  # sent 60 ms ahead, shown 100 ms late
    assert held.due(1.12, delay=0.1) == [b"a", b"b"]
    assert held.due(1.5, delay=0.1) == [b"c"] and held.due(9.0, delay=0.1) == []
    # The delay is the one the picture uses: the render loop's frame time.
    latest = LatestPose()
    for k in range(5):
        latest.push(Pose.rest(k * 0.05, 1.0), arrived=k * 0.05 + 0.03)
    now = 1.0
    assert latest.frame_time(now) == pytest.approx(now - latest.lag() - latest.period())
    assert latest.frame_time(now) < now - 0.05 - 0.02  # a period, and a lag of about 30 ms
    shown, expected = latest.for_frame(0.2), latest.at(latest.frame_time(0.2))
    assert shown is not None and expected is not None and shown.t == pytest.approx(expected.t)


def test_the_actors_page_gets_no_second_copy_when_the_headset_plays_the_reader() -> None:
    def viewer(k: int, role: str, audio: bool) -> Viewer:
        return Viewer(k, cast(Any, None), ViewerProtocol(role, 0.0), audio=audio)

    actor, director, deaf = (
        viewer(1, "actor", False),
        viewer(2, "director", True),
        viewer(3, "observer", False),
    )
    for to_actor in (True, False):
        voice = ReaderVoice(1.0, b"x", to_actor=to_actor)
        assert [v.id for v in (actor, director, deaf) if reader_hears(v, actor, voice)] == (
            [1, 2] if to_actor else [2]
        )


def test_pending_reader_starts_are_answered_when_the_room_stops() -> None:
    reads = TakeReads()
    gate = threading.Event()
    began = threading.Event()

    def slow() -> str | None:
        began.set()
        gate.wait(5.0)
        return None

    running: Future[str | None] = Future()
    queued: Future[str | None] = Future()
    reads.submit(slow, running)
    assert began.wait(5.0)
    reads.submit(lambda: "never read", queued)
    reads.close()
    assert queued.result(1.0) == STOPPING and running.result(1.0) == STOPPING
    gate.set()  # the running read ends later: its answer is not set twice
    late: Future[str | None] = Future()
    reads.submit(lambda: None, late)
    assert late.result(1.0) == STOPPING
    # Before a stop, a job's answer (or its exception, in one line) is the reply.
    reads = TakeReads()
    ok: Future[str | None] = Future()
    broken: Future[str | None] = Future()
    reads.submit(lambda: "refused", ok)

    def fails() -> str | None:
        raise OSError("disk gone")

    reads.submit(fails, broken)
    assert ok.result(5.0) == "refused" and broken.result(5.0) == "reader: OSError: disk gone"
    reads.close()


def test_a_reader_that_loads_nothing_does_not_wait_for_the_switch_gap() -> None:
    box = CommandBox(gap_s=1.0)
    box.put(SwitchAvatar("carol"))
    assert box.due(0.0) == [SwitchAvatar("carol")]
    box.put(SetReader(None))  # a stop loads nothing
    assert box.due(0.1) == [SetReader(None)]
    box.put(SetReader("alice", 3))
    assert box.due(0.2, lambda c: getattr(c, "avatar", None) != "alice") == [
        SetReader("alice", 3)
    ]  # it stands
    box.put(SetReader("bob", 4))
    assert (
        box.due(0.3, lambda c: getattr(c, "avatar", None) != "alice") == []
    )  # bob loads: after the gap
    assert box.due(1.0, lambda c: getattr(c, "avatar", None) != "alice") == [SetReader("bob", 4)]


def test_played_takes_are_kept_while_unchanged_and_let_go_when_deleted(tmp_path: Path) -> None:
    def write(name: str, frames: int) -> None:
        with TakeWriter(tmp_path / name, {"fps": 10.0}) as w:
            for k in range(frames):
                w.write(k / 10, Pose.rest(k / 10, 1.0))

    write("a.jsonl", 20)
    write("b.jsonl", 30)
    kept = PlayedTakes(max_frames=40)
    first = kept.read(tmp_path, "a.jsonl", "replay take")
    assert kept.read(tmp_path, "a.jsonl", "replay take") is first  # not read again
    kept.read(tmp_path, "b.jsonl", "replay take")  # 50 frames: a, the oldest, gives way
    assert kept.read(tmp_path, "a.jsonl", "replay take") is not first
    # Written anew (another size): read anew.
    (tmp_path / "b.jsonl").unlink()
    write("b.jsonl", 25)
    assert len(kept.read(tmp_path, "b.jsonl", "replay take")[0].poses) == 25
    # Deleted: its poses are not kept in memory, and it cannot be played.
    (tmp_path / "b.jsonl").unlink()
    with pytest.raises(StageError, match="does not exist"):
        kept.read(tmp_path, "b.jsonl", "replay take")
    assert all(path.name != "b.jsonl" for path, _, _ in kept._kept)
    with pytest.raises(CaptureError, match="never a path"):
        kept.read(tmp_path, "../a.jsonl", "replay take")
