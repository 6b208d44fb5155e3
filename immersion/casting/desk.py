"""The casting desk: the one owner of a running room's casting record.

A thread holds the room's one SQLite connection and carries out typed requests from a bounded
queue, answering each with a future (as the recorder answers take starts and stops): the
page's library queries, ratings and selects, and the filing of each ended take. Whatever
changes a take's row is told to :attr:`CastingDesk.on_change` (on the desk's thread), so the
feed can send it to every viewer.
"""

from __future__ import annotations

import datetime as dt
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from immersion.casting import choosing
from immersion.casting import library as lib
from immersion.casting import presentations as present
from immersion.casting import record as rec
from immersion.casting.db import open_db
from immersion.errors import CastingError
from immersion.room.recorder import TakeEnded

log = logging.getLogger(__name__)

QUEUE_SIZE = 64  # requests waiting; past it one is answered at once that the desk is busy
FILE_WAIT_S = 10.0  # the recorder's thread waits this long for a take to be filed
# How often the desk re-reads the audition it serves: another process (``immersion casting
# delete-actor``) may delete it while the room runs.
REREAD_S = 3.0


@dataclass(frozen=True, slots=True)
class QueryLibrary:
    query: lib.LibraryQuery
    by: str
    reply: Future[lib.Library] = field(default_factory=Future)


@dataclass(frozen=True, slots=True)
class Rate:
    file: str
    by: str
    value: int | None
    reply: Future[list[lib.LibraryTake]] = field(default_factory=Future)


@dataclass(frozen=True, slots=True)
class Select:
    file: str
    number: int | None
    by: str
    reply: Future[list[lib.LibraryTake]] = field(default_factory=Future)


@dataclass(frozen=True, slots=True)
class FileTake:
    ended: TakeEnded
    audition_id: int
    reply: Future[list[lib.LibraryTake]] = field(default_factory=Future)


# The audition chosen on the page, and the actor's consent to it (casting/choosing.py).
@dataclass(frozen=True, slots=True)
class ListChoices:
    reply: Future[choosing.Choices] = field(default_factory=Future)


@dataclass(frozen=True, slots=True)
class OpenChosen:
    choice: choosing.Choice
    pack: str  # the room's, for a new role that names none
    avatar: str
    reply: Future[rec.Audition] = field(default_factory=Future)


@dataclass(frozen=True, slots=True)
class CloseAudition:
    reply: Future[None] = field(default_factory=Future)


@dataclass(frozen=True, slots=True)
class AgreeTerms:
    terms: choosing.Terms
    reply: Future[rec.Audition] = field(default_factory=Future)


@dataclass(frozen=True, slots=True)
class Call:
    """Other work on the record (presentations): a function of the connection, run on the
    desk's thread; its result is the reply."""

    work: Callable[[sqlite3.Connection], Any]
    reply: Future[Any] = field(default_factory=Future)


AuditionRequest = ListChoices | OpenChosen | CloseAudition | AgreeTerms
Request = QueryLibrary | Rate | Select | FileTake | AuditionRequest | Call
OnChange = Callable[[list[lib.LibraryTake]], None]
OnAudition = Callable[[rec.Audition | None], None]
R = TypeVar(
    "R",
    QueryLibrary, Rate, Select, FileTake, ListChoices, OpenChosen, CloseAudition, AgreeTerms, Call,
)  # fmt: skip
T = TypeVar("T")


class CastingDesk:
    """The room's casting record, on its own thread. ``audition_id``: the audition this room
    files its takes under (None: a room that only reviews, until a director opens one on the
    page)."""

    def __init__(self, db: Path, audition_id: int | None = None) -> None:
        self.db = db
        self.audition_id = audition_id
        # The audition served, as the desk last read it (set on the desk's thread only).
        self.audition: rec.Audition | None = None
        self.today: Callable[[], dt.date] = dt.date.today
        self.on_change: OnChange | None = None  # set before start
        # Told (on the desk's thread) when the audition served changed outside the room, or
        # went (None): viewers are sent it. Set before start.
        self.on_audition: OnAudition | None = None
        self._queue: queue.Queue[Request | None] = queue.Queue(QUEUE_SIZE)
        self._thread = threading.Thread(target=self._run, name="casting-desk", daemon=True)
        self._opened: Future[None] = Future()

    def start(self) -> None:
        """Open the record on the desk's thread; a record that cannot be opened fails here."""
        self._thread.start()
        self._opened.result()

    def stop(self) -> None:
        """Carry out what is queued, then close the connection and end the thread."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join(10)

    def submit(self, request: R) -> R:
        """Queue ``request``, never blocking; its reply is a CastingError when the desk is
        that far behind."""
        try:
            self._queue.put_nowait(request)
        except queue.Full:
            request.reply.set_exception(CastingError("the casting record is busy; try again"))
        return request

    def library(self, query: lib.LibraryQuery, by: str) -> Future[lib.Library]:
        return self.submit(QueryLibrary(query, by)).reply

    def rate(self, file: str, by: str, value: int | None) -> Future[list[lib.LibraryTake]]:
        return self.submit(Rate(file, by, value)).reply

    def select(self, file: str, number: int | None, by: str) -> Future[list[lib.LibraryTake]]:
        return self.submit(Select(file, number, by)).reply

    def choices(self) -> Future[choosing.Choices]:
        return self.submit(ListChoices()).reply

    def open_chosen(self, choice: choosing.Choice, pack: str, avatar: str) -> Future[rec.Audition]:
        """Serve the chosen audition: every take filed after this is filed under it."""
        return self.submit(OpenChosen(choice, pack, avatar)).reply

    def close_audition(self) -> Future[None]:
        """Serve no audition: takes rolled after this are not filed (a review room)."""
        return self.submit(CloseAudition()).reply

    def agree(self, terms: choosing.Terms) -> Future[rec.Audition]:
        """Record the actor's consent, in their words, on the audition served."""
        return self.submit(AgreeTerms(terms)).reply

    def call(self, work: Callable[[sqlite3.Connection], T]) -> Future[T]:
        return self.submit(Call(work)).reply

    # Presentations (immersion.casting.presentations), for the feed's directors and guests.

    def create_presentation(
        self, title: str, takes: list[str], expires: dt.datetime, show_notes: bool, by: str
    ) -> Future[present.Created]:
        return self.call(lambda c: present.create(c, title, takes, expires, show_notes, by))

    def presentations(self) -> Future[list[present.Presentation]]:
        return self.call(present.list_presentations)

    def open_presentation(self, token: str) -> Future[present.Presentation]:
        """The presentation a link's token opens now, or its PresentationRefusedError."""
        return self.call(lambda c: present.find_by_token(c, token))

    def revoke_presentation(self, pid: int) -> Future[present.Presentation]:
        return self.call(lambda c: present.revoke(c, pid))

    def log_view(
        self, presentation: present.Presentation, viewer: str, take: str
    ) -> Future[present.View]:
        return self.call(lambda c: present.log_view(c, presentation, viewer, take))

    def views(self) -> Future[dict[str, list[present.View]]]:
        return self.call(present.views)

    def shown_takes(self, presentation: present.Presentation) -> Future[list[present.ShownTake]]:
        return self.call(lambda c: present.shown_takes(c, presentation))

    def file(self, ended: TakeEnded) -> None:
        """The recorder's ``on_end``: file the take under the room's audition, waiting for it
        on the recorder's thread (its queue holds seconds of poses), so a failure is told to
        directors as the recorder tells it."""
        if self.audition_id is None:
            return
        reply = self.submit(FileTake(ended, self.audition_id)).reply
        try:
            reply.result(FILE_WAIT_S)
        except TimeoutError:
            raise CastingError(f"the casting record did not answer in {FILE_WAIT_S:g} s") from None

    # The desk's thread ------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            conn = open_db(self.db)
        except CastingError as exc:
            self._opened.set_exception(exc)
            return
        try:
            if self.audition_id is not None:
                self.audition = rec.get_audition(conn, self.audition_id)
        except (CastingError, sqlite3.Error) as exc:
            conn.close()
            self._opened.set_exception(CastingError(f"--db {self.db}: {exc}"))
            return
        self._opened.set_result(None)
        try:
            self._serve(conn)
        finally:
            conn.close()

    def _serve(self, conn: sqlite3.Connection) -> None:
        """Requests as they come; between them, every REREAD_S, the audition served re-read."""
        next_read = time.monotonic() + REREAD_S
        while True:
            if time.monotonic() >= next_read:
                self._reread(conn)
                next_read = time.monotonic() + REREAD_S
            try:
                request = self._queue.get(timeout=max(0.01, next_read - time.monotonic()))
            except queue.Empty:
                continue
            if request is None:
                return
            self._carry_out(conn, request)

    def _reread(self, conn: sqlite3.Connection) -> None:
        """The audition served as the record holds it now; gone (deleted by another process),
        the room serves none, so takes are no longer filed under it. Viewers are told of any
        change."""
        if self.audition_id is None:
            return
        try:
            now: rec.Audition | None = rec.get_audition(conn, self.audition_id)
        except CastingError:  # not in the record any more
            now = None
        except sqlite3.Error as exc:  # busy or locked: the next read tries again
            log.warning("casting desk: re-reading audition %d failed (%s)", self.audition_id, exc)
            return
        if now == self.audition:
            return
        if now is None:
            log.warning(
                "audition %d is gone from the casting record: takes are no longer filed",
                self.audition_id,
            )
            self.audition_id = None
        self.audition = now
        if self.on_audition is not None:
            try:
                self.on_audition(now)
            except Exception:  # a viewer's trouble must not stop the record
                log.exception("telling viewers of the audition failed")

    def _carry_out(self, conn: sqlite3.Connection, request: Request) -> None:
        if not request.reply.set_running_or_notify_cancel():
            return
        try:
            changed: list[lib.LibraryTake] | None = None
            if isinstance(request, ListChoices | OpenChosen | CloseAudition | AgreeTerms):
                self._audition_request(conn, request)
                return
            if isinstance(request, QueryLibrary):
                request.reply.set_result(lib.query_library(conn, request.query, request.by))
                return
            if isinstance(request, Call):
                request.reply.set_result(request.work(conn))
                return
            if isinstance(request, Rate):
                changed = lib.rate(conn, request.file, request.by, request.value)
            elif isinstance(request, Select):
                changed = lib.select(conn, request.file, request.number, request.by)
            else:
                changed = _file(conn, request)
        except CastingError as exc:
            self._failed(conn, request, exc)
            return
        except sqlite3.Error as exc:
            self._failed(conn, request, CastingError(f"--db {self.db}: {exc}"))
            return
        except Exception as exc:  # a bug: this request fails, the desk goes on
            log.exception("casting desk: %s failed", type(request).__name__)
            self._failed(conn, request, CastingError(f"the casting record failed ({exc})"))
            return
        request.reply.set_result(changed)
        if changed and self.on_change is not None:
            try:
                self.on_change(changed)
            except Exception:  # a viewer's trouble must not stop the record
                log.exception("telling viewers of a library change failed")

    def _failed(self, conn: sqlite3.Connection, request: Request, exc: CastingError) -> None:
        if isinstance(request, FileTake):  # its audition may be gone: then no more filing
            self._reread(conn)  # before the answer: whoever hears of the failure sees its end
        request.reply.set_exception(exc)

    def _audition_request(self, conn: sqlite3.Connection, request: AuditionRequest) -> None:
        """The page's audition requests; whatever the desk serves changes here, on its own
        thread, so a take ending now is filed under the one before or the one after."""
        if isinstance(request, ListChoices):
            request.reply.set_result(choosing.choices(conn))
            return
        if isinstance(request, CloseAudition):
            self.audition = self.audition_id = None
            request.reply.set_result(None)
            return
        if isinstance(request, OpenChosen):
            audition = choosing.open_chosen(
                conn, request.choice, self.today(), request.pack, request.avatar
            )
        else:  # agreed to what the record holds now (a refusal sends the page that)
            self._reread(conn)
            audition = choosing.agree(conn, self.audition, request.terms, self.today())
        self.audition, self.audition_id = audition, audition.id
        request.reply.set_result(audition)


def _file(conn: sqlite3.Connection, request: FileTake) -> list[lib.LibraryTake]:
    e = request.ended
    rec.file_take(
        conn,
        request.audition_id,
        e.file,
        round(e.duration, 3),
        e.voice,
        e.talkback,
        e.rolled_by,
        e.notes,
    )
    return lib.library_takes(conn, [e.file], "")
