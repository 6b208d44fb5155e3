"""`immersion casting ...` and `serve --role --actor`: JSON out, one line for bad input, and a
served room that files its takes."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import connect

from immersion.casting import record as rec
from immersion.casting.db import open_db
from immersion.cli import main
from tests.support import perf_take, run_cli, served_room, until


def _json(capsys: pytest.CaptureFixture[str], *args: str) -> object:
    assert main([*args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_casting_commands_print_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = ["--db", str(tmp_path / "c.db"), "--takes", str(tmp_path / "takes")]
    sides = tmp_path / "sides.txt"
    sides.write_text("OPHELIA: My lord,\nI have remembrances of yours\n", encoding="utf-8")
    made = _json(capsys, "casting", "productions", "add", "Hamlet", *db)
    assert isinstance(made, dict) and made["name"] == "Hamlet"
    role = _json(
        capsys, "casting", "roles", "add", "Ophelia", "--production", "Hamlet",
        "--pack", "noir-office", "--avatar", "detective", "--sides", str(sides), *db,
    )  # fmt: skip
    assert role == {
        "id": 1, "production": "Hamlet", "name": "Ophelia", "pack": "noir-office",
        "avatar": "detective", "sides": 2,
    }  # fmt: skip
    _json(capsys, "casting", "actors", "add", "Ada", "--contact", "ada@example.org", *db)
    assert _json(capsys, "casting", "actors", "list", *db) == [
        {"id": 1, "name": "Ada", "contact": "ada@example.org", "agent": ""}
    ]
    roles = _json(capsys, "casting", "roles", "list", *db)
    assert isinstance(roles, list) and [r["name"] for r in roles] == ["Ophelia"]
    assert (
        _json(capsys, "casting", "audition", "show", "--role", "Ophelia", "--actor", "Ada", *db)
        == []
    )
    # The sides are in the record for the page, whole.
    conn = open_db(tmp_path / "c.db")
    assert rec.find_role(conn, "Ophelia").sides == sides.read_text(encoding="utf-8")
    conn.close()
    assert main(["casting", "productions", "list", *db]) == 0  # and for people
    assert "name: Hamlet" in capsys.readouterr().out


def test_casting_db_defaults_to_the_takes_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    takes = tmp_path / "takes"
    assert main(["casting", "productions", "add", "Hamlet", "--takes", str(takes)]) == 0
    assert (takes / "casting.db").is_file()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["productions", "add", "Hamlet"], "production 'Hamlet' exists already"),
        (["roles", "add", "X", "--production", "Lear", "--pack", "noir-office",
          "--avatar", "detective"], "no production 'Lear' (productions: Hamlet)"),
        (["roles", "add", "X", "--production", "Hamlet", "--pack", "nowhere",
          "--avatar", "detective"], "--pack 'nowhere': not a shipped pack"),
        (["audition", "show", "--role", "Yorick", "--actor", "Ada"], "no role 'Yorick'"),
        (["delete-actor", "Nobody"], "no actor 'Nobody' in the casting record"),
    ],
)  # fmt: skip
def test_bad_input_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    db = ["--db", str(tmp_path / "c.db"), "--takes", str(tmp_path / "takes")]
    assert main(["casting", "productions", "add", "Hamlet", *db]) == 0
    capsys.readouterr()
    assert main(["casting", *args, *db]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("immersion: error: ") and message in err, err


def test_a_newer_record_is_refused_by_the_command(tmp_path: Path) -> None:
    conn = open_db(tmp_path / "c.db")
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    done = run_cli("casting", "actors", "list", "--db", str(tmp_path / "c.db"))
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.strip().count("\n") == 0 and "newer than this immersion" in done.stderr
    done = run_cli("casting", "delete-actor", "--help")
    assert done.returncode == 0 and "undone" in done.stdout and "--json" in done.stdout


def test_delete_actor_prints_what_went(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    takes = tmp_path / "takes"
    takes.mkdir()
    conn = open_db(takes / "casting.db")
    rec.add_production(conn, "Hamlet")
    role = rec.add_role(conn, "Hamlet", "Ophelia", "noir-office", "detective")
    audition = rec.open_audition(conn, role, rec.add_actor(conn, "Ada"), dt.date(2026, 1, 1))
    perf_take(takes / "t.jsonl")
    rec.file_take(conn, audition.id, "t.jsonl", 2.0)
    conn.close()
    out = _json(capsys, "casting", "delete-actor", "Ada", "--takes", str(takes))
    assert isinstance(out, dict)
    assert out["files"] == [str((takes / "t.jsonl").resolve())] and out["rows"]["takes"] == 1
    assert not (takes / "t.jsonl").exists()


def test_the_room_files_its_takes(tmp_path: Path) -> None:
    """serve --role --actor: two takes rolled from a director's page are in the record, under
    the actor's audition for the role, with duration, voice file and who rolled them."""
    db = tmp_path / "record" / "casting.db"
    db.parent.mkdir()
    conn = open_db(db)
    rec.add_production(conn, "Hamlet")
    rec.add_role(conn, "Hamlet", "Ophelia", "noir-office", "detective")
    conn.close()
    args = ["--source", str(perf_take(tmp_path / "perf.jsonl")), "--size", "320x180"]
    args += ["--fps", "20", "--role", "Ophelia", "--actor", "Ada", "--db", str(db)]
    args += ["--consent", "this production's casting only", "--consent-until", "2027-01-31"]

    async def roll(url: str) -> list[str]:
        files: list[str] = []
        async with connect(url) as director:
            await director.recv()  # welcome
            await director.send(json.dumps({"type": "hello", "codecs": ["jpeg"]}))
            for _ in range(2):
                await director.send(json.dumps({"type": "take", "action": "start"}))
                await until(director, "status", lambda s: s["take"]["rolling"])
                await asyncio.sleep(0.5)
                if not files:  # the first take's notes are filed with it
                    await director.send(json.dumps({"type": "note", "text": "Lovely stillness"}))
                    await director.send(json.dumps({"type": "marker", "label": "turn"}))
                    await until(director, "note", lambda m: m["note"]["kind"] == "marker")
                await director.send(json.dumps({"type": "take", "action": "stop"}))
                ended = await until(director, "take", lambda m: m["take"].get("duration"))
                files.append(ended["take"]["file"])
        return files

    with served_room(tmp_path, args) as room:
        files = asyncio.run(roll(room.url(room.director)))
        conn = open_db(db)
        try:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:  # filed on the recorder's thread, just after
                actor = rec.find_actor(conn, "Ada")  # added: a new actor at the door
                auditions = rec.find_auditions(conn, rec.find_role(conn, "Ophelia"), actor) if actor else []  # fmt: skip
                if auditions and len(rec.show_audition(conn, auditions[0]).takes) == 2:
                    break
                time.sleep(0.1)
            (audition,) = auditions
            view = rec.show_audition(conn, audition)
            filed = [[(n.kind, n.text) for n in rec.notes(conn, t)] for t in view.takes]
        finally:
            conn.close()
    assert audition.date == dt.date.today().isoformat()
    assert (audition.consent, audition.consent_until) == (
        "this production's casting only",
        "2027-01-31",
    )
    assert [t.file for t in view.takes] == files
    assert filed == [[("note", "Lovely stillness"), ("marker", "turn")], []]
    for take in view.takes:
        assert take.duration is not None and 0.3 < take.duration < 5
        assert take.voice == Path(take.file).with_suffix(".opus").name
        assert take.rolled_by == "director"
        assert (room.takes / take.file).is_file() and (room.takes / take.voice).is_file()


def test_serve_refuses_a_role_not_in_the_record(tmp_path: Path) -> None:
    done = run_cli(
        "serve", "--role", "Yorick", "--actor", "Ada", "--takes", str(tmp_path / "takes"),
        "--port", "0", "--log", str(tmp_path / "room.log"),
    )  # fmt: skip
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "no role 'Yorick' (roles: none yet)" in done.stderr
    done = run_cli("serve", "--role", "Yorick", "--log", str(tmp_path / "room.log"))
    assert done.returncode == 1 and "--role and --actor go together" in done.stderr


def test_purge_expired_removes_only_auditions_whose_consent_has_ended(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Consent with an end: on the day after it, the audition's takes and rows go; an open
    consent and one still running stay."""
    import datetime as dt

    from immersion.casting import record as rec
    from immersion.casting.db import open_db

    takes = tmp_path / "takes"
    takes.mkdir()
    conn = open_db(takes / "casting.db")
    rec.add_production(conn, "Hamlet")
    role = rec.add_role(conn, "Hamlet", "Ophelia", "noir-office", "detective")
    kept = []
    for name, ends in (("Ada", "2027-01-31"), ("Bea", "2027-03-01"), ("Cy", None)):
        actor = rec.add_actor(conn, name)
        day = dt.date(2026, 11, 26)
        until_day = dt.date.fromisoformat(ends) if ends else None
        audition = rec.open_audition(conn, role, actor, day, "casting only", until_day)
        (takes / f"{name}.jsonl").write_text("{}\n")
        rec.file_take(conn, audition.id, f"{name}.jsonl", 3.0)
        if name != "Ada":
            kept.append(takes / f"{name}.jsonl")
    conn.close()
    out: Any = _json(
        capsys, "casting", "purge-expired", "--today", "2027-02-01", "--takes", str(takes)
    )
    assert [Path(f).name for f in out["files"]] == ["Ada.jsonl"]
    assert not (takes / "Ada.jsonl").exists() and all(p.exists() for p in kept)
    listed: Any = _json(capsys, "casting", "audition", "show", "--role", "Ophelia", "--actor", "Bea",
                   "--takes", str(takes))  # fmt: skip
    assert [t["file"] for t in listed[0]["takes"]] == ["Bea.jsonl"]


def test_takes_delete_removes_a_take_filed_or_not(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A room served without a casting record still wrote takes: `takes delete` removes the
    take and the voice file its header names; a name outside the folder is refused."""
    takes = tmp_path / "takes"
    takes.mkdir()
    (takes / "t1.jsonl").write_text(json.dumps({"voice": "t1.voice.ogg"}) + "\n")
    (takes / "t1.voice.ogg").write_bytes(b"OggS")
    (takes / "t2.jsonl").write_text("{}\n")
    out: Any = _json(capsys, "takes", "delete", "t1.jsonl", "--takes", str(takes))
    assert sorted(Path(f).name for f in out["files"]) == ["t1.jsonl", "t1.voice.ogg"]
    assert sorted(p.name for p in takes.iterdir() if p.suffix != ".db" and "-wal" not in p.name
                  and "-shm" not in p.name) == ["t2.jsonl"]  # fmt: skip
    assert main(["takes", "delete", "../outside.jsonl", "--takes", str(takes)]) == 1
    assert main(["takes", "delete", "t1.jsonl", "--takes", str(takes)]) == 1  # gone already
    err = capsys.readouterr().err
    assert err.count("immersion: error:") == 2 and "Traceback" not in err
