"""A presentation's guests on the feed: the link checked at connect (a few at a time), pictures
and voice only while the room replays their takes, their replays checked, what they were let
in to see logged, directors' requests.

The rules are :mod:`immersion.feed.presenting`'s; this is the shell on the feed's event loop
that carries them out. A guest joins the fan-out (gets frames) only while the room shows
their takes, and leaves it the moment it does not: the gate is checked before each picture
is published and on each status round (a room whose only viewers are waiting guests encodes
nothing, so the round opens it).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
import weakref
from collections.abc import Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeGuard, TypeVar

from websockets.asyncio.server import ServerConnection, broadcast
from websockets.exceptions import ConnectionClosed

from immersion.casting import presentations as present
from immersion.casting.desk import CastingDesk
from immersion.errors import CastingError
from immersion.feed import presenting as rules
from immersion.feed.protocol import (
    Codec,
    Error,
    Hello,
    PresentationControl,
    PresentationList,
    PresentationMade,
    PresentationShown,
    ReplayControl,
    ServerMessage,
    Status,
    SwitchCodec,
    encode_server,
)

if TYPE_CHECKING:
    from immersion.feed.server import Feed, Viewer

log = logging.getLogger(__name__)

DESK_ANSWER_S = 10.0
T = TypeVar("T")
RECHECK = dt.timedelta(seconds=2)  # how often open guests' presentations are read again
REFUSED = 1008  # policy violation: the page shows the error it was sent first
# Links checked at once: each asks the desk twice, and a flood of them must not fill its
# queue, where a rolled take waits to be filed. Past this a guest is refused in one line.
OPENING_AT_ONCE = 8
OPENING_FULL = "the room is answering other guests: try again in a moment"


@dataclass(frozen=True, slots=True)
class Refusal:
    """A link that does not open: ``why`` (the close reason), ``line`` (what the page shows)."""

    why: str
    line: str


@dataclass(eq=False, slots=True)
class Guest:
    viewer: Viewer
    presentation: present.Presentation
    name: str
    expires: dt.datetime
    codec: Codec | None = None  # what its page decodes (hello)
    audio: bool = False  # its page asked for the voice
    joined: bool = False  # in the fan-out: the room shows its takes now
    watching: tuple[str, ...] = ()  # the takes it was let in to see (its views logged)


class Guests:
    """The feed's guests, by viewer id. Everything here runs on the feed's event loop."""

    def __init__(self, feed: Feed) -> None:
        self.feed = feed
        self.guests: dict[int, Guest] = {}
        # The link's token and name, from the handshake to the handler.
        self._links: weakref.WeakKeyDictionary[ServerConnection, tuple[str, str]] = (
            weakref.WeakKeyDictionary()
        )
        self._checked = dt.datetime.min.replace(tzinfo=dt.UTC)  # the record, last read
        self._opening = 0  # guests whose link the desk is checking
        self._views = rules.ViewMemory()  # views logged lately: each once per 10 minutes
        self._telling = rules.Throttle()  # directors' lists after views: once a second

    def pending(self) -> int:
        """Guests let through the handshake and not yet viewers: the room's max viewers
        counts them too."""
        return len(self._links) + self._opening

    # Connecting -------------------------------------------------------------------------------

    def handshake(self, conn: ServerConnection, query: Mapping[str, list[str]]) -> None:
        """A socket opened with ``?present=TOKEN&name=NAME``: checked once it is open (the
        record answers off the loop), where the page can be told why it is refused."""
        self._links[conn] = (query.get("present", [""])[0], query.get("name", [""])[0])

    async def serve(self, viewer: Viewer) -> None:
        """One guest's connection, from the check of its link to its end."""
        conn = viewer.conn
        token, name = self._links.pop(conn, ("", ""))
        if self._opening >= OPENING_AT_ONCE:
            await self._refuse(conn, "busy", OPENING_FULL)
            return
        self._opening += 1
        try:
            guest = await self._admit(viewer, token, name)
        finally:
            self._opening -= 1
        if guest is None:
            return
        self._send_status(guest, self.feed.room.status().to_json(), self._actor_here())
        try:
            async for data in conn:
                await self.feed._on_message(viewer, data)
        except ConnectionClosed:
            pass
        finally:
            self.guests.pop(viewer.id, None)
            self.feed.viewers.pop(viewer.id, None)
            self.feed.fanout.leave(viewer.id)
            self.feed.encoder.codecs = self.feed.fanout.codecs()

    async def _admit(self, viewer: Viewer, token: str, name: str) -> Guest | None:
        """The guest welcomed and among the viewers; None: refused, told why."""
        opened = await self._open(token, name)
        if isinstance(opened, Refusal):
            await self._refuse(viewer.conn, opened.why, opened.line)
            return None
        presentation, takes, name = opened
        limits = self.feed.settings.limits.for_page()
        message = rules.presentation_message(presentation, takes, name)
        await viewer.conn.send(encode_server(PresentationShown(message, limits)))
        expires = present.parse_time(presentation.expires)
        guest = Guest(viewer, presentation, name, expires)
        self.guests[viewer.id] = guest
        self.feed.viewers[viewer.id] = viewer
        return guest

    async def _open(
        self, token: str, name: str
    ) -> tuple[present.Presentation, list[present.ShownTake], str] | Refusal:
        """The presentation, its takes and the guest's name; or why not."""
        desk = self.feed.desk
        if desk is None:
            return Refusal("unknown", "this room has no casting record: it shows no presentation")
        try:
            name = rules.viewer_name(name)
        except ValueError as exc:
            return Refusal("name", str(exc))
        try:
            found = await _wait(desk.open_presentation(token))
            takes = await _wait(desk.shown_takes(found))
        except present.PresentationRefusedError as exc:
            return Refusal(exc.why, str(exc))
        except (CastingError, TimeoutError) as exc:
            return Refusal("busy", f"the casting record did not answer ({exc or 'timed out'})")
        return found, takes, name

    async def _refuse(self, conn: ServerConnection, why: str, line: str) -> None:
        with contextlib.suppress(ConnectionClosed):
            await conn.send(encode_server(Error(line, "presentation")))
            await conn.close(REFUSED, why)

    # A guest's messages -----------------------------------------------------------------------

    def handles(
        self, event: object, viewer: Viewer
    ) -> TypeGuard[Hello | SwitchCodec | ReplayControl]:
        """Whether the guests' rules take ``viewer``'s ``event`` (a guest's hello, codec or
        replay, also from one being cut off); anything else a guest may send (clock, ack) the
        feed handles as anyone's."""
        return viewer.role == "guest" and isinstance(event, Hello | SwitchCodec | ReplayControl)

    async def on_event(self, viewer: Viewer, event: Hello | SwitchCodec | ReplayControl) -> None:
        guest = self.guests.get(viewer.id)
        if guest is None:  # revoked or expired, its socket closing: nothing more for it
            return
        if isinstance(event, Hello):
            guest.audio = event.audio
            if not event.codecs:
                await self._send(viewer, Error("hello: no codec this room sends (h264, jpeg)"))
                return
            guest.codec = event.codecs[0]
        elif isinstance(event, SwitchCodec):
            guest.codec = event.codec
        if not isinstance(event, ReplayControl):
            if guest.joined:  # a new codec: the fan-out starts it at a keyframe
                guest.joined = False
                self.feed.fanout.leave(viewer.id)
            self.gate(self.feed.picture_shows)
            return
        await self._replay(guest, event)

    async def _replay(self, guest: Guest, event: ReplayControl) -> None:
        status = self.feed.room.status()
        takes = _takes(event)
        refused = rules.refuse_replay(
            event.action,
            takes,
            guest.presentation,
            status.replay,
            status.take.rolling,
            self._actor_here(),
        )
        if refused is None:
            future = self.feed.room.replay_control(
                event.action, event.takes, event.position, align=event.align, voice=event.voice
            )
            try:
                refused = await asyncio.wait_for(asyncio.wrap_future(future), DESK_ANSWER_S)
            except TimeoutError:
                refused = f"the room did not answer within {DESK_ANSWER_S:g} s"
        if refused:
            await self._send(guest.viewer, Error(refused))
            return
        self.gate(self.feed.picture_shows)  # which logs the view, once the guest is let in

    def _actor_here(self) -> bool:
        return any(v.role == "actor" for v in self.feed.viewers.values())

    # The gate ---------------------------------------------------------------------------------

    def gate(self, shows: int | None) -> None:
        """Each guest in the fan-out exactly while the room shows its presentation's takes:
        ``shows`` is the replay start the picture about to go out shows (None: the live room),
        so a picture rendered before a replay took the avatar never reaches a guest."""
        if not self.guests:
            return
        replay = self.feed.room.status().replay
        actions = []
        now = self.feed.room.now()
        current = shows is not None and shows == self.feed.room.replay_shown()
        for guest in self.guests.values():
            show = current and guest.codec is not None and rules.shown(replay, guest.presentation)
            if show and not guest.joined:
                assert guest.codec is not None
                actions += self.feed.fanout.join(guest.viewer.id, guest.codec, now)
            elif guest.joined and not show:
                self.feed.fanout.leave(guest.viewer.id)
            guest.joined = show
            watching = rules.replayed(replay) if show else ()
            if watching != guest.watching:
                guest.watching = watching
                self._viewed(guest, watching)
        self.feed._carry_out(actions)

    def _viewed(self, guest: Guest, takes: tuple[str, ...]) -> None:
        """``guest`` let in to see ``takes``: logged, whoever started the replay (each take
        once per ten minutes per guest's name)."""
        due = self._views.due(guest.presentation.id, guest.name, takes, time.monotonic())
        if due and self.feed.desk is not None:
            self.feed._spawn(self._log(self.feed.desk, guest.presentation, guest.name, due))

    async def _log(
        self, desk: CastingDesk, presentation: present.Presentation, name: str, takes: list[str]
    ) -> None:
        try:
            for take in takes:
                await _wait(desk.log_view(presentation, name, take))
        except (CastingError, TimeoutError):
            log.exception("logging a presentation's view failed")
        self.tell_directors_soon()

    def hearing(self) -> list[Viewer]:
        """The guests that hear a replayed take's voice now: while the replay is theirs."""
        if not self.feed.room.replaying():
            return []
        if any(g.joined for g in self.guests.values()):
            self.gate(self.feed.picture_shows)  # the replay may have changed since the last picture
        return [g.viewer for g in self.guests.values() if g.joined and g.audio]

    def tick(self, status: dict[str, Any]) -> None:
        """A status round: each guest's own status; expired links closed; the gate."""
        if not self.guests:
            return
        now = present.utc_now()
        for guest in list(self.guests.values()):
            if guest.expires <= now:
                self.close(guest.presentation.id, "expired", "this presentation has expired")
        if self.feed.desk is not None and now - self._checked >= RECHECK:
            self._checked = now
            self.feed._spawn(self._recheck(self.feed.desk))
        self.gate(self.feed.picture_shows)
        actor = self._actor_here()
        for guest in self.guests.values():
            self._send_status(guest, status, actor)

    def _send_status(self, guest: Guest, status: dict[str, Any], actor: bool) -> None:
        """``status``: the feed's status of the room (its ``replay`` and ``take``)."""
        rolling = bool(status.get("take", {}).get("rolling"))
        mine = rules.guest_status(status, guest.presentation, rolling, actor)
        broadcast([guest.viewer.conn], encode_server(Status(mine)))

    async def _recheck(self, desk: CastingDesk) -> None:
        """What changed in the record outside this room (`immersion casting presentations
        revoke`, a take or actor deleted, a consent ended): guests of a presentation revoked,
        gone or left with no take are cut off; one that lost takes keeps those left."""
        try:
            found = {p.id: p for p in await _wait(desk.presentations())}
        except (CastingError, TimeoutError):
            return
        for guest in list(self.guests.values()):
            now = found.get(guest.presentation.id)
            if now is None:
                self.close(guest.presentation.id, "unknown", "this presentation was deleted")
            elif now.revoked is not None:
                self.close(now.id, "revoked", "this presentation was revoked")
            elif not now.takes:  # each one deleted, or its consent ended
                self.close(now.id, "withdrawn", present.WITHDRAWN)
            else:
                guest.presentation = now

    def close(self, pid: int, why: str, line: str) -> None:
        """Every guest of presentation ``pid`` told ``line`` and cut off at once."""
        for guest in [g for g in self.guests.values() if g.presentation.id == pid]:
            self.guests.pop(guest.viewer.id, None)
            self.feed.fanout.leave(guest.viewer.id)
            self.feed._spawn(self._refuse(guest.viewer.conn, why, line))
        self.feed.encoder.codecs = self.feed.fanout.codecs()

    # Directors --------------------------------------------------------------------------------

    async def director(self, viewer: Viewer, event: PresentationControl) -> None:
        desk = self.feed.desk
        if desk is None:
            await self._send(
                viewer, Error("presentation: this room has no casting record (serve it with --db)")
            )
            return
        try:
            if event.action == "create":
                expires = present.utc_now() + dt.timedelta(days=event.days)
                made = await _wait(
                    desk.create_presentation(
                        event.title, list(event.takes), expires, event.show_notes, viewer.role
                    )
                )
                p = made.presentation
                await self._send(viewer, PresentationMade(p.id, p.title, made.token))
            elif event.action == "revoke":
                assert event.id is not None
                revoked = await _wait(desk.revoke_presentation(event.id))
                self.close(revoked.id, "revoked", "this presentation was revoked")
            else:
                await self._send(viewer, await self._list(desk))
                return
        except (CastingError, TimeoutError) as exc:
            await self._send(viewer, Error(f"presentation: {exc or 'the record did not answer'}"))
            return
        await self.tell_directors()

    async def _list(self, desk: CastingDesk) -> PresentationList:
        found = await _wait(desk.presentations())
        seen = await _wait(desk.views())
        now = present.utc_now()
        return PresentationList([present.to_json(p, seen, now) for p in found])

    def tell_directors_soon(self) -> None:
        """Directors told of new views at most once a second, however many guests watch."""
        wait = self._telling.ask(time.monotonic())
        if wait is not None:
            self.feed._spawn(self._tell_after(wait))

    async def _tell_after(self, wait: float) -> None:
        await asyncio.sleep(wait)
        self._telling.ran(time.monotonic())
        await self.tell_directors()

    async def tell_directors(self) -> None:
        """Every director's page gets the presentations as they are now."""
        if self.feed.desk is None:
            return
        try:
            listed = await self._list(self.feed.desk)
        except (CastingError, TimeoutError):
            log.exception("listing presentations failed")
            return
        self.feed._broadcast(listed, frozenset({"director"}))

    async def _send(self, viewer: Viewer, message: ServerMessage) -> None:
        with contextlib.suppress(ConnectionClosed):
            await viewer.conn.send(encode_server(message))


def _takes(event: ReplayControl) -> list[str]:
    """The takes a replay message names (a start's: one, or several side by side)."""
    return list(event.takes)


async def _wait(future: Future[T]) -> T:
    return await asyncio.wait_for(asyncio.wrap_future(future), DESK_ANSWER_S)
