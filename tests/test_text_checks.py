"""The one check for text people type and others read (immersion/text_checks.py), and every
path that uses it refusing bidi overrides and zero-width characters in its own one line:
the feed's notes and library search, the audition messages, a guest's name, a presentation's
title, the casting record's names."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pytest

from immersion.casting import presentations as present
from immersion.casting import record as rec
from immersion.casting.db import open_db
from immersion.errors import CastingError
from immersion.feed import presenting
from immersion.feed.protocol import Reject, ViewerProtocol
from immersion.text_checks import hidden

pytestmark = pytest.mark.pure

# A right-to-left override, a zero-width space, a left-to-right isolate, a line separator.
SNEAKY = ["\u202e", "\u200b", "\u2066", "\u2028"]


@pytest.mark.parametrize("sneak", [*SNEAKY, "\x07", "\x7f", "\ue000", "\u0378", "\ufeff"])
def test_control_and_invisible_characters_are_found(sneak: str) -> None:
    assert hidden(f"Ada{sneak}Lovelace")
    assert hidden(f"Ada{sneak}Lovelace", allowed="\n\t")


def test_plain_text_in_any_script_passes_and_allowed_breaks_pass() -> None:
    assert not hidden("Ophélie — Гамлет, 哈姆雷特 (שייקספיר) 🎭")
    assert hidden("two\nlines") and not hidden("two\nlines", allowed="\n")
    assert hidden("a\tb", allowed="\n") and not hidden("a\tb", allowed="\n\t")


def _receive(role: str, message: dict[str, object]) -> object:
    return ViewerProtocol(role, 0.0).receive(json.dumps(message), 0.0)


@pytest.mark.parametrize("sneak", SNEAKY)
@pytest.mark.parametrize(
    ("role", "message", "line"),
    [
        ("director", {"type": "note", "text": "good{}take"}, "note: text has control or invisible"),
        ("director", {"type": "library", "query": "Ada{}"}, "library: query has control or invis"),
        (
            "director",
            {"type": "audition", "action": "open", "production": "Hamlet", "role": "Ophelia",
             "actor": "Ada{}Lovelace"},
            "audition: actor must be one line without control or invisible characters",
        ),
        (
            "director",
            {"type": "audition", "action": "open", "production": "Hamlet", "role": "Ophelia",
             "actor": "Ada", "use": "casting{}only"},
            "audition: use has control or invisible formatting characters",
        ),
        (
            "actor",
            {"type": "terms", "audition": 1, "use": "my{}words", "until": None, "version": 4,
             "proposed": "", "proposedUntil": None},
            "terms: use has control or invisible formatting characters",
        ),
    ],
)  # fmt: skip
def test_the_feed_refuses_them_naming_the_field(
    role: str, message: dict[str, object], line: str, sneak: str
) -> None:
    sneaky = {k: v.format(sneak) if isinstance(v, str) else v for k, v in message.items()}
    event = _receive(role, sneaky)
    assert isinstance(event, Reject) and event.reason.startswith(line), event


@pytest.mark.parametrize("sneak", SNEAKY)
def test_a_guests_name_is_refused(sneak: str) -> None:
    with pytest.raises(ValueError, match=r"^name: control or invisible characters$"):
        presenting.viewer_name(f"Sam{sneak}Producer")


@pytest.mark.parametrize("sneak", SNEAKY)
def test_a_presentations_title_and_viewer_are_refused(sneak: str, tmp_path: Path) -> None:
    """Called directly (not through the feed's checks): the record refuses them itself."""
    conn = open_db(tmp_path / "casting.db")
    try:
        expires = dt.datetime(2027, 1, 1, tzinfo=dt.UTC)
        with pytest.raises(CastingError, match=r"^title .*: give 1 to .* printable characters$"):
            present.create(conn, f"Call{sneak}backs", ["t.jsonl"], expires)
        assert conn.execute("SELECT count(*) FROM presentations").fetchone()[0] == 0
        shown = present.Presentation(1, "Callbacks", "", "", "", None, False, ("t.jsonl",))
        with pytest.raises(CastingError, match=r"^viewer .*: give 1 to"):
            present.log_view(conn, shown, f"Sam{sneak}Producer", "t.jsonl")
    finally:
        conn.close()


@pytest.mark.parametrize("sneak", SNEAKY)
def test_the_records_names_are_refused(sneak: str, tmp_path: Path) -> None:
    conn = open_db(tmp_path / "casting.db")
    try:
        line = re.escape("give 1 to 200 printable characters on one line")
        with pytest.raises(CastingError, match=f"^actor .*{line}$"):
            rec.add_actor(conn, f"Ada{sneak}Lovelace")
        with pytest.raises(CastingError, match=f"^production .*{line}$"):
            rec.add_production(conn, f"Ham{sneak}let")
        assert rec.list_actors(conn) == [] and rec.list_productions(conn) == []
    finally:
        conn.close()
