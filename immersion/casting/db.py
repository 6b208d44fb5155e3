"""Opening the casting record: one SQLite file, its schema migrated by the package's own scripts.

Migrations are ``migrations/NNNN_name.sql`` files, applied in number order, each inside one
transaction with the version it brings written to ``PRAGMA user_version``, so a database is
always at a version some code knew. A database newer than this code is refused, not guessed at.

A connection has one owner: whoever opened it uses it on that thread only (sqlite3's own
check stays on).
"""

from __future__ import annotations

import contextlib
import re
import sqlite3
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

from immersion.errors import CastingError

BUSY_TIMEOUT_MS = 5000  # another process (the room, a CLI) holding the write lock this long
_MIGRATION = re.compile(r"(\d{4})_[a-z0-9_]+\.sql")


def migrations() -> list[tuple[int, str]]:
    """The package's migrations: (version, SQL), in order, numbered 1, 2, ... without gaps."""
    folder = resources.files("immersion.casting").joinpath("migrations")
    found = sorted(
        (int(m[1]), entry.read_text(encoding="utf-8"))
        for entry in folder.iterdir()
        if (m := _MIGRATION.fullmatch(entry.name))
    )
    versions = [v for v, _ in found]
    assert versions == list(range(1, len(found) + 1)), f"migrations out of order: {versions}"
    return found


def schema_version() -> int:
    """The version this code writes: its newest migration's."""
    return len(migrations())


def open_db(path: Path) -> sqlite3.Connection:
    """The casting record at ``path``, created or migrated to this code's version.

    WAL mode (the room files takes while a command reads), foreign keys on (cascading deletes),
    a busy timeout; statements autocommit unless inside :func:`transaction`.
    """
    if path.is_dir():
        raise CastingError(f"--db {path}: is a folder, not a database file")
    if not path.parent.is_dir():
        raise CastingError(f"--db {path}: its folder {path.parent} does not exist")
    try:
        conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
    except sqlite3.Error as exc:
        raise CastingError(f"--db {path}: cannot be opened ({exc})") from None
    try:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA journal_mode = WAL")
        _migrate(conn, path)
    except sqlite3.Error as exc:
        conn.close()
        raise CastingError(f"--db {path}: not a usable casting record ({exc})") from None
    except CastingError:
        conn.close()
        raise
    return conn


def _migrate(conn: sqlite3.Connection, path: Path) -> None:
    known = migrations()
    if _version(conn) == len(known):  # the usual case: no write lock taken
        return
    with transaction(conn):  # re-read under the lock: another process may have migrated
        version = _version(conn)
        if version > len(known):
            raise CastingError(
                f"--db {path}: the casting record is version {version}, newer than this "
                f"immersion knows ({len(known)}); use a newer immersion"
            )
        for number, script in known[version:]:
            for statement in _statements(script):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {number}")


def _version(conn: sqlite3.Connection) -> int:
    row = conn.execute("PRAGMA user_version").fetchone()
    return int(row[0])


def _statements(script: str) -> Iterator[str]:
    """A script's statements, one at a time: executescript() would commit the transaction."""
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            if pending.strip():
                yield pending
            pending = ""
    if pending.strip() and not all(
        ln.strip().startswith("--") or not ln.strip() for ln in pending.splitlines()
    ):
        raise AssertionError(f"a migration ends with an unfinished statement: {pending[:80]!r}")


@contextlib.contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One write transaction (the write lock taken at once): committed, or rolled back on any
    exception."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
