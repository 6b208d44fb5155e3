"""A presentation's guests, as rules: what they see, what they may start, what their status
holds; and the protocol's guest and director messages."""

from __future__ import annotations

import json
from typing import Any

import pytest

from immersion.casting.presentations import Presentation, ShownTake
from immersion.feed import presenting as rules
from immersion.feed.protocol import (
    Hello,
    PresentationControl,
    Reject,
    ReplayControl,
    ViewerProtocol,
)

pytestmark = pytest.mark.pure

SHOWN = Presentation(1, "For Kim", "2026-11-26T09:00:00+00:00", "director",
                     "2026-12-03T09:00:00+00:00", None, False, ("a.jsonl", "b.jsonl"))  # fmt: skip


def _replay(state: str, *takes: str, marks: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {"state": state}
    if len(takes) == 1:
        out["take"] = takes[0]
    elif takes:
        out["takes"] = [{"take": t, "marks": [{"t": 1.0}]} for t in takes]
    if marks:
        out["marks"] = [{"t": 1.0, "kind": "note", "text": "lovely"}]
    return out


def test_guests_see_only_their_takes_playing() -> None:
    assert rules.shown(_replay("playing", "a.jsonl"), SHOWN)
    assert rules.shown(_replay("paused", "a.jsonl", "b.jsonl"), SHOWN)
    assert not rules.shown(_replay("loading", "a.jsonl"), SHOWN)  # the live avatar still
    assert not rules.shown(_replay("stopped"), SHOWN)
    assert not rules.shown(None, SHOWN)
    assert not rules.shown(_replay("playing", "a.jsonl", "other.jsonl"), SHOWN)
    assert not rules.shown(_replay("playing", "other.jsonl"), SHOWN)


def test_a_guest_starts_only_when_the_room_is_free() -> None:
    free: dict[str, Any] = {"replay": None, "rolling": False, "actor": False}

    def refuse(action: str, takes: list[str], **room: Any) -> str | None:
        state = {**free, **room}
        return rules.refuse_replay(
            action, takes, SHOWN, state["replay"], state["rolling"], state["actor"]
        )

    assert refuse("start", ["a.jsonl"]) is None
    assert refuse("start", ["a.jsonl", "b.jsonl"]) is None
    assert refuse("start", ["a.jsonl", "x.jsonl"]) == (
        "replay: take 'x.jsonl' is not in this presentation"
    )
    assert refuse("start", ["a.jsonl"], rolling=True) == f"replay: {rules.IN_AUDITION}"
    assert refuse("start", ["a.jsonl"], actor=True) == f"replay: {rules.IN_AUDITION}"
    assert refuse("start", ["a.jsonl"], replay=_replay("playing", "x.jsonl")) == (
        f"replay: {rules.OTHERS_PLAYING}"
    )
    # Their own screening: started over, paused, stopped by any of its guests.
    ours = _replay("playing", "b.jsonl")
    for action in ("start", "pause", "resume", "seek", "stop", "voice"):
        assert refuse(action, ["a.jsonl"] if action == "start" else [], replay=ours) is None
    # Never someone else's.
    for action in ("pause", "stop", "seek"):
        assert refuse(action, [], replay=_replay("playing", "x.jsonl")) == (
            f"replay: {rules.NOTHING_OF_YOURS}"
        )
        assert refuse(action, []) == f"replay: {rules.NOTHING_OF_YOURS}"


def test_a_guests_status_holds_only_their_replay() -> None:
    room = {"now": 12.5, "scene": "noir-office", "take": {"rolling": False}, "viewers": 3,
            "replay": _replay("playing", "a.jsonl")}  # fmt: skip
    mine = rules.guest_status(room, SHOWN, False, False)
    assert set(mine) == {"now", "replay", "busy"}
    assert mine["replay"]["take"] == "a.jsonl" and "marks" not in mine["replay"]
    assert mine["busy"] is None
    with_notes = Presentation(2, "N", "", "", "2026-12-03T09:00:00+00:00", None, True, ("a.jsonl",))
    assert rules.guest_status(room, with_notes, False, False)["replay"]["marks"]
    with_notes_both = Presentation(3, "N", "", "", "2026-12-03T09:00:00+00:00", None, True,
                                   ("a.jsonl", "b.jsonl"))  # fmt: skip
    side = rules.guest_status(
        {"replay": _replay("paused", "a.jsonl", "b.jsonl")}, SHOWN, False, False
    )
    assert all("marks" not in t for t in side["replay"]["takes"])
    # One status goes to every guest of the round: a guest without notes leaves the marks of
    # the one after it who has them.
    shared = {"replay": _replay("playing", "a.jsonl", "b.jsonl")}
    bare = rules.guest_status(shared, SHOWN, False, False)
    noted = rules.guest_status(shared, with_notes_both, False, False)
    assert "marks" not in bare["replay"] and all("marks" not in t for t in bare["replay"]["takes"])
    assert noted["replay"]["marks"] and all(t["marks"] for t in noted["replay"]["takes"])
    assert shared == {"replay": _replay("playing", "a.jsonl", "b.jsonl")}
    other = rules.guest_status({"replay": _replay("playing", "x.jsonl")}, SHOWN, False, True)
    assert other["replay"] is None and other["busy"] == rules.IN_AUDITION


def test_a_view_is_logged_once_per_ten_minutes() -> None:
    memory = rules.ViewMemory()
    assert memory.due(1, "Sam", ["a.jsonl", "b.jsonl"], 0.0) == ["a.jsonl", "b.jsonl"]
    assert memory.due(1, "Sam", ["a.jsonl", "b.jsonl"], 5.0) == []  # started over: no rows
    assert memory.due(1, "Sam", ["a.jsonl", "a.jsonl"], 5.0) == []
    assert memory.due(1, "Kim", ["a.jsonl"], 5.0) == ["a.jsonl"]  # another name
    assert memory.due(2, "Sam", ["a.jsonl"], 5.0) == ["a.jsonl"]  # another presentation
    assert memory.due(1, "Sam", ["a.jsonl"], rules.VIEW_AGAIN_S - 1) == []
    assert memory.due(1, "Sam", ["a.jsonl"], rules.VIEW_AGAIN_S) == ["a.jsonl"]
    assert len(memory) == 3  # Sam's two of 0 s dropped, as time went on: it does not grow
    assert memory.due(1, "Sam", ["b.jsonl"], rules.VIEW_AGAIN_S + 1) == ["b.jsonl"]
    assert memory.due(3, "Ann", [], 2 * rules.VIEW_AGAIN_S + 1) == [] and len(memory) == 0


def test_directors_are_told_at_most_once_a_second() -> None:
    throttle = rules.Throttle(1.0)
    assert throttle.ask(10.0) == 0.0  # the first at once
    assert throttle.ask(10.1) is None  # coalesced into the one waiting
    throttle.ran(10.2)
    assert throttle.ask(10.5) == pytest.approx(0.7)  # the next a second after the last
    assert throttle.ask(10.6) is None
    throttle.ran(11.2)
    assert throttle.ask(20.0) == 0.0


def test_viewer_names_and_the_welcome() -> None:
    assert rules.viewer_name("  Sam Producer ") == "Sam Producer"
    for bad, line in (("", "say who"), ("x" * 81, "at most 80"), ("Sam\u202e", "invisible")):
        with pytest.raises(ValueError, match=line):
            rules.viewer_name(bad)
    takes = [ShownTake("a.jsonl", "Ophelia", "Ada", 2.5, ((1.0, "note", "lovely"),))]
    welcome = rules.presentation_message(SHOWN, takes, "Sam")
    assert welcome["takes"] == [
        {"file": "a.jsonl", "role": "Ophelia", "actor": "Ada", "duration": 2.5}
    ]
    assert "token" not in json.dumps(welcome)


def test_guest_messages_are_few() -> None:
    guest = ViewerProtocol("guest", 0.0)
    assert isinstance(guest.receive(json.dumps({"type": "hello", "codecs": ["jpeg"]}), 0.0), Hello)
    start = guest.receive(json.dumps({"type": "replay", "action": "start", "take": "a.jsonl"}), 0.0)
    assert start == ReplayControl("start", ("a.jsonl",), align=(None,))
    for kind in ("take", "note", "library", "rate", "presentation", "sides", "consent"):
        refused = guest.receive(json.dumps({"type": kind}), 0.0)
        assert refused == Reject(
            f"{kind}: a presentation's guest only watches and replays its takes"
        )
    assert isinstance(guest.receive(b"IMU1\x02\x00\x00\x00" + bytes(8) + b"x", 0.0), Reject)


def test_director_presentation_messages() -> None:
    director, observer = ViewerProtocol("director", 0.0), ViewerProtocol("observer", 0.0)

    def parse(**data: Any) -> object:
        return director.receive(json.dumps({"type": "presentation", **data}), 0.0)

    made = parse(action="create", title=" For Kim ", takes=["a.jsonl"], days=0.5, showNotes=True)
    assert made == PresentationControl("create", "For Kim", ("a.jsonl",), 0.5, True)
    assert parse(action="create", title="T", takes=["a.jsonl"]) == PresentationControl(
        "create", "T", ("a.jsonl",), 7.0, False
    )
    assert parse(action="revoke", id=3) == PresentationControl("revoke", id=3)
    assert parse(action="list") == PresentationControl("list")
    for data, line in (
        ({"action": "burn"}, "action must be one of create, revoke, list"),
        ({"action": "revoke", "id": "3"}, "id must be a presentation's number"),
        ({"action": "create", "takes": ["a.jsonl"]}, "title must be a non-empty string"),
        ({"action": "create", "title": "T", "takes": []}, "takes must be a list of 1 to 24"),
        ({"action": "create", "title": "T", "takes": ["../x"]}, "take must be a take's file"),
        ({"action": "create", "title": "T", "takes": ["a"], "days": 0}, "days must be"),
        ({"action": "create", "title": "T", "takes": ["a"], "days": 400}, "days must be"),
        ({"action": "create", "title": "T", "takes": ["a"], "showNotes": 1}, "showNotes must"),
    ):
        refused = parse(**data)
        assert isinstance(refused, Reject) and refused.reason.startswith(f"presentation: {line}")
    assert observer.receive(json.dumps({"type": "presentation", "action": "list"}), 0.0) == Reject(
        "presentation: only directors make and revoke presentations"
    )
