"""The casting record: migrations, the typed API, numbered selects and deletion, on a real
SQLite file."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from capture.pose import Pose
from capture.take import TakeWriter
from immersion.casting import record as rec
from immersion.casting.db import open_db, schema_version
from immersion.casting.deletion import delete_actor, delete_take, purge_expired
from immersion.errors import AssetError, CastingError

pytestmark = pytest.mark.pure

DAY = dt.date(2026, 11, 26)


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    db = open_db(tmp_path / "casting.db")
    yield db
    db.close()


def _tables(conn: sqlite3.Connection) -> set[str]:
    rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
    return {r[0] for r in rows}


def test_fresh_database_is_migrated(tmp_path: Path) -> None:
    conn = open_db(tmp_path / "c.db")
    assert conn.execute("PRAGMA user_version").fetchone()[0] == schema_version() >= 1
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert {"productions", "roles", "actors", "auditions", "takes", "notes", "ratings"} <= (
        _tables(conn)
    )
    conn.close()


def test_reopen_keeps_rows_and_version(tmp_path: Path) -> None:
    conn = open_db(tmp_path / "c.db")
    rec.add_production(conn, "Hamlet")
    conn.close()
    conn = open_db(tmp_path / "c.db")  # migrations run once: a second run would fail on CREATE
    assert [p.name for p in rec.list_productions(conn)] == ["Hamlet"]
    assert conn.execute("PRAGMA user_version").fetchone()[0] == schema_version()
    conn.close()


def test_newer_database_is_refused_in_one_line(tmp_path: Path) -> None:
    conn = open_db(tmp_path / "c.db")
    conn.execute(f"PRAGMA user_version = {schema_version() + 1}")
    conn.close()
    with pytest.raises(CastingError, match="newer than this immersion") as caught:
        open_db(tmp_path / "c.db")
    assert "\n" not in str(caught.value) and "c.db" in str(caught.value)


def test_not_a_database_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "c.db"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(CastingError, match=r"c\.db: not a usable casting record"):
        open_db(bad)
    with pytest.raises(CastingError, match="does not exist"):
        open_db(tmp_path / "nowhere" / "c.db")


def _cast(conn: sqlite3.Connection) -> tuple[rec.Role, rec.Actor]:
    rec.add_production(conn, "Hamlet")
    role = rec.add_role(conn, "Hamlet", "Ophelia", "noir-office", "detective", "O, what a noble")
    actor = rec.add_actor(conn, "Ada Lovelace", contact="ada@example.org", agent="Babbage & Co")
    return role, actor


def test_api_round_trip(conn: sqlite3.Connection) -> None:
    role, actor = _cast(conn)
    assert rec.find_role(conn, "Ophelia") == role
    assert rec.list_roles(conn, "Hamlet") == [role]
    assert rec.list_actors(conn) == [actor]
    audition = rec.open_audition(conn, role, actor, DAY, "this production's casting", DAY)
    again = rec.open_audition(conn, role, actor, DAY)  # same day: the same audition, consent kept
    assert again == audition and again.consent == "this production's casting"
    assert audition.consent_until == DAY.isoformat()
    take = rec.file_take(conn, audition.id, "take-1.jsonl", 12.5, "take-1.opus", None, "director")
    marks = ((0.5, "marker", "turn"), (0.7, "cue", "look up"), (1.0, "note", "good"))
    rec.file_take(conn, audition.id, "take-2.jsonl", 3.0, room_notes=marks)
    refiled = rec.file_take(conn, audition.id, "take-2.jsonl", 3.5, room_notes=marks)
    assert refiled.duration == 3.5  # filed again: updated, its notes not doubled; cues not notes
    assert [(n.t, n.kind, n.text) for n in rec.notes(conn, refiled)] == [marks[0], marks[2]]
    rec.set_rating(conn, take, "Kim", 4)
    rec.set_rating(conn, take, "Lou", 5)
    rec.add_note(conn, take, 1.5, "lovely pause", "marker")
    view = rec.show_audition(conn, audition)
    assert [t.file for t in view.takes] == ["take-1.jsonl", "take-2.jsonl"]
    first = view.takes[0]
    assert (first.duration, first.voice, first.rolled_by, first.rating) == (
        12.5,
        "take-1.opus",
        "director",
        4.5,
    )
    assert [n.text for n in rec.notes(conn, first)] == ["lovely pause"]
    assert rec.to_json(first)["rolledBy"] == "director"


def test_names_are_unique_in_their_scope(conn: sqlite3.Connection) -> None:
    _cast(conn)
    with pytest.raises(CastingError, match="exists already"):
        rec.add_production(conn, "Hamlet")
    with pytest.raises(CastingError, match="exists already in 'Hamlet'"):
        rec.add_role(conn, "Hamlet", "Ophelia", "noir-office", "detective")
    rec.add_production(conn, "Macbeth")
    rec.add_role(conn, "Macbeth", "Ophelia", "noir-office", "detective")  # another production
    with pytest.raises(CastingError, match="several productions"):
        rec.find_role(conn, "Ophelia")
    assert rec.find_role(conn, "Ophelia", "Macbeth").production == "Macbeth"
    with pytest.raises(CastingError, match=r"no role 'Yorick' \(roles: Ophelia\)"):
        rec.find_role(conn, "Yorick")
    with pytest.raises(CastingError, match="no production"):
        rec.add_role(conn, "Lear", "Fool", "noir-office", "detective")
    with pytest.raises(CastingError, match="printable"):
        rec.add_actor(conn, "two\nlines")
    with pytest.raises(CastingError, match="from 1 to 5"):
        rec.set_rating(conn, rec.file_take(conn, _audition(conn).id, "t.jsonl", 1.0), "Kim", 6)


def _audition(conn: sqlite3.Connection) -> rec.Audition:
    role = rec.find_role(conn, "Ophelia", "Hamlet")
    actor = rec.find_actor(conn, "Ada Lovelace")
    assert actor is not None
    return rec.open_audition(conn, role, actor, DAY)


def test_selects_are_numbered_per_role(conn: sqlite3.Connection) -> None:
    role, actor = _cast(conn)
    other = rec.add_role(conn, "Hamlet", "Gertrude", "noir-office", "detective")
    audition = rec.open_audition(conn, role, actor, DAY)
    a, b, c = (rec.file_take(conn, audition.id, f"{n}.jsonl", 1.0) for n in "abc")
    g = rec.file_take(conn, rec.open_audition(conn, other, actor, DAY).id, "g.jsonl", 1.0)
    assert [rec.set_select(conn, t) for t in (a, b, g)] == [1, 2, 1]  # each role its own #1
    assert rec.set_select(conn, c, 1) == 1  # a new first choice: the others move down
    assert [t.file for t in rec.selects(conn, role)] == ["c.jsonl", "a.jsonl", "b.jsonl"]
    assert rec.find_take(conn, "b.jsonl").select == 3
    assert rec.set_select(conn, b, 9) == 3  # past the end: the last
    rec.clear_select(conn, c)
    assert [(t.file, t.select) for t in rec.selects(conn, role)] == [
        ("a.jsonl", 1),
        ("b.jsonl", 2),
    ]
    assert [t.file for t in rec.selects(conn, other)] == ["g.jsonl"]


def _roll(takes: Path, name: str, talkback: bool = False) -> list[Path]:
    """A take file as the recorder writes it, with its voice file(s) beside it."""
    takes.mkdir(exist_ok=True)
    names = {"voice": f"{name}.opus"} | ({"talkback": f"{name}.talkback.opus"} if talkback else {})
    with TakeWriter(takes / f"{name}.jsonl", {"fps": 30.0, **names}) as w:
        w.write(0.0, Pose.rest())
    for voice in names.values():
        (takes / voice).write_bytes(b"OggS voice")
    return [takes / f"{name}.jsonl", *(takes / v for v in names.values())]


def _rows(conn: sqlite3.Connection, sql: str, *params: object) -> int:
    return int(conn.execute(sql, params).fetchone()[0])


def test_delete_actor_leaves_no_file_and_no_row(conn: sqlite3.Connection, tmp_path: Path) -> None:
    takes = tmp_path / "takes"
    role, ada = _cast(conn)
    bob = rec.add_actor(conn, "Bob")
    ada_files = _roll(takes, "ada-1", talkback=True) + _roll(takes, "ada-2")
    bob_files = _roll(takes, "bob-1")
    for actor, files in ((ada, ada_files), (bob, bob_files)):
        audition = rec.open_audition(conn, role, actor, DAY, "casting only", DAY)
        for take in (f for f in files if f.suffix == ".jsonl"):
            filed = rec.file_take(conn, audition.id, take.name, 1.0, take.stem + ".opus")
            rec.set_select(conn, filed)
            rec.set_rating(conn, filed, "Kim", 3)
            rec.add_note(conn, filed, 0.5, "note", "note")
    removed = delete_actor(conn, takes, "Ada Lovelace")
    assert sorted(removed.files) == sorted(p.resolve() for p in ada_files)
    assert not any(p.exists() for p in ada_files)
    assert all(p.exists() for p in bob_files)
    # No row about Ada anywhere: by name, and by what pointed at her.
    assert rec.find_actor(conn, "Ada Lovelace") is None
    assert _rows(conn, "SELECT count(*) FROM auditions WHERE actor_id = ?", ada.id) == 0
    assert _rows(conn, "SELECT count(*) FROM takes WHERE file LIKE 'ada-%'") == 0
    assert _rows(conn, "SELECT count(*) FROM notes") == 1  # Bob's
    assert _rows(conn, "SELECT count(*) FROM ratings") == 1
    assert [(t.file, t.select) for t in rec.selects(conn, role)] == [("bob-1.jsonl", 1)]
    assert removed.rows == {
        "auditions": 1, "takes": 2, "notes": 2, "ratings": 2, "selects": 2, "actors": 1
    }  # fmt: skip
    assert "removed file" in removed.lines()[0]
    with pytest.raises(CastingError, match="no actor 'Ada Lovelace'"):
        delete_actor(conn, takes, "Ada Lovelace")


def test_delete_take_and_purge_expired(conn: sqlite3.Connection, tmp_path: Path) -> None:
    takes = tmp_path / "takes"
    role, ada = _cast(conn)
    bob = rec.add_actor(conn, "Bob")
    old = rec.open_audition(conn, role, ada, DAY, "casting only", DAY)
    kept = rec.open_audition(conn, role, bob, DAY, "casting and the showreel")  # no end
    a, b = _roll(takes, "a"), _roll(takes, "b")
    rec.file_take(conn, old.id, "a.jsonl", 1.0, "a.opus")
    rec.file_take(conn, kept.id, "b.jsonl", 1.0, "b.opus")
    assert purge_expired(conn, takes, DAY).files == ()  # the last day of consent: kept
    removed = purge_expired(conn, takes, DAY + dt.timedelta(days=1))
    assert sorted(removed.files) == sorted(p.resolve() for p in a)
    assert removed.rows["auditions"] == 1 and removed.rows["actors"] == 0
    assert rec.find_actor(conn, "Ada Lovelace") is not None  # her name stays, her takes go
    assert not any(p.exists() for p in a) and all(p.exists() for p in b)
    removed = delete_take(conn, takes, "b.jsonl")
    assert not any(p.exists() for p in b) and removed.rows["takes"] == 1
    assert _rows(conn, "SELECT count(*) FROM takes") == 0


def test_deletion_stays_inside_the_takes_folder(conn: sqlite3.Connection, tmp_path: Path) -> None:
    takes = tmp_path / "takes"
    role, ada = _cast(conn)
    outside = tmp_path / "precious.opus"
    outside.write_bytes(b"not theirs")
    audition = rec.open_audition(conn, role, ada, DAY)
    files = _roll(takes, "a")
    rec.file_take(conn, audition.id, "a.jsonl", 1.0, "../precious.opus")
    with pytest.raises(AssetError, match="escapes the takes folder"):
        delete_actor(conn, takes, "Ada Lovelace")
    assert outside.exists()
    assert all(p.exists() for p in files)  # checked before any was removed
    assert rec.find_actor(conn, "Ada Lovelace") is not None  # nothing half-deleted in the record


def test_the_recorder_hands_each_ended_take_to_its_filer(tmp_path: Path) -> None:
    """The recorder's on_end gets the take's names and who rolled it; a filer that fails is
    told to directors as a problem, and the take stays on disk."""
    import threading
    import time
    from concurrent.futures import Future

    from immersion.room.messages import Problem, RoomEvent
    from immersion.room.recorder import Recorder, StartTake, StopTake, TakeEnded

    events: list[RoomEvent] = []
    ended: list[TakeEnded] = []
    recorder = Recorder(tmp_path, time.monotonic, events.append, 0, talkback=True)

    def on_end(take: TakeEnded) -> None:
        ended.append(take)
        if len(ended) == 2:
            raise CastingError("--db x.db: database is locked")

    recorder.on_end = on_end
    thread = threading.Thread(target=recorder.run)
    thread.start()
    for _ in range(2):
        for message in (StartTake, StopTake):
            reply: Future[str | None] = Future()
            header = {"fps": 30.0, "rolledBy": "Kim"}
            recorder.send(StartTake(header, reply) if message is StartTake else StopTake(reply))
            assert reply.result(10) is None
    recorder.stop()
    thread.join(10)
    first = ended[0]
    assert first.file.endswith(".jsonl") and (tmp_path / first.file).is_file()
    assert (first.voice, first.talkback) == (
        first.file.replace(".jsonl", ".opus"),
        first.file.replace(".jsonl", ".talkback.opus"),
    )
    assert first.rolled_by == "Kim" and first.duration >= 0 and first.ended_by is None
    problems = [e.text for e in events if isinstance(e, Problem)]
    assert problems == [f"{ended[1].file} was not filed: --db x.db: database is locked"]
