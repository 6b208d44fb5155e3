"""The reader (a scene partner playing a take) on its own: its clock and states, its voice on
the room clock, the take it may read, the director's message for it. No engine, no sockets."""

from __future__ import annotations

import itertools
import json
import os
from pathlib import Path

import pytest

from capture.errors import CaptureError, TakeFormatError
from capture.opus import SILENCE
from capture.pose import Pose
from capture.take import TakeWriter
from capture.voice import VoiceWriter
from immersion.errors import StageError
from immersion.feed.protocol import ReaderControl, Reject, ViewerProtocol
from immersion.room.commands import CommandBox
from immersion.room.messages import SetReader, SwitchAvatar
from immersion.room.reader import Reader, ReaderTake, listed_takes, load_reader_take

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
    reader.start(_rising(), "alice", 5.0)
    # Loading: the avatar is not on its mark yet, the take waits at its start.
    assert reader.snapshot(9.0).state == "loading" and _height(reader, 9.0) == pytest.approx(1.0)
    reader.ready("someone else", 9.5)  # another avatar's load is no signal
    assert reader.state == "loading"
    reader.ready("alice", 10.0)
    state = reader.snapshot(10.55)
    assert (state.state, state.take, state.avatar) == ("playing", "take-a.jsonl", "alice")
    assert state.t == pytest.approx(0.55) and state.duration == pytest.approx(2.0)
    # Between two poses (0.5 and 0.6 s): interpolated, as the main avatar is.
    assert _height(reader, 10.55) == pytest.approx(1.055)


def test_pause_resume_and_restart_move_the_takes_clock() -> None:
    reader = Reader()
    reader.start(_rising(), "alice", 0.0, ready=True)
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
    reader.stop()
    assert reader.pose(61.0) is None and reader.restart(62.0) is not None


def test_a_take_that_ends_holds_its_last_pose_and_falls_silent() -> None:
    reader = Reader()
    reader.start(_rising(voice=20), "alice", 0.0, ready=True)
    assert len(reader.voice_due(5.0)) == 20
    state = reader.snapshot(5.0)
    assert state.ended and state.state == "playing" and state.t == pytest.approx(2.0)
    assert state.to_json()["ended"] is True
    assert _height(reader, 5.0) == pytest.approx(1.2) == _height(reader, 500.0)
    assert reader.voice_due(500.0) == []


def test_voice_packets_go_out_in_order_stamped_on_the_room_clock() -> None:
    reader = Reader()
    take = _rising(voice=100)  # 2 s of packets
    reader.start(take, "alice", 0.0)
    assert reader.voice_due(3.0, lead=1.0) == []  # loading: silent
    reader.ready("alice", 8.0)
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
