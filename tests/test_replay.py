"""Replay on its own: the player's seek (the Reader's clock, shared), the take's notes and
markers as timeline marks, the status's replay and the director's message. No engine, no
sockets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from capture.errors import CaptureError
from capture.opus import SILENCE
from capture.pose import Pose
from capture.take import TakeWriter
from capture.voice import VoiceWriter
from immersion.feed.protocol import Reject, ReplayControl, ViewerProtocol
from immersion.room.reader import Reader, ReaderTake
from immersion.room.replay import (
    MAX_MARK_TEXT,
    MAX_MARKS,
    REPLAY,
    Mark,
    Playback,
    ReplayError,
    ReplayTake,
    aligned,
    load_replay_take,
    take_marks,
)
from tests.test_reader import _height, _rising  # the same rising take and its read-out

pytestmark = pytest.mark.pure


def _playing(take: ReaderTake, now: float = 10.0) -> Reader:
    events: list[str] = []
    player = Reader(events.append, noun=REPLAY)
    assert player.start(player.load(take.name, ""), take, now, ready=True)
    assert events == [
        "replay start: take take-a.jsonl as ",
        "replay playing: take take-a.jsonl as , at 0.0 s",
    ]
    return player


def test_a_playing_replay_seeks_and_plays_on_from_there() -> None:
    player = _playing(_rising())
    assert _height(player, 10.5) == pytest.approx(1.05)
    assert player.seek(10.5, 1.5) is None
    assert _height(player, 10.5) == pytest.approx(1.15)  # jumped, and the clock runs on
    assert _height(player, 10.7) == pytest.approx(1.17)
    assert player.seek(10.7, 0.2) is None  # back too
    assert _height(player, 10.7) == pytest.approx(1.02)
    assert player.snapshot(10.7).t == pytest.approx(0.2)
    # Out of the take: clamped to its ends, never a NaN place.
    assert player.seek(10.7, 99.0) is None and player.snapshot(11.0).t == pytest.approx(2.0)
    assert player.seek(11.0, -3.0) is None and _height(player, 11.0) == pytest.approx(1.0)
    assert player.seek(11.0, float("nan")) == "replay: seek needs a position in seconds"


def test_a_paused_replay_seeks_and_waits_there() -> None:
    player = _playing(_rising())
    assert player.pause(10.4) is None
    assert player.seek(12.0, 1.0) is None
    assert player.state == "paused"
    assert _height(player, 15.0) == pytest.approx(1.1)  # held while paused
    assert player.resume(20.0) is None
    assert _height(player, 20.5) == pytest.approx(1.15)


def test_the_voice_follows_a_seek() -> None:
    player = _playing(_rising(voice=100))  # 2 s of voice
    first = player.voice_due(10.11)
    assert [opus[0] for _, opus in first] == list(range(6))  # 0.00 .. 0.10 s
    assert player.seek(10.11, 1.0) is None
    after = player.voice_due(10.11)
    assert [opus[0] for _, opus in after] == [50]  # from 1.0 s on, not from 0.12 s
    assert after[0][0] == pytest.approx(10.11)  # stamped at the room time it plays at
    assert [opus[0] for _, opus in player.voice_due(10.16)] == [51, 52]


def test_seek_needs_a_take() -> None:
    player = Reader(noun=REPLAY)
    assert player.seek(0.0, 1.0) == "the replay has no take to seek in; start one"
    player.load("take-a.jsonl", "")
    assert player.seek(0.0, 1.0) == "the replay is still reading its take"
    assert player.pause(0.0) == "the replay is loading, not playing"


def test_marks_are_the_takes_notes_and_markers_on_its_timeline() -> None:
    events = [
        {"t": 1.5, "event": "marker", "text": "turn"},
        {"t": 0.7, "event": "note", "text": "lovely pause"},
        {"t": 0.9, "event": "cue", "text": "rolling"},  # not a director's mark
        {"t": 0.2, "event": "note", "text": "before the first frame"},
        {"t": 9.0, "event": "note", "text": "typed after the cut"},
        {"t": 1.0, "event": "end", "frames": 10},
    ]
    marks = take_marks(events, begin=0.5, duration=2.0)
    assert marks == (
        Mark(0.0, "note", "before the first frame"),
        Mark(pytest.approx(0.2), "note", "lovely pause"),  # type: ignore[arg-type]
        Mark(1.0, "marker", "turn"),
        Mark(2.0, "note", "typed after the cut"),
    )


def test_marks_are_bounded_for_the_status() -> None:
    events = [{"t": k / 10, "event": "note", "text": "x" * 1000} for k in range(MAX_MARKS + 50)]
    marks = take_marks(events, begin=0.0, duration=60.0)
    assert len(marks) == MAX_MARKS and marks[-1].t == pytest.approx((MAX_MARKS - 1) / 10)
    assert {len(m.text) for m in marks} == {MAX_MARK_TEXT}


def test_a_replay_take_is_read_with_its_voice_and_marks(tmp_path: Path) -> None:
    with TakeWriter(tmp_path / "take-1.jsonl", {"fps": 10.0, "voice": "take-1.opus"}) as w:
        for k in range(1, 11):
            w.write(k / 10, Pose.rest(k / 10, 1.0))
        w.write_event(0.55, "marker", text="here")
        w.write_event(0.8, "note", text="more")
    with VoiceWriter(tmp_path / "take-1.opus") as voice:
        for k in range(20):
            voice.write(0.2 + k * 0.02, SILENCE)
    loaded = load_replay_take(tmp_path, "take-1.jsonl")
    assert len(loaded.take.poses) == 10 and len(loaded.take.voice) == 20
    assert [(round(m.t, 2), m.kind, m.text) for m in loaded.marks] == [
        (0.45, "marker", "here"),
        (0.7, "note", "more"),
    ]
    playback = Playback()
    assert playback.snapshot(0.0) == {"state": "stopped"}
    assert playback.start(playback.load(["take-1.jsonl"]), [loaded], 3.0, ready=True)
    marks = [
        {"t": 0.45, "kind": "marker", "text": "here"},
        {"t": 0.7, "kind": "note", "text": "more"},
    ]
    assert playback.snapshot(3.25) == {
        "state": "playing",
        "take": "take-1.jsonl",
        "t": 0.25,
        "duration": 0.9,
        "ended": False,
        "marks": marks,
        "voice": 0,
        "takes": [
            {
                "take": "take-1.jsonl",
                "t": 0.25,
                "duration": 0.9,
                "shift": 0.0,
                "align": None,
                "marks": marks,
            }
        ],
    }
    with pytest.raises(CaptureError, match="never a path"):
        load_replay_take(tmp_path, "../take-1.jsonl")


def test_the_directors_replay_message_is_checked_field_by_field() -> None:
    director = ViewerProtocol("director", 0.0)

    def parse(**fields: object) -> object:
        return director.receive(json.dumps({"type": "replay", **fields}), 0.0)

    one = ReplayControl("start", ("take-1.jsonl",), align=(None,))
    assert parse(action="start", take="take-1.jsonl") == one
    assert parse(action="start", takes=["take-1.jsonl"]) == one
    assert parse(action="start", takes=["a.jsonl", "b.jsonl"], align=[2, None]) == ReplayControl(
        "start", ("a.jsonl", "b.jsonl"), align=(2, None)
    )
    assert parse(action="seek", position=12) == ReplayControl("seek", position=12.0)
    assert parse(action="pause") == ReplayControl("pause")
    assert parse(action="voice", index=1) == ReplayControl("voice", voice=1)
    assert parse(action="voice", index=None) == ReplayControl("voice", voice=None)
    for fields, fault in (
        ({"action": "restart"}, "action must be one of start, pause, resume, seek, stop, voice"),
        ({"action": "start", "takes": []}, "takes must be a list of 1 to 4"),
        ({"action": "start", "takes": ["a.jsonl"] * 2}, "takes must differ"),
        ({"action": "start", "takes": [f"{k}.jsonl" for k in range(5)]}, "1 to 4"),
        ({"action": "start", "takes": ["a.jsonl", "../b.jsonl"]}, "not a path"),
        ({"action": "start", "takes": ["a.jsonl"], "take": "a.jsonl"}, "take or takes"),
        ({"action": "start", "takes": ["a.jsonl", "b.jsonl"], "align": [1]}, "an entry per take"),
        ({"action": "start", "take": "a.jsonl", "align": [-1]}, "a mark's index or null"),
        ({"action": "start", "take": "a.jsonl", "align": [True]}, "a mark's index or null"),
        ({"action": "stop", "align": [0]}, "align comes with start only"),
        ({"action": "voice"}, "voice needs index"),
        ({"action": "voice", "index": 4}, "index must be a take's index"),
        ({"action": "pause", "index": 0}, "index comes with voice only"),
        ({"action": "start"}, "take must be a non-empty string"),
        ({"action": "start", "take": "../x.jsonl"}, "not a path"),
        ({"action": "seek"}, "position must be a number"),
        ({"action": "seek", "position": True}, "position must be a number"),
        ({"action": "seek", "position": -1}, "position must be a number"),
        ({"action": "seek", "position": 1e9}, "position must be a number"),
        ({"action": "stop", "take": "t.jsonl"}, "take comes with start only"),
        ({"action": "start", "take": "t.jsonl", "position": 1}, "position comes with seek only"),
    ):
        refused = parse(**fields)
        assert isinstance(refused, Reject) and refused.reason.startswith("replay: "), refused
        assert fault in refused.reason, refused.reason
    observer = ViewerProtocol("observer", 0.0).receive('{"type": "replay", "action": "stop"}', 0.0)
    assert observer == Reject("replay: only directors steer the room")


# --- side by side: takes cut to align, played as one -------------------------------------------


def _take(name: str, marks: tuple[float, ...], seconds: float = 2.0, voice: int = 0) -> ReplayTake:
    rising = _rising(seconds, voice=voice)
    return ReplayTake(
        ReaderTake(name, rising.poses, rising.voice),
        tuple(Mark(t, "marker", f"m{k}") for k, t in enumerate(marks)),
    )


def test_takes_aligned_at_marks_play_their_marks_at_one_moment() -> None:
    a, b = _take("a.jsonl", (0.5, 1.5)), _take("b.jsonl", (1.2,))
    first, second = aligned([a, b], [0, 0])
    # a's mark comes first (0.5 s): a plays from its start, b from 0.7 s in.
    assert first.shift == 0.0 and second.shift == pytest.approx(0.7)
    assert second.take.begin == pytest.approx(0.7) and second.take.duration == pytest.approx(1.3)
    assert second.shown_marks() == (Mark(pytest.approx(0.5), "marker", "m0"),)  # type: ignore[arg-type]
    assert second.marks == b.marks and second.align == 0  # its own clock, for the next align
    playback = Playback()
    assert playback.start(playback.load(["a.jsonl", "b.jsonl"]), [first, second], 10.0, ready=True)
    a_pose, b_pose = playback.poses(10.5)
    assert a_pose is not None and b_pose is not None
    # Both at their marks at once: a's hips at 0.5 s (1.05 m), b's at 1.2 s (1.12 m).
    assert (a_pose.hips[1], b_pose.hips[1]) == (pytest.approx(1.05), pytest.approx(1.12))
    # At their starts: none cut.
    assert [t.shift for t in aligned([a, b], [None, None])] == [0.0, 0.0]
    # Marks of a take before the cut are left off; a mark a take lacks is one line.
    cut = aligned([a, b], [1, None])[0]  # a from 1.5 s: its mark at 0.5 s is not shown
    assert [(m.text, m.t) for m in cut.shown_marks()] == [("m1", 0.0)]
    with pytest.raises(ReplayError, match=r"take b\.jsonl has 1 mark"):
        aligned([a, b], [0, 1])


def test_takes_side_by_side_wait_for_their_strips_then_act_as_one() -> None:
    short, long = _take("a.jsonl", (), seconds=1.0), _take("b.jsonl", (), seconds=2.0)
    playback = Playback()
    generation = playback.load(["a.jsonl", "b.jsonl"])
    assert playback.count == 2 and playback.state == "loading"
    assert playback.start(generation, [short, long], 5.0, ready=False)
    assert playback.state == "loading"  # until the strips' avatars stand
    assert not playback.ready(generation - 1, 6.0)
    assert playback.ready(generation, 6.0) and playback.state == "playing"
    assert playback.pause(6.5) is None
    assert [p.state for p in playback._players[:2]] == ["paused", "paused"]
    assert playback.seek(7.0, 1.5) is None and playback.resume(8.0) is None
    status = playback.snapshot(8.2)
    # The shared timeline is the longer take's; the short one holds its end.
    assert (status["t"], status["duration"], status["ended"]) == (1.7, 2.0, False)
    assert [(t["take"], t["t"]) for t in status["takes"]] == [("a.jsonl", 1.0), ("b.jsonl", 1.7)]
    assert playback.snapshot(9.0)["ended"] is True
    assert playback.stop(9.0) and playback.snapshot(9.0) == {"state": "stopped"}
    assert not playback.stop(9.0)
    with pytest.raises(ReplayError, match="1 to 4 takes"):
        playback.load([f"{k}.jsonl" for k in range(5)])


def test_one_voice_is_heard_and_the_switch_picks_up_where_the_picture_is() -> None:
    a, b = _take("a.jsonl", (), voice=100), _take("b.jsonl", (), voice=100)
    b = ReplayTake(
        ReaderTake("b.jsonl", b.take.poses, tuple((t, b"B" + o) for t, o in b.take.voice)), ()
    )
    playback = Playback()
    assert playback.listen(0) == "the replay is stopped"
    assert playback.start(playback.load(["a.jsonl", "b.jsonl"]), [a, b], 0.0, ready=True)
    heard = playback.voice_due(0.05)
    assert heard and all(not opus.startswith(b"B") for _, opus in heard)  # the first's, at first
    for k in range(3, 25):  # the room's voice thread asks every 20 ms
        assert all(not opus.startswith(b"B") for _, opus in playback.voice_due(k * 0.02))
    assert playback.listen(1) is None
    switched = playback.voice_due(0.5)
    # b's voice from where the picture is (0.5 s), not its backlog from 0 s.
    assert switched[0][1].startswith(b"B") and switched[0][0] == pytest.approx(0.5, abs=0.03)
    assert playback.listen(None) is None and playback.voice_due(1.0) == []
    assert playback.listen(2) == "replay: there are 2 take(s); no take 3 to hear"
    assert playback.snapshot(1.0)["voice"] is None
    assert playback.listen(1) is None
    playback.load(["a.jsonl", "b.jsonl"])  # realigned: the same takes, the same voice
    assert playback.snapshot(1.0)["voice"] == 1
    playback.load(["b.jsonl", "a.jsonl"])  # others: the first's again
    assert playback.snapshot(1.0)["voice"] == 0
