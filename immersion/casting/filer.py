"""The room's side of the casting record: the audition it serves, and each ended take filed
under it.

The recorder's thread calls the filer when a take ends (:attr:`Recorder.on_end`); the filer
opens its own connection for that one filing and closes it, so the connection's one owner is
the thread that files, and a room with a slow or locked database loses at most a busy timeout
on that thread (its queue holds ~3 s of poses), never a take file.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from immersion.casting import record as rec
from immersion.casting.db import open_db
from immersion.errors import CastingError
from immersion.room.recorder import TakeEnded


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


@dataclass(frozen=True, slots=True)
class TakeFiler:
    """Files each ended take under one audition (the recorder's ``on_end``)."""

    db: Path
    audition_id: int

    def __call__(self, ended: TakeEnded) -> None:
        conn = open_db(self.db)
        try:
            rec.file_take(
                conn,
                self.audition_id,
                ended.file,
                round(ended.duration, 3),
                ended.voice,
                ended.talkback,
                ended.rolled_by,
                ended.notes,
            )
        except sqlite3.Error as exc:
            raise CastingError(f"--db {self.db}: {exc}") from None
        finally:
            conn.close()
