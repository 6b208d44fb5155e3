"""The take library: the casting record's takes by role and actor, with their decisions, as the
casting page lists them; and the page's two decisions, a rating and a select.

Plain functions on a connection (the :class:`~immersion.casting.desk.CastingDesk`'s thread is
its one owner in a room). Rows go out as JSON objects in the page's camelCase.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

from immersion.casting import record as rec

QUERY_CHARS = 200  # a search box, not a document
LIBRARY_TAKES = 500  # the most takes one answer lists; `more` says there were others


@dataclass(frozen=True, slots=True)
class LibraryQuery:
    """What to list: ``text`` found in a take's notes or its actor's or role's name
    (case-insensitive for ASCII, as SQLite's LIKE is); ``role`` and ``actor`` exact names."""

    text: str = ""
    role: str | None = None
    actor: str | None = None


@dataclass(frozen=True, slots=True)
class LibraryTake:
    file: str
    production: str
    role: str
    actor: str
    date: str
    duration: float | None
    notes: int
    rating: float | None  # everyone's mean
    select: int | None  # its number among the role's selects
    my_rating: int | None = None  # the asker's own

    def to_json(self, mine: bool = True) -> dict[str, Any]:
        """The page's row; without ``myRating`` when it is not the receiver's own (a change
        sent to every viewer: each keeps the rating it knows)."""
        row = rec.to_json(self)
        if row["rating"] is not None:
            row["rating"] = round(row["rating"], 2)
        if not mine:
            del row["myRating"]
        return row


@dataclass(frozen=True, slots=True)
class Library:
    takes: tuple[LibraryTake, ...]
    more: bool  # takes past LIBRARY_TAKES were left out


_ROWS = (
    "SELECT t.file, p.name, r.name, ac.name, a.date, t.duration, "
    "(SELECT count(*) FROM notes WHERE take_id = t.id), "
    "(SELECT avg(value) FROM ratings WHERE take_id = t.id), "
    "(SELECT number FROM selects WHERE take_id = t.id), "
    "(SELECT value FROM ratings WHERE take_id = t.id AND by = :by) "
    "FROM takes t JOIN auditions a ON a.id = t.audition_id "
    "JOIN actors ac ON ac.id = a.actor_id JOIN roles r ON r.id = a.role_id "
    "JOIN productions p ON p.id = r.production_id"
)
_ORDER = " ORDER BY p.name, r.name, ac.name, t.id"


def like_pattern(text: str) -> str:
    """``text`` anywhere, its own ``%``, ``_`` and ``\\`` taken literally (ESCAPE '\\')."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def query_library(
    conn: sqlite3.Connection, query: LibraryQuery, by: str, limit: int = LIBRARY_TAKES
) -> Library:
    """The takes that match ``query``, by production, role, actor and the order they were
    filed; ``by``'s own ratings as ``my_rating``."""
    where, params = [], {"by": by, "limit": limit + 1}
    if query.role is not None:
        where.append("r.name = :role")
        params["role"] = query.role
    if query.actor is not None:
        where.append("ac.name = :actor")
        params["actor"] = query.actor
    if query.text:
        params["like"] = like_pattern(query.text[:QUERY_CHARS])
        where.append(
            "(ac.name LIKE :like ESCAPE '\\' OR r.name LIKE :like ESCAPE '\\' OR EXISTS "
            "(SELECT 1 FROM notes n WHERE n.take_id = t.id AND n.text LIKE :like ESCAPE '\\'))"
        )
    sql = _ROWS + (" WHERE " + " AND ".join(where) if where else "") + _ORDER + " LIMIT :limit"
    rows = [_take(r) for r in conn.execute(sql, params).fetchall()]
    return Library(tuple(rows[:limit]), len(rows) > limit)


def library_takes(conn: sqlite3.Connection, files: list[str], by: str) -> list[LibraryTake]:
    """These takes' rows (those still in the record), in library order."""
    if not files:
        return []
    marks = ", ".join("?" for _ in files)
    sql = _ROWS.replace(":by", "?") + f" WHERE t.file IN ({marks})" + _ORDER
    return [_take(r) for r in conn.execute(sql, (by, *files)).fetchall()]


def rate(conn: sqlite3.Connection, file: str, by: str, value: int | None) -> list[LibraryTake]:
    """``by`` rates the take 1 to 5 (None takes the rating back); returns its changed row."""
    rec.set_rating(conn, rec.find_take(conn, file), by, value)
    return library_takes(conn, [file], by)


def select(conn: sqlite3.Connection, file: str, number: int | None, by: str) -> list[LibraryTake]:
    """Make the take its role's select ``number`` (None: no longer a select); returns the rows
    whose select number changed: the take and the role's selects that moved."""
    take = rec.find_take(conn, file)
    role = _role_of(conn, take)
    before = _numbers(conn, role)
    if number is None:
        rec.clear_select(conn, take)
    else:
        rec.set_select(conn, take, number)
    after = _numbers(conn, role)
    moved = {f for f in before.keys() | after.keys() if before.get(f) != after.get(f)}
    return library_takes(conn, sorted(moved | {file}), by)


def _role_of(conn: sqlite3.Connection, take: rec.TakeRecord) -> int:
    row = conn.execute("SELECT role_id FROM auditions WHERE id = ?", (take.audition_id,)).fetchone()
    return int(row[0])


def _numbers(conn: sqlite3.Connection, role: int) -> dict[str, int]:
    rows = conn.execute(
        "SELECT t.file, s.number FROM selects s JOIN takes t ON t.id = s.take_id "
        "WHERE s.role_id = ?",
        (role,),
    ).fetchall()
    return {str(f): int(n) for f, n in rows}


def _take(row: tuple[Any, ...]) -> LibraryTake:
    file, production, role, actor, date, duration, notes, rating, number, mine = row
    return LibraryTake(
        file, production, role, actor, date, duration, int(notes), rating, number, mine
    )
