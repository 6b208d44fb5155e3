"""The audition a director chooses on the casting page, and the actor's consent to the use of
its takes, in their own words.

Plain functions on a connection (the room's :class:`~immersion.casting.desk.CastingDesk` is its
one owner). A choice names a production, a role and an actor; each is either picked from the
record or added by the same choice (``add``), so a typo is refused with what is there instead
of becoming a new row.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from dataclasses import dataclass
from typing import Any

from immersion.casting import record as rec
from immersion.casting.db import transaction
from immersion.errors import CastingError

USE_CHARS = 1000  # a description of use, as the actor agrees to it: a paragraph, not a contract
DEFAULT_USE = "This production's casting only"
ADDABLE = ("production", "role", "actor")


@dataclass(frozen=True, slots=True)
class Choice:
    """A director's choice: who reads for which role of which production, today. ``add``:
    which of the three are new (the rest must be in the record). ``pack``/``avatar``: a new
    role's (the room's current ones when None); ``contact``/``agent``: a new actor's. ``use``
    and ``until``: the use of the takes proposed to the actor ("": keep the audition's)."""

    production: str
    role: str
    actor: str
    add: frozenset[str] = frozenset()
    pack: str | None = None
    avatar: str | None = None
    contact: str = ""
    agent: str = ""
    use: str = ""
    until: dt.date | None = None


@dataclass(frozen=True, slots=True)
class Terms:
    """What the actor agreed to on their page, for audition ``audition``: ``use`` in their
    words (or the proposal's), ``until`` (None: until deleted), the consent screen's
    ``version``; ``proposed``/``proposed_until``: the proposal the page showed them (a
    director may change it while they read)."""

    audition: int
    use: str
    until: dt.date | None
    version: int
    proposed: str
    proposed_until: dt.date | None


@dataclass(frozen=True, slots=True)
class Choices:
    """What a director can pick from: the record's productions, roles and actors (names only:
    an actor's contact stays in the record)."""

    productions: tuple[str, ...]
    roles: tuple[rec.Role, ...]
    actors: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "productions": list(self.productions),
            "roles": [
                {"production": r.production, "name": r.name, "pack": r.pack, "avatar": r.avatar}
                for r in self.roles
            ],
            "actors": list(self.actors),
        }


def choices(conn: sqlite3.Connection) -> Choices:
    return Choices(
        tuple(p.name for p in rec.list_productions(conn)),
        tuple(rec.list_roles(conn)),
        tuple(a.name for a in rec.list_actors(conn)),
    )


def open_chosen(
    conn: sqlite3.Connection, choice: Choice, today: dt.date, pack: str, avatar: str
) -> rec.Audition:
    """The chosen actor's audition for the role today (made when there is none, or today's
    again), adding what the choice says is new, all or nothing. ``pack``, ``avatar``: the
    room's, for a new role that names none."""
    _until(choice.until, today, "until")
    with transaction(conn):
        if "production" in choice.add:
            rec.add_production(conn, choice.production)
        else:
            rec.find_production(conn, choice.production)
        if "role" in choice.add:
            role = rec.add_role(
                conn, choice.production, choice.role, choice.pack or pack, choice.avatar or avatar
            )
        else:
            role = rec.find_role(conn, choice.role, choice.production)
        if "actor" in choice.add:
            actor = rec.add_actor(conn, choice.actor, choice.contact, choice.agent)
        else:
            found = rec.find_actor(conn, choice.actor)
            if found is None:
                names = ", ".join(a.name for a in rec.list_actors(conn)) or "none yet"
                raise CastingError(f"no actor {choice.actor!r} (actors: {names}); add them")
            actor = found
        # open_audition's own transaction cannot nest: its two statements run here instead.
        conn.execute(
            "INSERT INTO auditions (actor_id, role_id, date) VALUES (?, ?, ?) "
            "ON CONFLICT (actor_id, role_id, date) DO NOTHING",
            (actor.id, role.id, today.isoformat()),
        )
        (audition_id,) = conn.execute(
            "SELECT id FROM auditions WHERE actor_id = ? AND role_id = ? AND date = ?",
            (actor.id, role.id, today.isoformat()),
        ).fetchone()
        audition = rec.get_audition(conn, int(audition_id))
        if choice.use or not audition.proposed:
            audition = rec.propose_use(conn, audition, choice.use or DEFAULT_USE, choice.until)
        elif choice.until is not None:  # the same proposal, a new end
            audition = rec.propose_use(conn, audition, audition.proposed, choice.until)
    return audition


def agree(
    conn: sqlite3.Connection,
    serving: rec.Audition | None,
    terms: Terms,
    today: dt.date,
    when: dt.datetime | None = None,
) -> rec.Audition:
    """Record the actor's consent on the audition the room serves; terms agreed to on a page
    that showed another audition, or another proposal of its use, are refused (the director
    changed it meanwhile)."""
    if serving is None:
        raise CastingError("no audition is open in this room: there is nothing to agree to")
    if terms.audition != serving.id:
        raise CastingError(
            f"audition {terms.audition} is no longer the room's (now {serving.role} — "
            f"{serving.actor}): read its terms again"
        )
    current = rec.get_audition(conn, serving.id)  # as the record holds it now
    shown_until = terms.proposed_until.isoformat() if terms.proposed_until else None
    if (terms.proposed, shown_until) != (current.proposed.strip(), current.proposed_until):
        raise CastingError("the proposed use changed; read it again")
    _until(terms.until, today, "until")
    return rec.agree_use(conn, current, terms.use, terms.until, terms.version, when)


def _until(until: dt.date | None, today: dt.date, what: str) -> None:
    if until is not None and until < today:
        raise CastingError(f"{what} {until.isoformat()}: a day from today ({today.isoformat()}) on")
