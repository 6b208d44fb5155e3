"""The protocol's audition messages: JSON objects in, typed events out; no I/O.

Directors choose the audition the room files its takes under, and the actor's page sends the
actor's consent to the use of those takes in their own words (see
:mod:`immersion.casting.choosing`). :mod:`immersion.feed.protocol` checks the sender's role and
rate and hands the object here; a :class:`FieldError` names the field at fault.

  * directors: ``audition`` {action: "choices"} (answered with ``auditionChoices``
    {productions, roles: [{production, name, pack, avatar}], actors}); ``audition`` {action:
    "open", production, role, actor, add?: ["production"|"role"|"actor", ...], pack?, avatar?
    (a new role's; the room's own when left out), contact?, agent? (a new actor's), use?,
    until?: "YYYY-MM-DD"|null (the use of the takes proposed to the actor)}; ``audition``
    {action: "close"} (takes are no longer filed). Refused while a take rolls.
  * the actor: ``terms`` {audition, use, until: "YYYY-MM-DD"|null, version, proposed,
    proposedUntil} (what the actor agrees to, for the audition and the proposal of its use
    their page showed: a proposal changed since is refused, "read it again").
  * to everyone, on connecting (in a room with a casting record) and at each change:
    ``audition`` {audition: {id, production, role, actor, date, consent, consentUntil,
    proposed, proposedUntil, consentAt, consentVersion} | null}.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from immersion.casting.choosing import ADDABLE, USE_CHARS, Choice, Choices, Terms
from immersion.casting.record import NAME_CHARS, Audition, to_json
from immersion.text_checks import hidden

AUDITION_ACTIONS = ("choices", "open", "close")
DETAIL_CHARS = 200  # a new actor's contact or agent: one line
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_OPEN_FIELDS = frozenset(
    {"type", "action", "production", "role", "actor", "add", "pack", "avatar", "contact",
     "agent", "use", "until"}
)  # fmt: skip


class FieldError(ValueError):
    """A field of an audition message that is wrong; the text names it."""


@dataclass(frozen=True, slots=True)
class AuditionControl:
    """A director lists what can be chosen, opens the chosen audition, or closes it."""

    action: str
    choice: Choice | None = None  # with "open" only


@dataclass(frozen=True, slots=True)
class TermsAgreed:
    """The actor agreed to the use of their takes (their page's ``terms``)."""

    terms: Terms


@dataclass(frozen=True, slots=True)
class AuditionShown:
    """To everyone: the audition the room serves (a record row as JSON), or None."""

    kind: ClassVar[str] = "audition"
    audition: Mapping[str, Any] | None


@dataclass(frozen=True, slots=True)
class AuditionChoices:
    """To the director who asked: what the record holds to choose from."""

    kind: ClassVar[str] = "auditionChoices"
    productions: Sequence[str]
    roles: Sequence[Mapping[str, Any]]
    actors: Sequence[str]


def shown(audition: Audition | None) -> AuditionShown:
    return AuditionShown(to_json(audition) if audition is not None else None)


def listed(choices: Choices) -> AuditionChoices:
    found = choices.to_json()
    return AuditionChoices(found["productions"], found["roles"], found["actors"])


def parse_audition(data: Mapping[str, Any]) -> AuditionControl:
    action = data.get("action")
    if action not in AUDITION_ACTIONS:
        raise FieldError(f"action must be one of {', '.join(AUDITION_ACTIONS)}")
    if action != "open":
        extra = next((k for k in data if k not in ("type", "action")), None)
        if extra is not None:
            raise FieldError(f"{str(extra)[:40]} comes with open only")
        return AuditionControl(action)
    unknown = next((k for k in data if k not in _OPEN_FIELDS), None)
    if unknown is not None:
        raise FieldError(f"{str(unknown)[:40]} is not a field of open")
    add = data.get("add", [])
    if not isinstance(add, list) or any(a not in ADDABLE for a in add):
        raise FieldError(f"add must be a list of {', '.join(ADDABLE)}")
    new = frozenset(add)
    for key, owner in (("pack", "role"), ("avatar", "role"), ("contact", "actor"),
                       ("agent", "actor")):  # fmt: skip
        if key in data and owner not in new:
            raise FieldError(f"{key} comes with a new {owner} only (add: [{owner!r}])")
    choice = Choice(
        production=_line(data, "production", NAME_CHARS),
        role=_line(data, "role", NAME_CHARS),
        actor=_line(data, "actor", NAME_CHARS),
        add=new,
        pack=_line(data, "pack", NAME_CHARS) if data.get("pack") is not None else None,
        avatar=_line(data, "avatar", NAME_CHARS) if data.get("avatar") is not None else None,
        contact=_line(data, "contact", DETAIL_CHARS, required=False),
        agent=_line(data, "agent", DETAIL_CHARS, required=False),
        use=_words(data, "use", required=False),
        until=_date(data, "until"),
    )
    return AuditionControl("open", choice)


def parse_terms(data: Mapping[str, Any]) -> TermsAgreed:
    audition = data.get("audition")
    if type(audition) is not int or audition < 1:
        raise FieldError("audition must be the id of the audition the page showed")
    version = data.get("version")
    if type(version) is not int or not 0 < version < 1000:
        raise FieldError("version must be the consent text's version number")
    for key in ("until", "proposedUntil"):
        if key not in data:
            raise FieldError(f'{key} must be a day "YYYY-MM-DD", or null for no end')
    if "proposed" not in data:
        raise FieldError("proposed must be the proposed use the page showed")
    terms = Terms(
        audition,
        _words(data, "use"),
        _date(data, "until"),
        version,
        _words(data, "proposed", required=False),
        _date(data, "proposedUntil"),
    )
    return TermsAgreed(terms)


def _line(data: Mapping[str, Any], key: str, limit: int, required: bool = True) -> str:
    value = data.get(key, None if required else "")
    if not isinstance(value, str) or (required and not value.strip()):
        raise FieldError(f"{key} must be {'a non-empty' if required else 'a'} string")
    if len(value) > limit:
        raise FieldError(f"{key} is over {limit} characters")
    if hidden(value):
        raise FieldError(f"{key} must be one line without control or invisible characters")
    return value.strip()


def _words(data: Mapping[str, Any], key: str, required: bool = True) -> str:
    """A paragraph: line breaks allowed, nothing invisible."""
    value = data.get(key, None if required else "")
    if not isinstance(value, str) or (required and not value.strip()):
        raise FieldError(f"{key} must be {'a non-empty' if required else 'a'} string")
    if len(value) > USE_CHARS:
        raise FieldError(f"{key} is over {USE_CHARS} characters")
    if hidden(value, "\n"):
        raise FieldError(f"{key} has control or invisible formatting characters")
    return value.strip()


def _date(data: Mapping[str, Any], key: str) -> dt.date | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        raise FieldError(f'{key} must be a day "YYYY-MM-DD", or null for no end')
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise FieldError(f"{key} {value}: no such day") from None
