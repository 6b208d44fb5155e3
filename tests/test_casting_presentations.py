"""Presentations in the casting record: the token kept only as a hash, expiry and revocation
refused in distinct lines, the view log, and deletion taking presentations with their takes."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from immersion.casting import presentations as present
from immersion.casting import record as rec
from immersion.casting.db import open_db
from immersion.casting.deletion import delete_actor, delete_take, purge_expired
from immersion.cli import main
from immersion.errors import CastingError
from tests.test_casting_record import _roll

pytestmark = pytest.mark.pure

NOW = dt.datetime(2026, 11, 26, 9, 0, tzinfo=dt.UTC)
DAY = NOW.date()


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    db = open_db(tmp_path / "casting.db")
    yield db
    db.close()


def _filed(
    conn: sqlite3.Connection, takes: Path, actor: str, *names: str, until: dt.date | None = None
) -> list[Path]:
    """Takes rolled (files on disk) and filed under ``actor``'s audition for Ophelia, its
    consent until ``until`` (None: no end)."""
    if not rec.list_productions(conn):
        rec.add_production(conn, "Hamlet")
        rec.add_role(conn, "Hamlet", "Ophelia", "noir-office", "detective")
    person = rec.find_actor(conn, actor) or rec.add_actor(conn, actor)
    audition = rec.open_audition(
        conn, rec.find_role(conn, "Ophelia"), person, DAY, "casting", until
    )
    files: list[Path] = []
    for name in names:
        files += _roll(takes, name)
        rec.file_take(conn, audition.id, f"{name}.jsonl", 2.5, f"{name}.opus")
    return files


def test_the_token_is_given_once_and_kept_only_as_its_hash(
    conn: sqlite3.Connection, tmp_path: Path
) -> None:
    _filed(conn, tmp_path / "takes", "Ada", "a1", "a2")
    made = present.create(
        conn, "For the producers", ["a2.jsonl", "a1.jsonl"], NOW + dt.timedelta(days=7),
        show_notes=False, created_by="director", now=NOW,
    )  # fmt: skip
    assert len(made.token) >= 32
    assert made.presentation.takes == ("a2.jsonl", "a1.jsonl")  # the director's order
    dump = "\n".join(conn.iterdump())
    assert made.token not in dump
    assert present.token_hash(made.token) in dump
    assert present.find_by_token(conn, made.token, NOW) == made.presentation
    again = present.create(conn, "Again", ["a1.jsonl"], NOW + dt.timedelta(days=1), now=NOW)
    assert again.token != made.token
    assert [p.title for p in present.list_presentations(conn)] == ["Again", "For the producers"]


def test_refusals_say_which(conn: sqlite3.Connection, tmp_path: Path) -> None:
    _filed(conn, tmp_path / "takes", "Ada", "a1")
    made = present.create(conn, "Soon gone", ["a1.jsonl"], NOW + dt.timedelta(hours=1), now=NOW)
    token = made.token
    with pytest.raises(present.PresentationRefusedError, match="not known") as unknown:
        present.find_by_token(conn, token + "x", NOW)
    assert unknown.value.why == "unknown"
    later = NOW + dt.timedelta(hours=1)
    assert made.presentation.state(later - dt.timedelta(seconds=1)) == "open"
    with pytest.raises(present.PresentationRefusedError, match="expired") as expired:
        present.find_by_token(conn, token, later)
    assert expired.value.why == "expired"
    present.revoke(conn, made.presentation.id, NOW)
    with pytest.raises(present.PresentationRefusedError, match="revoked") as revoked:
        present.find_by_token(conn, token, NOW)
    assert revoked.value.why == "revoked"
    first = present.get(conn, made.presentation.id).revoked
    assert present.revoke(conn, made.presentation.id, later).revoked == first  # kept


def test_bad_presentations_are_refused_in_one_line(
    conn: sqlite3.Connection, tmp_path: Path
) -> None:
    _filed(conn, tmp_path / "takes", "Ada", "a1")
    week = NOW + dt.timedelta(days=7)
    with pytest.raises(CastingError, match=r"take .nope\.jsonl. is not in the casting record"):
        present.create(conn, "x", ["a1.jsonl", "nope.jsonl"], week, now=NOW)
    with pytest.raises(CastingError, match="takes: choose 1 to"):
        present.create(conn, "x", [], week, now=NOW)
    with pytest.raises(CastingError, match="chosen twice"):
        present.create(conn, "x", ["a1.jsonl", "a1.jsonl"], week, now=NOW)
    with pytest.raises(CastingError, match=r"^title"):
        present.create(conn, " ", ["a1.jsonl"], week, now=NOW)
    with pytest.raises(CastingError, match=r"^expires .*: give a time after now"):
        present.create(conn, "x", ["a1.jsonl"], NOW - dt.timedelta(hours=1), now=NOW)
    with pytest.raises(CastingError, match="give a time after now"):
        present.create(conn, "x", ["a1.jsonl"], NOW, now=NOW)
    with pytest.raises(CastingError, match="at most 366 days"):
        present.create(conn, "x", ["a1.jsonl"], NOW + dt.timedelta(days=400), now=NOW)
    assert present.list_presentations(conn) == []  # nothing half made


def test_views_are_logged_per_take(conn: sqlite3.Connection, tmp_path: Path) -> None:
    _filed(conn, tmp_path / "takes", "Ada", "a1", "a2")
    shown = present.create(conn, "P", ["a1.jsonl"], NOW + dt.timedelta(days=1), now=NOW)
    p = shown.presentation
    present.log_view(conn, p, "Sam Producer", "a1.jsonl", NOW)
    present.log_view(conn, p, "Kim", "a1.jsonl", NOW + dt.timedelta(minutes=5))
    with pytest.raises(CastingError, match="not in presentation 'P'"):
        present.log_view(conn, p, "Kim", "a2.jsonl", NOW)
    seen = present.views(conn)
    assert [(v.viewer, v.at) for v in seen["a1.jsonl"]] == [
        ("Kim", "2026-11-26T09:05:00+00:00"),
        ("Sam Producer", "2026-11-26T09:00:00+00:00"),
    ]
    assert "a2.jsonl" not in seen
    row = present.to_json(p, seen, NOW)
    assert row["state"] == "open" and "token" not in str(row).lower()
    assert [v["viewer"] for v in row["takes"][0]["viewed"]] == ["Kim", "Sam Producer"]


def test_views_read_are_cut_per_take_in_each_presentation(
    conn: sqlite3.Connection, tmp_path: Path
) -> None:
    _filed(conn, tmp_path / "takes", "Ada", "a1", "a2")
    week = NOW + dt.timedelta(days=7)
    busy = present.create(conn, "Busy", ["a1.jsonl", "a2.jsonl"], week, now=NOW).presentation
    quiet = present.create(conn, "Quiet", ["a1.jsonl"], week, now=NOW).presentation
    for k in range(present.VIEWS_SHOWN + 5):
        present.log_view(conn, busy, f"G{k}", "a1.jsonl", NOW + dt.timedelta(minutes=k))
    present.log_view(conn, busy, "Old", "a2.jsonl", NOW)
    present.log_view(conn, quiet, "Kim", "a1.jsonl", NOW - dt.timedelta(days=1))
    seen = present.views(conn)
    mine = [v.viewer for v in seen["a1.jsonl"] if v.presentation_id == busy.id]
    newest = [f"G{k}" for k in range(present.VIEWS_SHOWN + 4, 4, -1)]
    assert mine == newest  # the newest, first
    # Another presentation's older view is not crowded out by this one's many.
    assert [v.viewer for v in seen["a1.jsonl"] if v.presentation_id == quiet.id] == ["Kim"]
    three = present.views(conn, limit=3)
    assert [v.viewer for v in three["a1.jsonl"]] == [*newest[:3], "Kim"]
    assert [v.viewer for v in three["a2.jsonl"]] == ["Old"]
    only = present.views(conn, ["a2.jsonl"], presentation=busy.id, limit=1)
    assert list(only) == ["a2.jsonl"]
    row = present.to_json(quiet, seen, NOW)
    assert [v["viewer"] for v in row["takes"][0]["viewed"]] == ["Kim"]


def test_shown_takes_carry_notes_only_when_chosen(conn: sqlite3.Connection, tmp_path: Path) -> None:
    _filed(conn, tmp_path / "takes", "Ada", "a1")
    rec.add_note(conn, rec.find_take(conn, "a1.jsonl"), 1.0, "lovely pause", "note")
    week = NOW + dt.timedelta(days=7)
    bare = present.create(conn, "Bare", ["a1.jsonl"], week, now=NOW).presentation
    noted = present.create(conn, "Noted", ["a1.jsonl"], week, True, now=NOW).presentation
    [plain] = present.shown_takes(conn, bare)
    assert (plain.role, plain.actor, plain.duration, plain.notes) == ("Ophelia", "Ada", 2.5, ())
    [full] = present.shown_takes(conn, noted)
    assert full.notes == ((1.0, "note", "lovely pause"),)


def test_takes_whose_consent_ended_are_shown_to_no_one(
    conn: sqlite3.Connection, tmp_path: Path
) -> None:
    takes = tmp_path / "takes"
    _filed(conn, takes, "Ada", "a1", until=DAY)  # the last day it may be kept: today
    _filed(conn, takes, "Bob", "b1")  # no end date: kept
    week = NOW + dt.timedelta(days=7)
    both = present.create(conn, "Both", ["a1.jsonl", "b1.jsonl"], week, now=NOW)
    ada = present.create(conn, "Ada", ["a1.jsonl"], week, now=NOW)
    assert present.find_by_token(conn, both.token, NOW).takes == ("a1.jsonl", "b1.jsonl")
    tomorrow = NOW + dt.timedelta(days=1)
    # Past Ada's consent: her take is left out of what opens and what is listed...
    opened = present.find_by_token(conn, both.token, tomorrow)
    assert opened.takes == ("b1.jsonl",)
    assert [t.file for t in present.shown_takes(conn, opened)] == ["b1.jsonl"]
    listed = {p.title: p.takes for p in present.list_presentations(conn, tomorrow)}
    assert listed == {"Both": ("b1.jsonl",), "Ada": ()}
    # ...a presentation left with none does not open...
    with pytest.raises(present.PresentationRefusedError, match=present.WITHDRAWN) as gone:
        present.find_by_token(conn, ada.token, tomorrow)
    assert gone.value.why == "withdrawn"
    # ...and none is made with it (the UTC date counts: 22:30 at UTC-3 is tomorrow in UTC).
    with pytest.raises(CastingError, match=r"^take 'a1\.jsonl': its audition's consent ended"):
        present.create(conn, "Late", ["b1.jsonl", "a1.jsonl"], week, now=tomorrow)
    late = dt.datetime(2026, 11, 26, 22, 30, tzinfo=dt.timezone(dt.timedelta(hours=-3)))
    with pytest.raises(CastingError, match="consent ended on 2026-11-26"):
        present.create(conn, "Late", ["a1.jsonl"], week, now=late)
    assert present.create(conn, "Bob", ["b1.jsonl"], week, now=tomorrow).presentation.takes


def test_deletion_takes_presentations_left_empty(conn: sqlite3.Connection, tmp_path: Path) -> None:
    takes = tmp_path / "takes"
    ada = _filed(conn, takes, "Ada", "a1", until=DAY)
    bob = _filed(conn, takes, "Bob", "b1", "b2", until=DAY)
    week = NOW + dt.timedelta(days=7)
    only_ada = present.create(conn, "Ada alone", ["a1.jsonl"], week, now=NOW)
    both = present.create(conn, "Both", ["a1.jsonl", "b1.jsonl"], week, now=NOW)
    present.create(conn, "B1", ["b1.jsonl"], week, now=NOW)
    present.log_view(conn, only_ada.presentation, "Sam", "a1.jsonl", NOW)
    present.log_view(conn, both.presentation, "Sam", "b1.jsonl", NOW)

    removed = delete_actor(conn, takes, "Ada")
    assert removed.presentations == ("Ada alone",)
    assert "removed presentation 'Ada alone' (no take left in it)" in removed.lines()
    assert removed.rows["presentations"] == 1 and removed.rows["views"] == 1
    assert not any(p.exists() for p in ada) and all(p.exists() for p in bob)
    assert [p.title for p in present.list_presentations(conn)] == ["B1", "Both"]
    assert present.get(conn, both.presentation.id).takes == ("b1.jsonl",)
    with pytest.raises(present.PresentationRefusedError, match="not known"):
        present.find_by_token(conn, only_ada.token, NOW)
    assert present.find_by_token(conn, both.token, NOW).takes == ("b1.jsonl",)

    removed = delete_take(conn, takes, "b1.jsonl")
    assert removed.presentations == ("Both", "B1")
    assert present.list_presentations(conn) == []
    assert conn.execute("SELECT count(*) FROM views").fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM presentation_takes").fetchone()[0] == 0

    present.create(conn, "Last", ["b2.jsonl"], week, now=NOW)
    removed = purge_expired(conn, takes, DAY + dt.timedelta(days=1))
    assert removed.presentations == ("Last",)
    assert not any(p.exists() for p in bob)


def test_the_cli_lists_and_revokes(
    conn: sqlite3.Connection, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _filed(conn, tmp_path / "takes", "Ada", "a1")
    made = present.create(conn, "For Kim", ["a1.jsonl"], present.utc_now() + dt.timedelta(days=2))
    present.log_view(conn, made.presentation, "Kim", "a1.jsonl", NOW)
    db = ["--db", str(tmp_path / "casting.db"), "--takes", str(tmp_path / "takes")]
    assert main(["casting", "presentations", "list", *db, "--json"]) == 0
    [listed] = json.loads(capsys.readouterr().out)
    assert (listed["title"], listed["state"]) == ("For Kim", "open")
    assert listed["takes"] == [{"file": "a1.jsonl", "viewed": [
        {"presentation": made.presentation.id, "take": "a1.jsonl", "viewer": "Kim",
         "at": "2026-11-26T09:00:00+00:00"}]}]  # fmt: skip
    assert made.token not in json.dumps(listed)
    assert main(["casting", "presentations", "revoke", str(made.presentation.id), *db]) == 0
    out = capsys.readouterr().out
    assert "state: revoked" in out and "viewed: Kim at 2026-11-26T09:00:00+00:00" in out
    with pytest.raises(present.PresentationRefusedError, match="revoked"):
        present.find_by_token(conn, made.token)
    assert main(["casting", "presentations", "revoke", "99", *db]) != 0
    assert capsys.readouterr().err == "immersion: error: no presentation 99 in the casting record\n"
