"""The take library: the casting desk's requests on a real SQLite file, and the page's
library, rate and select messages as the feed protocol parses them."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from immersion.casting import library as lib
from immersion.casting import record as rec
from immersion.casting.db import open_db
from immersion.casting.desk import CastingDesk
from immersion.errors import CastingError
from immersion.feed.protocol import (
    LibraryChanged,
    LibraryRequest,
    RateTake,
    Reject,
    SelectTake,
    ViewerProtocol,
    encode_server,
)
from immersion.room.recorder import TakeEnded

pytestmark = pytest.mark.pure

DAY = dt.date(2026, 11, 26)


def _audition(conn: sqlite3.Connection, role: str, actor: str) -> int:
    found = rec.find_role(conn, role)
    person = rec.find_actor(conn, actor) or rec.add_actor(conn, actor)
    return rec.open_audition(conn, found, person, DAY).id


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """Two roles; Ada reads Ophelia twice, Bo once, Ada reads Gertrude once."""
    path = tmp_path / "casting.db"
    conn = open_db(path)
    rec.add_production(conn, "Hamlet")
    rec.add_role(conn, "Hamlet", "Ophelia", "noir", "ada")
    rec.add_role(conn, "Hamlet", "Gertrude", "noir", "ada")
    ada = _audition(conn, "Ophelia", "Ada Lovelace")
    rec.file_take(conn, ada, "o1.jsonl", 12.5, room_notes=((1.0, "note", "100% on the line"),))
    rec.file_take(conn, ada, "o2.jsonl", 8.0, room_notes=((2.0, "note", "softer at the window"),))
    rec.file_take(conn, _audition(conn, "Ophelia", "Bo Diddley"), "o3.jsonl", 5.0)
    rec.file_take(conn, _audition(conn, "Gertrude", "Ada Lovelace"), "g1.jsonl", 3.0)
    conn.close()
    return path


@pytest.fixture
def conn(db: Path) -> Iterator[sqlite3.Connection]:
    c = open_db(db)
    yield c
    c.close()


def _files(found: lib.Library) -> list[str]:
    return [t.file for t in found.takes]


def test_the_library_lists_takes_by_role_then_actor(conn: sqlite3.Connection) -> None:
    found = lib.query_library(conn, lib.LibraryQuery(), "director")
    assert _files(found) == ["g1.jsonl", "o1.jsonl", "o2.jsonl", "o3.jsonl"] and not found.more
    first = found.takes[1]
    assert (first.role, first.actor, first.date, first.duration, first.notes) == (
        "Ophelia",
        "Ada Lovelace",
        DAY.isoformat(),
        12.5,
        1,
    )
    assert (first.rating, first.select, first.my_rating) == (None, None, None)
    narrowed = lib.query_library(conn, lib.LibraryQuery(role="Ophelia", actor="Bo Diddley"), "x")
    assert _files(narrowed) == ["o3.jsonl"]
    assert lib.query_library(conn, lib.LibraryQuery(), "x", limit=2).more


@pytest.mark.parametrize(
    ("text", "files"),
    [
        ("window", ["o2.jsonl"]),  # a note's text
        ("WINDOW", ["o2.jsonl"]),  # case does not matter
        ("diddley", ["o3.jsonl"]),  # an actor's name
        ("gert", ["g1.jsonl"]),  # a role's
        ("100%", ["o1.jsonl"]),  # % is a character, not a wildcard
        ("%", ["o1.jsonl"]),
        ("_", []),  # so is _
        ("\\", []),
    ],
)
def test_search_finds_text_in_notes_and_names(
    conn: sqlite3.Connection, text: str, files: list[str]
) -> None:
    assert _files(lib.query_library(conn, lib.LibraryQuery(text), "x")) == files


def test_ratings_are_per_person_with_a_mean(conn: sqlite3.Connection) -> None:
    (row,) = lib.rate(conn, "o1.jsonl", "director", 4)
    assert (row.rating, row.my_rating) == (4, 4)
    (row,) = lib.rate(conn, "o1.jsonl", "producer", 1)
    assert (row.rating, row.my_rating) == (2.5, 1)
    found = lib.query_library(conn, lib.LibraryQuery(role="Ophelia"), "director")
    assert found.takes[0].my_rating == 4 and found.takes[0].rating == 2.5
    (row,) = lib.rate(conn, "o1.jsonl", "producer", None)
    assert row.rating == 4 and row.my_rating is None
    with pytest.raises(CastingError, match="rating 6"):
        lib.rate(conn, "o1.jsonl", "director", 6)
    with pytest.raises(CastingError, match=r"'nope\.jsonl' is not in the casting record"):
        lib.rate(conn, "nope.jsonl", "director", 3)


def test_a_select_returns_every_row_whose_number_moved(conn: sqlite3.Connection) -> None:
    assert [(t.file, t.select) for t in lib.select(conn, "o1.jsonl", 1, "d")] == [("o1.jsonl", 1)]
    # o3 becomes #1: o1 moves down to #2, and the page must hear of both.
    moved = {t.file: t.select for t in lib.select(conn, "o3.jsonl", 1, "d")}
    assert moved == {"o3.jsonl": 1, "o1.jsonl": 2}
    # Another role's selects are its own numbering.
    assert [t.select for t in lib.select(conn, "g1.jsonl", 1, "d")] == [1]
    moved = {t.file: t.select for t in lib.select(conn, "o3.jsonl", None, "d")}
    assert moved == {"o3.jsonl": None, "o1.jsonl": 1}


def test_the_desk_answers_files_and_tells_of_changes(db: Path) -> None:
    conn = open_db(db)
    audition = _audition(conn, "Ophelia", "Bo Diddley")
    conn.close()
    desk = CastingDesk(db, audition)
    changes: list[list[str]] = []
    desk.on_change = lambda rows: changes.append([f"{r.file}:{r.select}" for r in rows])
    desk.start()
    try:
        found = desk.library(lib.LibraryQuery("ada"), "director").result(5)
        assert _files(found) == ["g1.jsonl", "o1.jsonl", "o2.jsonl"]
        assert [r.my_rating for r in desk.rate("o2.jsonl", "director", 5).result(5)] == [5]
        assert [r.select for r in desk.select("o2.jsonl", None, "director").result(5)] == [None]
        desk.file(TakeEnded("o4.jsonl", 2.3456, None, None, "Kim", None, ((0.5, "note", "hi"),)))
        with pytest.raises(CastingError, match="not in the casting record"):
            desk.select("gone.jsonl", 1, "director").result(5)
    finally:
        desk.stop()
    # Every change, the filing too, went to on_change; a refusal did not.
    assert changes == [["o2.jsonl:None"], ["o2.jsonl:None"], ["o4.jsonl:None"]]
    conn = open_db(db)
    take = rec.find_take(conn, "o4.jsonl")
    assert (take.duration, take.rolled_by, take.rating) == (2.346, "Kim", None)
    assert rec.find_take(conn, "o2.jsonl").rating == 5
    conn.close()


def test_a_desk_without_an_audition_files_nothing(db: Path) -> None:
    desk = CastingDesk(db)
    desk.start()
    desk.file(TakeEnded("x.jsonl", 1.0, None, None, "", None))
    assert _files(desk.library(lib.LibraryQuery("x.jsonl"), "d").result(5)) == []
    desk.stop()


def test_a_desk_on_a_folder_fails_to_start_in_one_line(tmp_path: Path) -> None:
    with pytest.raises(CastingError, match="is a folder, not a database file"):
        CastingDesk(tmp_path).start()


# The protocol -------------------------------------------------------------------------------


def _receive(role: str, message: dict[str, object]) -> object:
    return ViewerProtocol(role, 0.0).receive(json.dumps(message), 0.0)


@pytest.mark.parametrize(
    ("message", "event"),
    [
        ({"type": "library"}, LibraryRequest()),
        ({"type": "library", "query": " window "}, LibraryRequest("window")),
        (
            {"type": "library", "role": "Ophelia", "actor": "Ada Lovelace", "query": ""},
            LibraryRequest("", "Ophelia", "Ada Lovelace"),
        ),
        ({"type": "library", "role": None}, LibraryRequest()),
        ({"type": "rate", "take": "t.jsonl", "value": 5}, RateTake("t.jsonl", 5)),
        ({"type": "rate", "take": "t.jsonl", "value": None}, RateTake("t.jsonl", None)),
        ({"type": "select", "take": "t.jsonl", "number": 2}, SelectTake("t.jsonl", 2)),
        ({"type": "select", "take": "t.jsonl", "number": None}, SelectTake("t.jsonl", None)),
    ],
)
def test_library_messages_parse(message: dict[str, object], event: object) -> None:
    assert _receive("director", message) == event


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        ({"type": "library", "query": 3}, "library: query must be text of at most 200"),
        ({"type": "library", "query": "x" * 201}, "library: query must be text of at most 200"),
        ({"type": "library", "query": "a\u202eb"}, "library: query has control or invisible"),
        ({"type": "library", "role": ""}, "library: role must be a non-empty string"),
        ({"type": "library", "actor": "x" * 201}, "library: actor is over 200 characters"),
        ({"type": "rate", "take": "t.jsonl", "value": 6}, "rate: value must be a whole number"),
        ({"type": "rate", "take": "t.jsonl", "value": 4.0}, "rate: value must be a whole number"),
        ({"type": "rate", "take": "t.jsonl", "value": True}, "rate: value must be a whole"),
        ({"type": "rate", "take": "t.jsonl"}, "rate: value must be a whole number"),
        ({"type": "rate", "value": 3}, "rate: take must be a non-empty string"),
        ({"type": "rate", "take": "../x", "value": 3}, "rate: take must be a take's file name"),
        ({"type": "select", "take": "t.jsonl", "number": 0}, "select: number must be a whole"),
        ({"type": "select", "take": "t.jsonl", "number": 1000}, "select: number must be a whole"),
        ({"type": "select", "take": "t.jsonl"}, "select: number must be a whole"),
    ],
)
def test_bad_library_messages_are_refused_naming_the_field(
    message: dict[str, object], reason: str
) -> None:
    event = _receive("director", message)
    assert isinstance(event, Reject) and event.reason.startswith(reason), event


def test_observers_see_the_library_but_do_not_decide_and_actors_see_nothing() -> None:
    assert _receive("observer", {"type": "library"}) == LibraryRequest()
    for kind in ("rate", "select"):
        event = _receive("observer", {"type": kind, "take": "t.jsonl", "value": 3, "number": 1})
        assert event == Reject(f"{kind}: observers see ratings and selects; directors set them")
    assert _receive("actor", {"type": "library"}) == Reject(
        "library: the take library is the casting team's"
    )


def test_a_change_sent_to_everyone_leaves_out_the_raters_own_rating(
    conn: sqlite3.Connection,
) -> None:
    (row,) = lib.rate(conn, "o1.jsonl", "director", 3)
    mine, theirs = row.to_json(), row.to_json(mine=False)
    assert mine["myRating"] == 3 and "myRating" not in theirs
    assert theirs == {
        "file": "o1.jsonl",
        "production": "Hamlet",
        "role": "Ophelia",
        "actor": "Ada Lovelace",
        "date": DAY.isoformat(),
        "duration": 12.5,
        "notes": 1,
        "rating": 3,
        "select": None,
    }
    sent = json.loads(encode_server(LibraryChanged([theirs])))
    assert sent == {"type": "libraryChanged", "takes": [theirs]}
