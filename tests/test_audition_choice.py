"""The audition chosen on the page and the actor's consent in their words: the casting desk's
requests on a real SQLite file, and the ``audition`` and ``terms`` messages as the feed
protocol parses them."""

from __future__ import annotations

import datetime as dt
import json
import queue
import re
import sqlite3
from pathlib import Path

import pytest

from immersion.casting import choosing
from immersion.casting import desk as desk_module
from immersion.casting import record as rec
from immersion.casting.db import migrations, open_db, schema_version
from immersion.casting.deletion import delete_actor, purge_expired
from immersion.casting.desk import CastingDesk
from immersion.errors import CastingError
from immersion.feed.audition_wire import AuditionControl, TermsAgreed, shown
from immersion.feed.protocol import Reject, ViewerProtocol, encode_server
from immersion.room.recorder import TakeEnded

pytestmark = pytest.mark.pure

DAY = dt.date(2026, 11, 26)


def _receive(role: str, message: dict[str, object]) -> object:
    return ViewerProtocol(role, 0.0).receive(json.dumps(message), 0.0)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """Hamlet with Ophelia; Ada is in the record."""
    path = tmp_path / "casting.db"
    conn = open_db(path)
    rec.add_production(conn, "Hamlet")
    rec.add_role(conn, "Hamlet", "Ophelia", "noir-office", "ada")
    rec.add_actor(conn, "Ada Lovelace", "ada@example.org")
    conn.close()
    return path


@pytest.fixture
def desk(db: Path) -> CastingDesk:
    d = CastingDesk(db)
    d.today = lambda: DAY
    d.start()
    return d


def test_a_director_opens_a_new_audition_and_takes_are_filed_under_it(
    db: Path, desk: CastingDesk
) -> None:
    try:
        desk.file(TakeEnded("before.jsonl", 1.0, None, None, "director", None))  # review room
        choice = choosing.Choice(
            "Macbeth", "Lady Macbeth", "Bo Diddley", frozenset(choosing.ADDABLE),
            contact="bo@example.org", agent="Chess", use="Macbeth's casting only",
            until=DAY + dt.timedelta(days=30),
        )  # fmt: skip
        opened = desk.open_chosen(choice, "noir-office", "detective").result(5)
        assert (opened.role, opened.actor, opened.production) == (
            "Lady Macbeth", "Bo Diddley", "Macbeth",
        )  # fmt: skip
        assert opened.date == DAY.isoformat() and desk.audition == opened
        assert (opened.proposed, opened.proposed_until) == ("Macbeth's casting only", "2026-12-26")
        assert opened.consent_at is None  # proposed, not yet agreed
        desk.file(TakeEnded("after.jsonl", 2.0, None, None, "director", None))
        listed = desk.choices().result(5)
        assert listed.productions == ("Hamlet", "Macbeth")
        assert listed.actors == ("Ada Lovelace", "Bo Diddley")
        role = next(r for r in listed.roles if r.name == "Lady Macbeth")
        assert (role.pack, role.avatar) == ("noir-office", "detective")  # the room's
        # The same choice again today is the same audition; a close stops the filing.
        again = choosing.Choice("Macbeth", "Lady Macbeth", "Bo Diddley")
        assert desk.open_chosen(again, "x", "y").result(5).id == opened.id
        desk.close_audition().result(5)
        assert desk.audition is None
        desk.file(TakeEnded("closed.jsonl", 1.0, None, None, "director", None))
    finally:
        desk.stop()
    conn = open_db(db)
    view = rec.show_audition(conn, rec.get_audition(conn, opened.id))
    assert [t.file for t in view.takes] == ["after.jsonl"]
    for file in ("before.jsonl", "closed.jsonl"):
        with pytest.raises(CastingError, match="not in the casting record"):
            rec.find_take(conn, file)
    actor = rec.need_actor(conn, "Bo Diddley")
    assert (actor.contact, actor.agent) == ("bo@example.org", "Chess")
    conn.close()


@pytest.mark.parametrize(
    ("choice", "error"),
    [
        (choosing.Choice("Hamlet", "Yorick", "Ada Lovelace"), "no role 'Yorick' (roles: Ophelia)"),
        (choosing.Choice("Lear", "Ophelia", "Ada Lovelace"), "no production 'Lear'"),
        (choosing.Choice("Hamlet", "Ophelia", "Ada L."), "no actor 'Ada L.' (actors: Ada"),
        (
            choosing.Choice("Hamlet", "Ophelia", "Ada Lovelace", frozenset({"actor"})),
            "actor 'Ada Lovelace' exists already",
        ),
        (
            choosing.Choice("Hamlet", "Ophelia", "Bo", frozenset({"production", "actor"})),
            "production 'Hamlet' exists already",
        ),
        (
            choosing.Choice("Hamlet", "Ophelia", "Ada Lovelace", until=DAY - dt.timedelta(1)),
            "until 2026-11-25: a day from today (2026-11-26) on",
        ),
    ],
)
def test_a_choice_that_does_not_fit_the_record_changes_nothing(
    db: Path, desk: CastingDesk, choice: choosing.Choice, error: str
) -> None:
    try:
        with pytest.raises(CastingError, match=re.escape(error)):
            desk.open_chosen(choice, "noir-office", "ada").result(5)
        assert desk.audition is None
    finally:
        desk.stop()
    conn = open_db(db)  # all or nothing: a half-added choice leaves no row
    assert [p.name for p in rec.list_productions(conn)] == ["Hamlet"]
    assert [a.name for a in rec.list_actors(conn)] == ["Ada Lovelace"]
    assert conn.execute("SELECT count(*) FROM auditions").fetchone()[0] == 0
    conn.close()


def test_the_actors_words_are_recorded_and_their_end_drives_the_purge(
    db: Path, desk: CastingDesk, tmp_path: Path
) -> None:
    try:
        opened = desk.open_chosen(
            choosing.Choice("Hamlet", "Ophelia", "Ada Lovelace"), "noir-office", "ada"
        ).result(5)
        assert opened.proposed == choosing.DEFAULT_USE  # none given: the default
        words = "Hamlet's casting only; not to train any model"
        until = DAY + dt.timedelta(days=10)
        terms = choosing.Terms(opened.id, words, until, 4, opened.proposed, None)
        agreed = desk.agree(terms).result(5)
        assert (agreed.consent, agreed.consent_until, agreed.consent_version) == (
            words, until.isoformat(), 4,
        )  # fmt: skip
        assert agreed.consent_at is not None and desk.audition == agreed
        stale = choosing.Terms(opened.id + 1, "anything", None, 4, opened.proposed, None)
        with pytest.raises(CastingError, match=r"no longer the room's .*read its terms again"):
            desk.agree(stale).result(5)
        past = choosing.Terms(opened.id, "x", DAY - dt.timedelta(1), 4, opened.proposed, None)
        with pytest.raises(CastingError, match="until 2026-11-25"):
            desk.agree(past).result(5)
        desk.file(TakeEnded("t.jsonl", 1.0, None, None, "director", None))
    finally:
        desk.stop()
    (tmp_path / "t.jsonl").write_text("{}\n")
    conn = open_db(db)
    assert purge_expired(conn, tmp_path, until).rows["takes"] == 0  # the last day: kept
    removed = purge_expired(conn, tmp_path, until + dt.timedelta(1))
    assert removed.rows["auditions"] == 1 and not (tmp_path / "t.jsonl").exists()
    conn.close()


def test_a_desk_with_no_audition_refuses_terms(desk: CastingDesk) -> None:
    try:
        with pytest.raises(CastingError, match="no audition is open"):
            desk.agree(choosing.Terms(1, "x", None, 4, "", None)).result(5)
    finally:
        desk.stop()


def test_a_version_1_record_is_migrated_keeping_its_consent(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    old = sqlite3.connect(path)
    old.executescript(migrations()[0][1])
    old.executescript(
        "INSERT INTO productions VALUES (1, 'Hamlet', '2026-01-01');"
        "INSERT INTO roles VALUES (1, 1, 'Ophelia', 'noir', 'ada', '');"
        "INSERT INTO actors VALUES (1, 'Ada', '', '');"
        "INSERT INTO auditions VALUES (1, 1, 1, '2026-11-26', 'casting only', '2026-12-31');"
        "PRAGMA user_version = 1;"
    )
    old.close()
    conn = open_db(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == schema_version() >= 2
    audition = rec.get_audition(conn, 1)
    assert (audition.consent, audition.consent_until) == ("casting only", "2026-12-31")
    assert (audition.proposed, audition.consent_at, audition.consent_version) == ("", None, None)
    conn.close()


@pytest.mark.parametrize(
    ("message", "event"),
    [
        ({"type": "audition", "action": "choices"}, AuditionControl("choices")),
        ({"type": "audition", "action": "close"}, AuditionControl("close")),
        (
            {"type": "audition", "action": "open", "production": " Hamlet ", "role": "Ophelia",
             "actor": "Ada"},
            AuditionControl("open", choosing.Choice("Hamlet", "Ophelia", "Ada")),
        ),
        (
            {"type": "audition", "action": "open", "production": "Lear", "role": "Cordelia",
             "actor": "Bo", "add": ["production", "role", "actor"], "pack": "noir",
             "contact": "bo@example.org", "use": "Lear's casting\nonly", "until": "2027-01-31"},
            AuditionControl("open", choosing.Choice(
                "Lear", "Cordelia", "Bo", frozenset(choosing.ADDABLE), pack="noir",
                contact="bo@example.org", use="Lear's casting\nonly", until=dt.date(2027, 1, 31),
            )),
        ),
        (
            {"type": "terms", "audition": 3, "use": "my words", "until": None, "version": 4,
             "proposed": "casting only", "proposedUntil": "2027-01-31"},
            TermsAgreed(choosing.Terms(3, "my words", None, 4, "casting only",
                                       dt.date(2027, 1, 31))),
        ),
    ],
)  # fmt: skip
def test_audition_messages_parse(message: dict[str, object], event: object) -> None:
    role = "actor" if message["type"] == "terms" else "director"
    assert _receive(role, message) == event


OPEN = {"type": "audition", "action": "open", "production": "P", "role": "R", "actor": "A"}


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        ({"type": "audition"}, "audition: action must be one of choices, open, close"),
        ({"type": "audition", "action": "close", "role": "R"}, "audition: role comes with open"),
        ({**OPEN, "role": ""}, "audition: role must be a non-empty string"),
        ({**OPEN, "actor": "x" * 201}, "audition: actor is over 200 characters"),
        ({**OPEN, "actor": "A\nB"}, "audition: actor must be one line"),
        ({**OPEN, "add": ["role", "take"]}, "audition: add must be a list of production, role"),
        ({**OPEN, "pack": "noir"}, "audition: pack comes with a new role only"),
        ({**OPEN, "agent": "X"}, "audition: agent comes with a new actor only"),
        ({**OPEN, "use": "u" * 1001}, "audition: use is over 1000 characters"),
        ({**OPEN, "use": "a\u202eb"}, "audition: use has control or invisible"),
        ({**OPEN, "until": "31/01/2027"}, 'audition: until must be a day "YYYY-MM-DD"'),
        ({**OPEN, "until": "2027-02-30"}, "audition: until 2027-02-30: no such day"),
        ({**OPEN, "colour": "red"}, "audition: colour is not a field of open"),
    ],
)
def test_bad_audition_messages_are_refused_naming_the_field(
    message: dict[str, object], reason: str
) -> None:
    event = _receive("director", message)
    assert isinstance(event, Reject) and event.reason.startswith(reason), event


TERMS = {"type": "terms", "audition": 1, "use": "x", "until": None, "version": 4,
         "proposed": "", "proposedUntil": None}  # fmt: skip


def _without(key: str) -> dict[str, object]:
    return {k: v for k, v in TERMS.items() if k != key}


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        (_without("audition"), "terms: audition must be"),
        (_without("use"), "terms: use must be a"),
        (_without("until"), "terms: until must be a day"),
        (_without("version"), "terms: version must be"),
        ({**TERMS, "audition": True}, "terms: audition must be"),
        # The proposal the page showed: the room refuses agreeing to one changed since.
        (_without("proposed"), "terms: proposed must be the proposed use the page showed"),
        (_without("proposedUntil"), "terms: proposedUntil must be a day"),
        ({**TERMS, "proposed": "p" * 1001}, "terms: proposed is over 1000 characters"),
        ({**TERMS, "proposed": "casting\u200b only"}, "terms: proposed has control or invisible"),
        ({**TERMS, "proposedUntil": "soon"}, "terms: proposedUntil must be a day"),
    ],
)
def test_bad_terms_are_refused_naming_the_field(message: dict[str, object], reason: str) -> None:
    event = _receive("actor", message)
    assert isinstance(event, Reject) and event.reason.startswith(reason), event


def test_the_audition_is_chosen_by_directors_and_agreed_by_the_actor() -> None:
    assert _receive("observer", {"type": "audition", "action": "choices"}) == Reject(
        "audition: only directors steer the room"
    )
    assert _receive("actor", {**OPEN}) == Reject("audition: only directors steer the room")
    for role in ("director", "observer"):
        assert _receive(role, TERMS) == Reject("terms: only the actor's page sends this")


def test_everyone_is_sent_the_audition_as_the_record_holds_it(db: Path) -> None:
    conn = open_db(db)
    role, actor = rec.find_role(conn, "Ophelia"), rec.need_actor(conn, "Ada Lovelace")
    audition = rec.open_audition(conn, role, actor, DAY)
    conn.close()
    sent = json.loads(encode_server(shown(audition)))
    assert sent == {
        "type": "audition",
        "audition": {
            "id": audition.id, "actor": "Ada Lovelace", "role": "Ophelia", "production": "Hamlet",
            "date": "2026-11-26", "consent": "", "consentUntil": None, "proposed": "",
            "proposedUntil": None, "consentAt": None, "consentVersion": None,
        },
    }  # fmt: skip
    assert json.loads(encode_server(shown(None))) == {"type": "audition", "audition": None}


def _open(desk: CastingDesk, use: str = "", until: dt.date | None = None) -> rec.Audition:
    choice = choosing.Choice("Hamlet", "Ophelia", "Ada Lovelace", use=use, until=until)
    return desk.open_chosen(choice, "noir-office", "ada").result(5)


def test_consent_to_a_proposal_changed_since_the_page_showed_it_is_refused(
    desk: CastingDesk,
) -> None:
    """The director reopens the same audition with another use: its id stays, so the page's
    audition id alone would let the actor agree to words they never read."""
    try:
        first = _open(desk, "Hamlet's casting only")
        later = DAY + dt.timedelta(days=20)
        second = _open(desk, "Hamlet's casting and its trailer", later)
        assert second.id == first.id and second.proposed_until == later.isoformat()
        read = choosing.Terms(first.id, first.proposed, None, 4, first.proposed, None)
        with pytest.raises(CastingError, match=r"^the proposed use changed; read it again$"):
            desk.agree(read).result(5)
        assert desk.audition == second and second.consent_at is None  # nothing agreed
        # The same text with another end is another proposal too.
        stale_end = choosing.Terms(first.id, second.proposed, None, 4, second.proposed, None)
        with pytest.raises(CastingError, match="the proposed use changed"):
            desk.agree(stale_end).result(5)
        agreed = desk.agree(
            choosing.Terms(first.id, second.proposed, later, 4, second.proposed, later)
        ).result(5)
        assert (agreed.consent, agreed.consent_until) == (second.proposed, later.isoformat())
    finally:
        desk.stop()


def test_reopening_with_only_a_new_end_keeps_the_use_and_applies_the_end(
    desk: CastingDesk,
) -> None:
    try:
        first = _open(desk, "Hamlet's casting only")
        later = DAY + dt.timedelta(days=7)
        again = _open(desk, "", later)
        assert (again.proposed, again.proposed_until) == (first.proposed, later.isoformat())
        kept = _open(desk)  # nothing new: the proposal as it is
        assert (kept.proposed, kept.proposed_until) == (first.proposed, later.isoformat())
    finally:
        desk.stop()


def _deleted_elsewhere(db: Path, tmp_path: Path) -> None:
    """``immersion casting delete-actor`` in another process: its own connection."""
    conn = open_db(db)
    delete_actor(conn, tmp_path, "Ada Lovelace")
    conn.close()


def _desk(db: Path, reread_s: float, monkeypatch: pytest.MonkeyPatch) -> CastingDesk:
    monkeypatch.setattr(desk_module, "REREAD_S", reread_s)
    d = CastingDesk(db)
    d.today = lambda: DAY
    return d


def test_the_desk_drops_an_audition_deleted_by_another_process_when_filing_fails(
    db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    desk = _desk(db, 3600.0, monkeypatch)  # no timed re-read: the failed filing looks again
    told: list[rec.Audition | None] = []
    desk.on_audition = told.append
    desk.start()
    try:
        opened = _open(desk)
        desk.file(TakeEnded("kept.jsonl", 1.0, None, None, "director", None))
        _deleted_elsewhere(db, tmp_path)
        with pytest.raises(CastingError):
            desk.file(TakeEnded("lost.jsonl", 1.0, None, None, "director", None))
        # The failure had the desk look again: the audition is gone, for every viewer.
        assert told == [None] and desk.audition is None and desk.audition_id is None
        desk.file(TakeEnded("later.jsonl", 1.0, None, None, "director", None))  # not filed
        with pytest.raises(CastingError, match="no audition is open"):
            desk.agree(choosing.Terms(opened.id, "x", None, 4, opened.proposed, None)).result(5)
    finally:
        desk.stop()
    conn = open_db(db)
    assert conn.execute("SELECT count(*) FROM takes").fetchone()[0] == 0
    conn.close()


def test_the_desk_rereads_its_audition_every_few_seconds(
    db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    d = _desk(db, 0.05, monkeypatch)
    told: queue.Queue[rec.Audition | None] = queue.Queue()
    d.on_audition = told.put
    d.start()
    try:
        _open(d)
        assert told.empty()  # opened on the page: the feed tells everyone itself
        _deleted_elsewhere(db, tmp_path)
        assert told.get(timeout=5) is None  # no take needed: the timed re-read saw it
        assert d.audition is None and d.audition_id is None
    finally:
        d.stop()
