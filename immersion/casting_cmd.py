"""``immersion casting ...``: the casting record from the command line.

Each action opens the record (``--db``, default ``casting.db`` in the takes folder), does one
thing, and prints it for people, or as JSON with ``--json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

from immersion.casting import presentations as present
from immersion.casting import record as rec
from immersion.casting.db import open_db
from immersion.casting.deletion import Removed, delete_actor, delete_take, purge_expired
from immersion.config import Limits
from immersion.errors import CastingError
from immersion.safe_files import read_bounded

DB_NAME = "casting.db"


def db_path(db: Path | None, takes: Path) -> Path:
    """``--db``, or the record's default place: ``casting.db`` in the takes folder (made when
    missing, as the room makes it)."""
    if db is not None:
        return db
    try:
        takes.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CastingError(f"--takes {takes}: cannot be created ({exc.strerror})") from None
    return takes / DB_NAME


def run_casting(args: argparse.Namespace) -> int:
    """Open the record and run the action's function on it (one connection, this thread)."""
    action: Callable[[sqlite3.Connection, argparse.Namespace], Any] = args.action
    path = db_path(args.db, args.takes)
    conn = open_db(path)
    try:
        result = action(conn, args)
    except sqlite3.Error as exc:  # locked past the busy timeout, a full disk, ...
        raise CastingError(f"--db {path}: {exc}") from None
    finally:
        conn.close()
    if args.json:
        print(json.dumps(result, indent=2, ensure_ascii=False))
    else:
        for line in _lines(result):
            print(line)
    return 0


def _lines(result: Any) -> list[str]:
    """Plain text for people: one line per row, ``key: value`` pairs."""
    if isinstance(result, dict) and "removed" in result:
        return list(result["removed"])
    if isinstance(result, dict):
        result = [result]
    if not result:
        return ["(none)"]
    out: list[str] = []
    for row in result:
        takes = row.pop("takes", None) if isinstance(row, dict) else None
        out.append("  ".join(f"{k}: {v}" for k, v in row.items() if v not in ("", None)))
        for take in takes or []:
            out.append("    " + "  ".join(f"{k}: {v}" for k, v in take.items() if v is not None))
        if takes == []:
            out.append("    (no takes)")
    return out


# Actions: each returns what --json prints ---------------------------------------------------


def productions_list(conn: sqlite3.Connection, args: argparse.Namespace) -> Any:
    return [rec.to_json(p) for p in rec.list_productions(conn)]


def productions_add(conn: sqlite3.Connection, args: argparse.Namespace) -> Any:
    return rec.to_json(rec.add_production(conn, args.name))


def roles_list(conn: sqlite3.Connection, args: argparse.Namespace) -> Any:
    return [_role_json(r) for r in rec.list_roles(conn, args.production)]


def roles_add(conn: sqlite3.Connection, args: argparse.Namespace) -> Any:
    from immersion.catalogue import avatar_names, pack_names

    if args.pack not in pack_names():
        raise CastingError(f"--pack {args.pack!r}: not a shipped pack ({', '.join(pack_names())})")
    if args.avatar not in avatar_names():
        names = ", ".join(avatar_names()) or "none: run ./dev setup"
        raise CastingError(f"--avatar {args.avatar!r}: not in the catalogue ({names})")
    sides = _sides(args.sides) if args.sides else ""
    role = rec.add_role(conn, args.production, args.name, args.pack, args.avatar, sides)
    return _role_json(role)


def _role_json(role: rec.Role) -> dict[str, Any]:
    out = rec.to_json(role)
    out["sides"] = len(role.sides.splitlines())  # lines; the text itself is for the page
    return out


def _sides(path: Path) -> str:
    limit = Limits().sides_chars
    data = read_bounded(path, 4 * limit, f"--sides {path}")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CastingError(f"--sides {path}: not UTF-8 text (byte {exc.start})") from None
    if len(text) > limit:
        raise CastingError(f"--sides {path}: {len(text)} characters, over the {limit} limit")
    return text


def actors_list(conn: sqlite3.Connection, args: argparse.Namespace) -> Any:
    return [rec.to_json(a) for a in rec.list_actors(conn)]


def actors_add(conn: sqlite3.Connection, args: argparse.Namespace) -> Any:
    return rec.to_json(rec.add_actor(conn, args.name, args.contact, args.agent))


def audition_show(conn: sqlite3.Connection, args: argparse.Namespace) -> Any:
    role = rec.find_role(conn, args.role, args.production)
    actor = rec.need_actor(conn, args.actor)
    out = []
    for audition in rec.find_auditions(conn, role, actor):
        view = rec.show_audition(conn, audition)
        out.append({**rec.to_json(audition), "takes": [rec.to_json(t) for t in view.takes]})
    return out


def actor_delete(conn: sqlite3.Connection, args: argparse.Namespace) -> Any:
    removed = delete_actor(conn, args.takes, args.name)
    return _removed(removed)


def expired_purge(conn: sqlite3.Connection, args: argparse.Namespace) -> Any:
    removed = purge_expired(conn, args.takes, args.today or dt.date.today())
    return _removed(removed)


def take_delete(conn: sqlite3.Connection, args: argparse.Namespace) -> Any:
    """``immersion takes delete``: TAKE is a file name in the takes folder (a path to a file
    there is taken by its name)."""
    name = (
        Path(args.take).name
        if Path(args.take).parent.resolve() == args.takes.resolve()
        else args.take
    )
    removed = delete_take(conn, args.takes, name)
    return _removed(removed)


def _removed(removed: Removed) -> dict[str, Any]:
    """What a deletion prints: each file and the rows by table (``removed``: as lines)."""
    return {
        "files": [str(p) for p in removed.files],
        "rows": removed.rows,
        "presentations": list(removed.presentations),
        "removed": removed.lines(),
    }


def presentations_list(conn: sqlite3.Connection, args: argparse.Namespace) -> Any:
    seen, now = present.views(conn), present.utc_now()
    return [_presentation_json(p, seen, now, args.json) for p in present.list_presentations(conn)]


def presentation_revoke(conn: sqlite3.Connection, args: argparse.Namespace) -> Any:
    revoked = present.revoke(conn, args.id)
    return _presentation_json(revoked, present.views(conn), present.utc_now(), args.json)


def _presentation_json(
    p: present.Presentation, seen: dict[str, list[present.View]], now: dt.datetime, raw: bool
) -> dict[str, Any]:
    """A presentation as ``presentations.to_json`` has it; for people, each take's views on
    one line ("viewed: Sam at ..., Kim at ...")."""
    out = present.to_json(p, seen, now)
    if not raw:
        for take in out["takes"]:
            views = [f"{v['viewer']} at {v['at']}" for v in take["viewed"]]
            take["viewed"] = ", ".join(views) or "not yet"
    return out
