"""The casting record's typed API: frozen rows out, functions taking the connection.

Every function uses the connection it is given on the caller's thread (one owner). Names are
matched exactly; a name that is not there, or is ambiguous, is a :class:`CastingError` line
that says what is there instead.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from dataclasses import dataclass
from typing import Any

from immersion.casting.db import transaction
from immersion.errors import CastingError
from immersion.text_checks import hidden

NAME_CHARS = 200
NOTE_KINDS = ("note", "marker")
RATINGS = range(1, 6)


@dataclass(frozen=True, slots=True)
class Production:
    id: int
    name: str
    created: str


@dataclass(frozen=True, slots=True)
class Role:
    id: int
    production: str
    name: str
    pack: str
    avatar: str
    sides: str = ""


@dataclass(frozen=True, slots=True)
class Actor:
    id: int
    name: str
    contact: str = ""
    agent: str = ""


@dataclass(frozen=True, slots=True)
class Audition:
    id: int
    actor: str
    role: str
    production: str
    date: str  # YYYY-MM-DD
    consent: str  # the actor's words for what may be done with the takes
    consent_until: str | None  # YYYY-MM-DD, the last day the takes may be kept; None: no end
    proposed: str = ""  # the use the director proposed on the page, for the actor to agree to
    proposed_until: str | None = None
    consent_at: str | None = None  # UTC, when the actor agreed on their page
    consent_version: int | None = None  # the consent screen's version they read


@dataclass(frozen=True, slots=True)
class TakeRecord:
    id: int
    audition_id: int
    file: str  # inside the takes folder
    duration: float | None
    voice: str | None
    talkback: str | None
    rolled_by: str
    filed: str  # UTC, ISO 8601
    rating: float | None = None  # the mean of everyone's
    select: int | None = None  # its number among the role's selects


@dataclass(frozen=True, slots=True)
class Note:
    id: int
    take_id: int
    t: float
    text: str
    kind: str


@dataclass(frozen=True, slots=True)
class AuditionView:
    audition: Audition
    takes: tuple[TakeRecord, ...]


def to_json(row: Any) -> dict[str, Any]:
    """A row as a JSON object, keys in camelCase as the page's messages are."""
    return {_camel(k): getattr(row, k) for k in row.__slots__}


def _camel(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(w.title() for w in rest)


def _name(value: str, what: str) -> str:
    name = value.strip()
    if not name or len(name) > NAME_CHARS or hidden(name):
        raise CastingError(
            f"{what} {value!r}: give 1 to {NAME_CHARS} printable characters on one line"
        )
    return name


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


# Productions, roles, actors ------------------------------------------------------------------


def add_production(conn: sqlite3.Connection, name: str) -> Production:
    name, created = _name(name, "production"), _now()
    try:
        cur = conn.execute("INSERT INTO productions (name, created) VALUES (?, ?)", (name, created))
    except sqlite3.IntegrityError:
        raise CastingError(f"production {name!r} exists already") from None
    return Production(_id(cur), name, created)


def list_productions(conn: sqlite3.Connection) -> list[Production]:
    rows = conn.execute("SELECT id, name, created FROM productions ORDER BY name").fetchall()
    return [Production(*r) for r in rows]


def find_production(conn: sqlite3.Connection, name: str) -> Production:
    row = conn.execute("SELECT id, name, created FROM productions WHERE name = ?", (name,))
    found = row.fetchone()
    if found is None:
        names = ", ".join(p.name for p in list_productions(conn)) or "none yet"
        raise CastingError(f"no production {name!r} (productions: {names})")
    return Production(*found)


_ROLE = (
    "SELECT r.id, p.name, r.name, r.pack, r.avatar, r.sides FROM roles r "
    "JOIN productions p ON p.id = r.production_id"
)


def add_role(
    conn: sqlite3.Connection, production: str, name: str, pack: str, avatar: str, sides: str = ""
) -> Role:
    owner = find_production(conn, production)
    name = _name(name, "role")
    try:
        cur = conn.execute(
            "INSERT INTO roles (production_id, name, pack, avatar, sides) VALUES (?, ?, ?, ?, ?)",
            (owner.id, name, pack, avatar, sides),
        )
    except sqlite3.IntegrityError:
        raise CastingError(f"role {name!r} exists already in {owner.name!r}") from None
    return Role(_id(cur), owner.name, name, pack, avatar, sides)


def list_roles(conn: sqlite3.Connection, production: str | None = None) -> list[Role]:
    if production is None:
        rows = conn.execute(f"{_ROLE} ORDER BY p.name, r.name").fetchall()
    else:
        owner = find_production(conn, production)
        rows = conn.execute(f"{_ROLE} WHERE p.id = ? ORDER BY r.name", (owner.id,)).fetchall()
    return [Role(*r) for r in rows]


def find_role(conn: sqlite3.Connection, name: str, production: str | None = None) -> Role:
    """The role called ``name`` (in ``production``, needed only when two have one so named)."""
    roles = [r for r in list_roles(conn, production) if r.name == name]
    if len(roles) == 1:
        return roles[0]
    if roles:
        where = ", ".join(r.production for r in roles)
        raise CastingError(f"role {name!r} is in several productions ({where}): say which")
    names = ", ".join(sorted({r.name for r in list_roles(conn, production)})) or "none yet"
    raise CastingError(
        f"no role {name!r} (roles: {names}); add it with `immersion casting roles add`"
    )


def add_actor(conn: sqlite3.Connection, name: str, contact: str = "", agent: str = "") -> Actor:
    name = _name(name, "actor")
    try:
        cur = conn.execute(
            "INSERT INTO actors (name, contact, agent) VALUES (?, ?, ?)", (name, contact, agent)
        )
    except sqlite3.IntegrityError:
        raise CastingError(f"actor {name!r} exists already") from None
    return Actor(_id(cur), name, contact, agent)


def list_actors(conn: sqlite3.Connection) -> list[Actor]:
    rows = conn.execute("SELECT id, name, contact, agent FROM actors ORDER BY name").fetchall()
    return [Actor(*r) for r in rows]


def find_actor(conn: sqlite3.Connection, name: str) -> Actor | None:
    row = conn.execute("SELECT id, name, contact, agent FROM actors WHERE name = ?", (name,))
    found = row.fetchone()
    return Actor(*found) if found else None


def need_actor(conn: sqlite3.Connection, name: str) -> Actor:
    actor = find_actor(conn, name)
    if actor is None:
        raise CastingError(f"no actor {name!r} in the casting record")
    return actor


# Auditions and takes -------------------------------------------------------------------------

_AUDITION = (
    "SELECT a.id, ac.name, r.name, p.name, a.date, a.consent, a.consent_until, a.proposed, "
    "a.proposed_until, a.consent_at, a.consent_version FROM auditions a "
    "JOIN actors ac ON ac.id = a.actor_id JOIN roles r ON r.id = a.role_id "
    "JOIN productions p ON p.id = r.production_id"
)


def open_audition(
    conn: sqlite3.Connection,
    role: Role,
    actor: Actor,
    day: dt.date,
    consent: str | None = None,
    consent_until: dt.date | None = None,
) -> Audition:
    """The actor's audition for ``role`` on ``day``, made when there is none; consent given
    here replaces what it held (None: keep it)."""
    until = consent_until.isoformat() if consent_until else None
    with transaction(conn):
        conn.execute(
            "INSERT INTO auditions (actor_id, role_id, date, consent, consent_until) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (actor_id, role_id, date) DO NOTHING",
            (actor.id, role.id, day.isoformat(), consent or "", until),
        )
        if consent is not None or until is not None:
            conn.execute(
                "UPDATE auditions SET consent = coalesce(?, consent), "
                "consent_until = coalesce(?, consent_until) "
                "WHERE actor_id = ? AND role_id = ? AND date = ?",
                (consent, until, actor.id, role.id, day.isoformat()),
            )
    found = conn.execute(
        f"{_AUDITION} WHERE a.actor_id = ? AND a.role_id = ? AND a.date = ?",
        (actor.id, role.id, day.isoformat()),
    ).fetchone()
    return Audition(*found)


def find_auditions(conn: sqlite3.Connection, role: Role, actor: Actor) -> list[Audition]:
    rows = conn.execute(
        f"{_AUDITION} WHERE a.actor_id = ? AND a.role_id = ? ORDER BY a.date",
        (actor.id, role.id),
    ).fetchall()
    return [Audition(*r) for r in rows]


def get_audition(conn: sqlite3.Connection, audition_id: int) -> Audition:
    found = conn.execute(f"{_AUDITION} WHERE a.id = ?", (audition_id,)).fetchone()
    if found is None:
        raise CastingError(f"audition {audition_id} is not in the casting record (deleted?)")
    return Audition(*found)


def propose_use(
    conn: sqlite3.Connection, audition: Audition, use: str, until: dt.date | None
) -> Audition:
    """The use of the takes a director proposes for the actor to agree to (their consent,
    once given, stays until they agree again)."""
    conn.execute(
        "UPDATE auditions SET proposed = ?, proposed_until = ? WHERE id = ?",
        (use, until.isoformat() if until else None, audition.id),
    )
    return get_audition(conn, audition.id)


def agree_use(
    conn: sqlite3.Connection,
    audition: Audition,
    words: str,
    until: dt.date | None,
    version: int,
    when: dt.datetime | None = None,
) -> Audition:
    """The actor's consent, in their words, until ``until`` (None: until deleted), agreed at
    ``when`` on a consent screen of ``version``: what purge_expired then goes by."""
    at = (when or dt.datetime.now(dt.UTC)).isoformat(timespec="seconds")
    conn.execute(
        "UPDATE auditions SET consent = ?, consent_until = ?, consent_at = ?, "
        "consent_version = ? WHERE id = ?",
        (words, until.isoformat() if until else None, at, version, audition.id),
    )
    return get_audition(conn, audition.id)


_TAKE = (
    "SELECT t.id, t.audition_id, t.file, t.duration, t.voice, t.talkback, t.rolled_by, t.filed, "
    "(SELECT avg(value) FROM ratings WHERE take_id = t.id), "
    "(SELECT number FROM selects WHERE take_id = t.id) FROM takes t"
)


def file_take(
    conn: sqlite3.Connection,
    audition_id: int,
    file: str,
    duration: float | None,
    voice: str | None = None,
    talkback: str | None = None,
    rolled_by: str = "",
    room_notes: tuple[tuple[float, str, str], ...] = (),
) -> TakeRecord:
    """File a take (its file name inside the takes folder) under an audition, with the notes
    and markers made while it rolled ((t in the take, kind, text); filed with a new take only).
    Filing the same file again updates it."""
    with transaction(conn):
        new = conn.execute("SELECT 1 FROM takes WHERE file = ?", (file,)).fetchone() is None
        conn.execute(
            "INSERT INTO takes (audition_id, file, duration, voice, talkback, rolled_by, filed) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (file) DO UPDATE SET "
            "audition_id = excluded.audition_id, duration = excluded.duration, "
            "voice = excluded.voice, talkback = excluded.talkback, "
            "rolled_by = excluded.rolled_by",
            (audition_id, file, duration, voice, talkback, rolled_by, _now()),
        )
        if new:
            conn.executemany(
                "INSERT INTO notes (take_id, t, text, kind) "
                "SELECT id, ?, ?, ? FROM takes WHERE file = ?",
                [(t, text, kind, file) for t, kind, text in room_notes if kind in NOTE_KINDS],
            )
    return find_take(conn, file)


def find_take(conn: sqlite3.Connection, file: str) -> TakeRecord:
    found = conn.execute(f"{_TAKE} WHERE t.file = ?", (file,)).fetchone()
    if found is None:
        raise CastingError(f"take {file!r} is not in the casting record")
    return TakeRecord(*found)


def show_audition(conn: sqlite3.Connection, audition: Audition) -> AuditionView:
    rows = conn.execute(f"{_TAKE} WHERE t.audition_id = ? ORDER BY t.id", (audition.id,))
    return AuditionView(audition, tuple(TakeRecord(*r) for r in rows.fetchall()))


def add_note(conn: sqlite3.Connection, take: TakeRecord, t: float, text: str, kind: str) -> Note:
    if kind not in NOTE_KINDS:
        raise CastingError(f"note kind {kind!r}: one of {', '.join(NOTE_KINDS)}")
    cur = conn.execute(
        "INSERT INTO notes (take_id, t, text, kind) VALUES (?, ?, ?, ?)", (take.id, t, text, kind)
    )
    return Note(_id(cur), take.id, t, text, kind)


def notes(conn: sqlite3.Connection, take: TakeRecord) -> list[Note]:
    rows = conn.execute(
        "SELECT id, take_id, t, text, kind FROM notes WHERE take_id = ? ORDER BY t, id",
        (take.id,),
    )
    return [Note(*r) for r in rows.fetchall()]


# Decisions -----------------------------------------------------------------------------------


def set_rating(conn: sqlite3.Connection, take: TakeRecord, by: str, value: int | None) -> None:
    """``by``'s rating of the take, 1 to 5; None takes it back."""
    by = _name(by, "rated by")
    if value is None:
        conn.execute("DELETE FROM ratings WHERE take_id = ? AND by = ?", (take.id, by))
        return
    if value not in RATINGS:
        raise CastingError(f"rating {value}: from {RATINGS[0]} to {RATINGS[-1]}")
    conn.execute(
        "INSERT INTO ratings (take_id, by, value) VALUES (?, ?, ?) "
        "ON CONFLICT (take_id, by) DO UPDATE SET value = excluded.value",
        (take.id, by, value),
    )


def _role_of(conn: sqlite3.Connection, take: TakeRecord) -> int:
    row = conn.execute("SELECT role_id FROM auditions WHERE id = ?", (take.audition_id,)).fetchone()
    return int(row[0])


def selects(conn: sqlite3.Connection, role: Role) -> list[TakeRecord]:
    """The role's selects in order: #1 first."""
    rows = conn.execute(
        f"{_TAKE} JOIN selects s ON s.take_id = t.id WHERE s.role_id = ? ORDER BY s.number",
        (role.id,),
    )
    return [TakeRecord(*r) for r in rows.fetchall()]


def set_select(conn: sqlite3.Connection, take: TakeRecord, number: int | None = None) -> int:
    """Make the take its role's select ``number`` (None: the next after the last); those at
    that number and after move down one, as in a ranked list. Returns the number it got."""
    role = _role_of(conn, take)
    with transaction(conn):
        order = _select_order(conn, role)
        if take.id in order:
            order.remove(take.id)
        if number is None:
            number = len(order) + 1
        if number < 1:
            raise CastingError(f"select number {number}: from 1")
        number = min(number, len(order) + 1)
        order.insert(number - 1, take.id)
        _renumber(conn, role, order)
    return number


def clear_select(conn: sqlite3.Connection, take: TakeRecord) -> None:
    """The take is no longer a select; those after it move up one."""
    role = _role_of(conn, take)
    with transaction(conn):
        order = _select_order(conn, role)
        if take.id in order:
            order.remove(take.id)
            _renumber(conn, role, order)


def _select_order(conn: sqlite3.Connection, role_id: int) -> list[int]:
    rows = conn.execute(
        "SELECT take_id FROM selects WHERE role_id = ? ORDER BY number", (role_id,)
    ).fetchall()
    return [int(r[0]) for r in rows]


def _renumber(conn: sqlite3.Connection, role_id: int, order: list[int]) -> None:
    conn.execute("DELETE FROM selects WHERE role_id = ?", (role_id,))
    conn.executemany(
        "INSERT INTO selects (role_id, take_id, number) VALUES (?, ?, ?)",
        [(role_id, take, k) for k, take in enumerate(order, 1)],
    )


def renumber_selects(conn: sqlite3.Connection) -> None:
    """Close the gaps deleted takes left in every role's selects (inside the caller's
    transaction)."""
    roles = [int(r[0]) for r in conn.execute("SELECT DISTINCT role_id FROM selects")]
    for role in roles:
        order = _select_order(conn, role)
        if [n for (n,) in conn.execute(
            "SELECT number FROM selects WHERE role_id = ? ORDER BY number", (role,)
        )] != list(range(1, len(order) + 1)):  # fmt: skip
            _renumber(conn, role, order)


def _id(cur: sqlite3.Cursor) -> int:
    assert cur.lastrowid is not None
    return cur.lastrowid
