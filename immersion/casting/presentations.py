"""Presentations: chosen takes shown to people outside the room through a link of their own.

A presentation's link carries a token made here (``secrets.token_urlsafe``) and given to its
maker once; the record keeps only its SHA-256, so a copy of the database opens nothing. A link
works until its expiry (UTC) or until it is revoked, whichever comes first; each refusal says
which. A guest let in to see a take is logged (the name they gave, the take, the time), once
per ten minutes however often it replays: the director's "viewed" marks. A take whose
audition's consent has ended is shown to no one.

Plain functions on a connection, like :mod:`~immersion.casting.record` (in a room the
:class:`~immersion.casting.desk.CastingDesk`'s thread is its one owner).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import sqlite3
from dataclasses import dataclass
from typing import Any

from immersion.casting import record as rec
from immersion.casting.db import transaction
from immersion.errors import CastingError
from immersion.text_checks import hidden

TOKEN_BYTES = 24  # secrets.token_urlsafe(24): 32 characters, 192 bits
TITLE_CHARS = 200
VIEWER_CHARS = 80  # a person's name, as the page asks for it
MAX_TAKES = 24  # a presentation is a short list, not the library
DEFAULT_DAYS = 7
MAX_DAYS = 366  # a link that outlives a year is forgotten, not chosen
VIEWS_SHOWN = (
    20  # per take of a presentation, the newest: the marks say who and when, not a log's every line
)
REFUSALS = ("unknown", "revoked", "expired", "withdrawn")
WITHDRAWN = "this presentation's takes are no longer available"


class PresentationRefusedError(CastingError):
    """A link that does not open: ``why`` is one of :data:`REFUSALS`."""

    def __init__(self, why: str, message: str) -> None:
        super().__init__(message)
        self.why = why


@dataclass(frozen=True, slots=True)
class Presentation:
    id: int
    title: str
    created: str  # UTC ISO 8601
    created_by: str
    expires: str  # UTC ISO 8601
    revoked: str | None  # when, UTC ISO 8601
    show_notes: bool
    takes: tuple[str, ...]  # take file names, in the director's order

    def state(self, now: dt.datetime) -> str:
        """open, revoked or expired at ``now``."""
        if self.revoked is not None:
            return "revoked"
        return "expired" if parse_time(self.expires) <= now else "open"


@dataclass(frozen=True, slots=True)
class Created:
    presentation: Presentation
    token: str  # the link's token: shown once, never stored


@dataclass(frozen=True, slots=True)
class View:
    presentation_id: int
    take: str
    viewer: str
    at: str  # UTC ISO 8601

    def to_json(self) -> dict[str, Any]:
        return {"presentation": self.presentation_id, "take": self.take,
                "viewer": self.viewer, "at": self.at}  # fmt: skip


@dataclass(frozen=True, slots=True)
class ShownTake:
    """A take as a presentation's guests see it: no ratings, selects or file paths beyond its
    name; notes only when the presentation shows them."""

    file: str
    role: str
    actor: str
    duration: float | None
    notes: tuple[tuple[float, str, str], ...]  # (t, kind, text)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"file": self.file, "role": self.role, "actor": self.actor,
                               "duration": self.duration}  # fmt: skip
        out["notes"] = [{"t": round(t, 2), "kind": k, "text": x} for t, k, x in self.notes]
        return out


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def parse_time(text: str) -> dt.datetime:
    """A stored or given UTC ISO 8601 time (a time without a zone is taken as UTC)."""
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        raise CastingError(
            f"expires {text!r}: give an ISO 8601 time, e.g. 2026-12-01T18:00Z"
        ) from None
    return when.replace(tzinfo=dt.UTC) if when.tzinfo is None else when.astimezone(dt.UTC)


def _iso(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).isoformat(timespec="seconds")


def _text(value: str, what: str, limit: int) -> str:
    text = value.strip()
    if not text or len(text) > limit or hidden(text):
        raise CastingError(f"{what} {value[:40]!r}: give 1 to {limit} printable characters")
    return text


_ROW = "SELECT id, title, created, created_by, expires, revoked, show_notes FROM presentations"
# A take whose audition's consent ended before today (UTC, as purge_expired counts) is shown
# to no one, even before the purge removes it; an audition with no end date keeps its takes.
_CONSENTED = "(a.consent_until IS NULL OR a.consent_until >= ?)"


def _today(now: dt.datetime | None) -> dt.date:
    return (now or utc_now()).astimezone(dt.UTC).date()


def _presentation(
    conn: sqlite3.Connection, row: tuple[Any, ...], today: dt.date | None
) -> Presentation:
    """``row``'s presentation with its takes whose consent holds on ``today`` (None: all)."""
    files = conn.execute(
        "SELECT t.file FROM presentation_takes pt JOIN takes t ON t.id = pt.take_id "
        "JOIN auditions a ON a.id = t.audition_id "
        f"WHERE pt.presentation_id = ? AND {_CONSENTED} ORDER BY pt.position",
        (row[0], (today or dt.date.min).isoformat()),
    ).fetchall()
    pid, title, created, by, expires, revoked, notes = row
    return Presentation(
        pid, title, created, by, expires, revoked, bool(notes), tuple(str(f) for (f,) in files)
    )


def create(
    conn: sqlite3.Connection,
    title: str,
    takes: list[str],
    expires: dt.datetime,
    show_notes: bool = False,
    created_by: str = "",
    now: dt.datetime | None = None,
) -> Created:
    """A presentation of ``takes`` (file names in the record, in this order) until
    ``expires``. Returns it with its token, the one time the token is known."""
    now = now or utc_now()
    title = _text(title, "title", TITLE_CHARS)
    if not takes or len(takes) > MAX_TAKES:
        raise CastingError(f"takes: choose 1 to {MAX_TAKES} takes")
    if len(set(takes)) != len(takes):
        raise CastingError("takes: a take is chosen twice")
    if expires.tzinfo is None:
        expires = expires.replace(tzinfo=dt.UTC)
    if expires <= now:  # a link that never opens is a mistake, not a choice
        raise CastingError(f"expires {_iso(expires)}: give a time after now ({_iso(now)})")
    if expires - now > dt.timedelta(days=MAX_DAYS):
        raise CastingError(f"expires {_iso(expires)}: at most {MAX_DAYS} days from now")
    ids = [rec.find_take(conn, f).id for f in takes]  # each one in the record, or its line
    ended = conn.execute(
        "SELECT t.file, a.consent_until FROM takes t JOIN auditions a ON a.id = t.audition_id "
        f"WHERE t.id IN ({', '.join('?' for _ in ids)}) AND NOT {_CONSENTED} ORDER BY t.file",
        [*ids, _today(now).isoformat()],
    ).fetchone()
    if ended is not None:
        raise CastingError(
            f"take {ended[0]!r}: its audition's consent ended on {ended[1]}; it is shown to no one"
        )
    token = secrets.token_urlsafe(TOKEN_BYTES)
    with transaction(conn):
        cur = conn.execute(
            "INSERT INTO presentations (title, token_hash, created, created_by, expires, "
            "show_notes) VALUES (?, ?, ?, ?, ?, ?)",
            (title, token_hash(token), _iso(now), created_by, _iso(expires), int(show_notes)),
        )
        pid = cur.lastrowid
        conn.executemany(
            "INSERT INTO presentation_takes (presentation_id, take_id, position) VALUES (?, ?, ?)",
            [(pid, take, k) for k, take in enumerate(ids)],
        )
    assert pid is not None
    return Created(get(conn, pid, now), token)


def get(conn: sqlite3.Connection, pid: int, now: dt.datetime | None = None) -> Presentation:
    """Presentation ``pid`` with its takes whose consent holds at ``now``."""
    row = conn.execute(f"{_ROW} WHERE id = ?", (pid,)).fetchone()
    if row is None:
        raise CastingError(f"no presentation {pid} in the casting record")
    return _presentation(conn, row, _today(now))


def list_presentations(
    conn: sqlite3.Connection, now: dt.datetime | None = None
) -> list[Presentation]:
    """Every presentation, newest first, each with its takes whose consent holds at ``now``."""
    rows = conn.execute(f"{_ROW} ORDER BY id DESC").fetchall()
    today = _today(now)
    return [_presentation(conn, r, today) for r in rows]


def find_by_token(
    conn: sqlite3.Connection, token: str, now: dt.datetime | None = None
) -> Presentation:
    """The presentation a link's token opens at ``now``; refused (one line, which of
    :data:`REFUSALS`) when unknown, revoked or expired."""
    now = now or utc_now()
    row = conn.execute(f"{_ROW} WHERE token_hash = ?", (token_hash(token),)).fetchone()
    if row is None:
        raise PresentationRefusedError(
            "unknown", "this presentation link is not known (mistyped, or deleted)"
        )
    found = _presentation(conn, row, _today(now))
    if found.revoked is not None:
        raise PresentationRefusedError(
            "revoked", f"this presentation was revoked ({found.revoked} UTC)"
        )
    if parse_time(found.expires) <= now:
        raise PresentationRefusedError(
            "expired", f"this presentation expired ({found.expires} UTC)"
        )
    if not found.takes:  # every one's consent has ended
        raise PresentationRefusedError("withdrawn", WITHDRAWN)
    return found


def revoke(conn: sqlite3.Connection, pid: int, now: dt.datetime | None = None) -> Presentation:
    """The link stops working at once (revoking twice keeps the first time)."""
    get(conn, pid, now)
    conn.execute(
        "UPDATE presentations SET revoked = coalesce(revoked, ?) WHERE id = ?",
        (_iso(now or utc_now()), pid),
    )
    return get(conn, pid, now)


def log_view(
    conn: sqlite3.Connection,
    presentation: Presentation,
    viewer: str,
    take: str,
    now: dt.datetime | None = None,
) -> View:
    """``viewer`` started a replay of ``take`` (one of the presentation's)."""
    if take not in presentation.takes:
        raise CastingError(f"take {take!r} is not in presentation {presentation.title!r}")
    viewer = _text(viewer, "viewer", VIEWER_CHARS)
    at = _iso(now or utc_now())
    conn.execute(
        "INSERT INTO views (presentation_id, take_id, viewer, at) "
        "SELECT ?, id, ?, ? FROM takes WHERE file = ?",
        (presentation.id, viewer, at, take),
    )
    return View(presentation.id, take, viewer, at)


def views(
    conn: sqlite3.Connection,
    files: list[str] | None = None,
    presentation: int | None = None,
    limit: int = VIEWS_SHOWN,
) -> dict[str, list[View]]:
    """Views per take file, newest first, at most ``limit`` per take in each presentation (cut
    in SQL: a log that grows does not grow what is read into Python): of ``files`` (None:
    every take), in one presentation or in all."""
    where: list[str] = []
    params: list[object] = []
    if files is not None:
        if not files:
            return {}
        where.append(f"t.file IN ({', '.join('?' for _ in files)})")
        params += files
    if presentation is not None:
        where.append("v.presentation_id = ?")
        params.append(presentation)
    rows = conn.execute(
        "SELECT pid, file, viewer, at FROM (SELECT v.presentation_id AS pid, t.file AS file, "
        "v.viewer AS viewer, v.at AS at, v.id AS vid, row_number() OVER (PARTITION BY "
        "v.presentation_id, v.take_id ORDER BY v.at DESC, v.id DESC) AS n FROM views v "
        "JOIN takes t ON t.id = v.take_id"
        + (" WHERE " + " AND ".join(where) if where else "")
        + ") WHERE n <= ? ORDER BY at DESC, vid DESC",
        [*params, limit],
    ).fetchall()
    out: dict[str, list[View]] = {}
    for pid, file, viewer, at in rows:
        out.setdefault(str(file), []).append(View(int(pid), str(file), str(viewer), str(at)))
    return out


def shown_takes(conn: sqlite3.Connection, presentation: Presentation) -> list[ShownTake]:
    """What the presentation's guests see of each of its takes, in its order."""
    out = []
    for file in presentation.takes:
        take = rec.find_take(conn, file)
        role, actor = conn.execute(
            "SELECT r.name, ac.name FROM auditions a JOIN roles r ON r.id = a.role_id "
            "JOIN actors ac ON ac.id = a.actor_id WHERE a.id = ?",
            (take.audition_id,),
        ).fetchone()
        notes = (
            tuple((n.t, n.kind, n.text) for n in rec.notes(conn, take))
            if presentation.show_notes
            else ()
        )
        out.append(ShownTake(file, str(role), str(actor), take.duration, notes))
    return out


def to_json(
    presentation: Presentation, seen: dict[str, list[View]], now: dt.datetime
) -> dict[str, Any]:
    """A presentation for the director's list: its state at ``now`` and each take's views
    through it (never its token)."""
    return {
        "id": presentation.id,
        "title": presentation.title,
        "created": presentation.created,
        "createdBy": presentation.created_by,
        "expires": presentation.expires,
        "revoked": presentation.revoked,
        "showNotes": presentation.show_notes,
        "state": presentation.state(now),
        "takes": [
            {"file": f, "viewed": [v.to_json() for v in seen.get(f, [])
                                   if v.presentation_id == presentation.id]}
            for f in presentation.takes
        ],
    }  # fmt: skip


def orphans(conn: sqlite3.Connection) -> list[Presentation]:
    """Presentations left with no take (their takes were deleted)."""
    rows = conn.execute(
        f"{_ROW} WHERE id NOT IN (SELECT presentation_id FROM presentation_takes) ORDER BY id"
    ).fetchall()
    return [_presentation(conn, r, None) for r in rows]
