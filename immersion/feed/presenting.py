"""A presentation's guests in the room, as rules: values in, decisions out. No I/O here.

The room has one stage. A guest (someone outside the room holding a presentation's link) sees
and hears it only while it replays takes that are all in their presentation: never the live
room. A guest may start a replay of their takes only when the room is not in an audition (no
take rolling, no actor's page connected) and not replaying others' takes; pause, resume, seek,
stop and the voice switch only a replay of their own takes. Guests of one presentation share
its playback: a screening, not a private copy each.

:mod:`immersion.feed.guests` carries these decisions out on the feed's loop.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from immersion.casting.presentations import VIEWER_CHARS, Presentation, ShownTake
from immersion.text_checks import hidden

SHOWN_STATES = ("playing", "paused")  # a replay still loading shows the live avatar
IN_AUDITION = "the room is in an audition: a replay can start when it ends"
OTHERS_PLAYING = "the room is replaying other takes: a replay can start when they stop"
NOTHING_OF_YOURS = "nothing of this presentation is playing"


def replayed(replay: Mapping[str, Any] | None) -> tuple[str, ...]:
    """The take files a status's ``replay`` plays (``takes`` [{take}] or one ``take``)."""
    if not replay or replay.get("state", "stopped") == "stopped":
        return ()
    takes = replay.get("takes")
    if isinstance(takes, list) and takes:
        return tuple(str(t.get("take")) for t in takes if isinstance(t, Mapping))
    take = replay.get("take")
    return (str(take),) if isinstance(take, str) else ()


def ours(replay: Mapping[str, Any] | None, presentation: Presentation) -> bool:
    """Whether the room's replay plays takes of this presentation and nothing else."""
    takes = replayed(replay)
    return bool(takes) and set(takes) <= set(presentation.takes)


def shown(replay: Mapping[str, Any] | None, presentation: Presentation) -> bool:
    """Whether the room's picture and voice go to this presentation's guests now."""
    return ours(replay, presentation) and replay is not None and replay["state"] in SHOWN_STATES


def busy(
    replay: Mapping[str, Any] | None, rolling: bool, actor: bool, presentation: Presentation
) -> str | None:
    """Why a guest cannot start a replay now (None: they can)."""
    if rolling or actor:
        return IN_AUDITION
    if replayed(replay) and not ours(replay, presentation):
        return OTHERS_PLAYING
    return None


def refuse_replay(
    action: str,
    takes: Sequence[str],
    presentation: Presentation,
    replay: Mapping[str, Any] | None,
    rolling: bool,
    actor: bool,
) -> str | None:
    """Why a guest's ``replay`` message is refused, in one line (None: carry it out)."""
    if action == "start":
        outside = [t for t in takes if t not in presentation.takes]
        if outside:
            return f"replay: take {outside[0]!r} is not in this presentation"
        if not takes:
            return "replay: choose a take of this presentation"
        why = busy(replay, rolling, actor, presentation)
        return f"replay: {why}" if why else None
    if not ours(replay, presentation):
        return f"replay: {NOTHING_OF_YOURS}"
    return None


def guest_status(
    status: Mapping[str, Any], presentation: Presentation, rolling: bool, actor: bool
) -> dict[str, Any]:
    """What a guest is told several times a second: the room's clock, the replay when it is
    of their takes (its marks only when the presentation shows notes), and why they cannot
    start one now. Nothing else of the room: no scene, takes, viewers or actor."""
    replay = status.get("replay")
    out: dict[str, Any] = {"now": status.get("now", 0.0), "replay": None}
    if ours(replay, presentation) and replay is not None:
        # New dicts all the way down: the status is shared by every guest of the round.
        out["replay"] = replay if presentation.show_notes else _unmarked(replay)
    out["busy"] = busy(replay, rolling, actor, presentation)
    return out


def _unmarked(replay: Mapping[str, Any]) -> dict[str, Any]:
    """``replay`` without its marks (nor its takes'), built anew: the room's status is left
    as it was for the next guest."""
    out = {k: v for k, v in replay.items() if k != "marks"}
    takes = replay.get("takes")
    if isinstance(takes, list):
        out["takes"] = [
            {k: v for k, v in t.items() if k != "marks"} if isinstance(t, Mapping) else t
            for t in takes
        ]
    return out


VIEW_AGAIN_S = 600.0  # a guest watching a take again within this is not a new view
TELL_EVERY_S = 1.0  # directors' lists of presentations, at most this often for views


class ViewMemory:
    """Which (presentation, viewer, take) views were logged, and when: each at most once per
    :data:`VIEW_AGAIN_S`, so a guest starting replays over and over adds no rows. Times are
    the loop's monotonic seconds; old entries are dropped as new ones come."""

    def __init__(self, again_s: float = VIEW_AGAIN_S) -> None:
        self.again_s = again_s
        self._logged: dict[tuple[int, str, str], float] = {}  # oldest first

    def due(self, presentation: int, viewer: str, takes: Sequence[str], now: float) -> list[str]:
        """The ``takes`` to log now (each remembered as logged at ``now``)."""
        while self._logged:
            key, at = next(iter(self._logged.items()))
            if now - at < self.again_s:
                break
            del self._logged[key]
        out = []
        for take in dict.fromkeys(takes):
            key = (presentation, viewer, take)
            if key not in self._logged:
                self._logged[key] = now
                out.append(take)
        return out

    def __len__(self) -> int:
        return len(self._logged)


class Throttle:
    """At most one run per ``every_s``, the asks between coalesced into one: ``ask`` says how
    long to wait before running (None: a run is already waiting, that one will do)."""

    def __init__(self, every_s: float = TELL_EVERY_S) -> None:
        self.every_s = every_s
        self._last = -float("inf")
        self._waiting = False

    def ask(self, now: float) -> float | None:
        if self._waiting:
            return None
        self._waiting = True
        return max(0.0, self._last + self.every_s - now)

    def ran(self, now: float) -> None:
        self._waiting, self._last = False, now


def viewer_name(value: str | None) -> str:
    """The name a guest gave (the link's ``name``): 1 to 80 printable characters; raises
    ValueError with the line to show."""
    name = (value or "").strip()
    if not name:
        raise ValueError("name: say who is watching (the page asks once)")
    if len(name) > VIEWER_CHARS:
        raise ValueError(f"name: at most {VIEWER_CHARS} characters")
    if hidden(name):
        raise ValueError("name: control or invisible characters")
    return name


def presentation_message(
    presentation: Presentation, takes: list[ShownTake], viewer: str
) -> dict[str, Any]:
    """The guest's welcome: the presentation's own takes (role, actor, duration; notes only
    when shown), never a token or another take."""
    return {
        "title": presentation.title,
        "expires": presentation.expires,
        "showNotes": presentation.show_notes,
        "viewer": viewer,
        "takes": [
            {k: v for k, v in t.to_json().items() if presentation.show_notes or k != "notes"}
            for t in takes
        ],
    }
