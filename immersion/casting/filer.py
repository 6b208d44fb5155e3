"""The room's side of the casting record: the audition it serves.

Each ended take is then filed under it by the room's
:class:`~immersion.casting.desk.CastingDesk` (the one owner of the room's connection).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from immersion.casting import record as rec
from immersion.casting.db import open_db


def serve_audition(
    db: Path,
    role: str,
    actor: str,
    day: dt.date,
    production: str | None = None,
    consent: str | None = None,
    consent_until: dt.date | None = None,
) -> tuple[rec.Audition, bool]:
    """The audition ``serve --role --actor`` files takes under, opened (or made) for ``day``:
    the role must be in the record (a production's decision); the actor is added when new
    (they are at the door). Returns it, and whether the actor was added."""
    conn = open_db(db)
    try:
        found = rec.find_role(conn, role, production)
        person = rec.find_actor(conn, actor)
        added = person is None
        if person is None:
            person = rec.add_actor(conn, actor)
        return rec.open_audition(conn, found, person, day, consent, consent_until), added
    finally:
        conn.close()
