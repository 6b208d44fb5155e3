"""Deleting an actor's performances: their take files, voice files and database rows, all of
them, with the list of what went.

Files first, rows after: a deletion stopped half way (a file that cannot be removed) leaves the
rows that name what is left, so running it again finishes it. Only files inside the takes folder
are touched (:func:`immersion.safe_files.resolve_inside`); a take file's header is read for
voice files the record did not name.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from immersion.casting import presentations as present
from immersion.casting.db import transaction
from immersion.casting.record import need_actor, renumber_selects
from immersion.errors import AssetError, CastingError
from immersion.safe_files import resolve_inside

_INSIDE = "the takes folder"
HEADER_BYTES = 1 << 20  # a take's line limit (capture/take.py)


@dataclass(frozen=True, slots=True)
class Removed:
    """What a deletion removed: files (absolute paths) and database rows, by table."""

    files: tuple[Path, ...]
    rows: dict[str, int]
    presentations: tuple[str, ...] = ()  # titles of presentations left with no take

    def lines(self) -> list[str]:
        out = [f"removed file {p}" for p in self.files]
        out += [f"removed presentation {t!r} (no take left in it)" for t in self.presentations]
        out += [f"removed {n} {table} row{'s' * (n != 1)}" for table, n in self.rows.items() if n]
        return out or ["nothing to remove"]


def delete_actor(conn: sqlite3.Connection, takes_dir: Path, name: str) -> Removed:
    """The actor, every audition of theirs, their takes' files and every row about them."""
    actor = need_actor(conn, name)
    takes = _takes(conn, "a.actor_id = ?", (actor.id,))
    return _delete(conn, takes_dir, takes, "DELETE FROM actors WHERE id = ?", (actor.id,))


def delete_take(conn: sqlite3.Connection, takes_dir: Path, file: str) -> Removed:
    """One take (by its file name in the takes folder): its files and its rows (notes,
    ratings, its select; the role's other selects move up). A take the record does not hold
    (a room served without one) loses its files alone."""
    takes = _takes(conn, "t.file = ?", (file,))
    if not takes:
        if _inside(takes_dir, file, file) is None:
            raise CastingError(f"take {file!r} is neither in the casting record nor in {takes_dir}")
        takes = [(file, None, None)]
    return _delete(conn, takes_dir, takes, "DELETE FROM takes WHERE file = ?", (file,))


def purge_expired(conn: sqlite3.Connection, takes_dir: Path, today: dt.date) -> Removed:
    """Every audition whose consent ended before ``today``: its takes' files and its rows.
    The actor's own row (name, contact, agent) stays; their other auditions too."""
    where = "a.consent_until IS NOT NULL AND a.consent_until < ?"
    takes = _takes(conn, where, (today.isoformat(),))
    return _delete(
        conn,
        takes_dir,
        takes,
        "DELETE FROM auditions WHERE consent_until IS NOT NULL AND consent_until < ?",
        (today.isoformat(),),
    )


def _takes(
    conn: sqlite3.Connection, where: str, params: tuple[object, ...]
) -> list[tuple[str, str | None, str | None]]:
    rows = conn.execute(
        "SELECT t.file, t.voice, t.talkback FROM takes t "
        f"JOIN auditions a ON a.id = t.audition_id WHERE {where} ORDER BY t.id",
        params,
    )
    return [(str(f), v, tb) for f, v, tb in rows.fetchall()]


_TABLES = ("auditions", "takes", "notes", "ratings", "selects", "actors")
# Counted only when some go (a record without presentations lists no zero rows for them).
_PRESENTING = ("presentations", "presentation_takes", "views")


def _delete(
    conn: sqlite3.Connection,
    takes_dir: Path,
    takes: list[tuple[str, str | None, str | None]],
    statement: str,
    params: tuple[object, ...],
) -> Removed:
    files: list[Path] = []  # every one checked before any is removed
    for file, *voices in takes:
        names = dict.fromkeys([file, *_header_voices(takes_dir, file), *voices])
        for name in names:
            if name and (path := _inside(takes_dir, name, file)) is not None:
                files.append(path)
    for path in dict.fromkeys(files):
        try:
            path.unlink()
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise CastingError(
                f"cannot remove {path} ({exc.strerror or exc}); the record keeps its rows: "
                "run this again to finish"
            ) from None
    with transaction(conn):
        before = _counts(conn)
        conn.execute(statement, params)
        renumber_selects(conn)
        # A presentation whose every take went goes too: a link to nothing.
        emptied = present.orphans(conn)
        conn.executemany("DELETE FROM presentations WHERE id = ?", [(p.id,) for p in emptied])
        after = _counts(conn)
    rows = {table: before[table] - after[table] for table in _TABLES}
    rows |= {t: before[t] - after[t] for t in _PRESENTING if before[t] != after[t]}
    return Removed(tuple(dict.fromkeys(files)), rows, tuple(p.title for p in emptied))


def _header_voices(takes_dir: Path, file: str) -> Iterable[str]:
    """The voice files a take's header names (voice, talkback): what the recorder wrote."""
    try:
        path = resolve_inside(takes_dir, file, f"take {file!r}", _INSIDE)
        with path.open("rb") as f:
            header = json.loads(f.readline(HEADER_BYTES))
    except (AssetError, OSError, ValueError):  # gone, or not a take: the record's names serve
        return ()
    if not isinstance(header, dict):
        return ()
    return [v for key in ("voice", "talkback") if type(v := header.get(key)) is str]


def _inside(takes_dir: Path, name: str, take: str) -> Path | None:
    """``name`` in the takes folder; None when it is not there (removed before)."""
    if not (takes_dir / name).exists():
        return None
    return resolve_inside(takes_dir, name, f"take {take!r}: file {name!r}", _INSIDE)


def _counts(conn: sqlite3.Connection) -> dict[str, int]:
    tables = _TABLES + _PRESENTING
    return {t: int(conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]) for t in tables}
