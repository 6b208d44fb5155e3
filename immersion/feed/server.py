"""The mirror feed over websockets: the casting page over HTTP(S), then one socket per viewer.

A thin asyncio shell round two cores that do no I/O: :mod:`~immersion.feed.protocol` turns
each viewer's messages into events, :mod:`~immersion.feed.fanout` decides which bytes go to
which viewer. This module moves bytes and carries out their decisions. Frames are written
straight to each socket from the event loop (no task or queue per viewer); the fan-out's ack
window bounds what a socket holds, and websockets' ``broadcast()`` never waits for a slow one.

HTTP is only the pages: GET and HEAD, the casting page's and the actor page's files, the
in-browser pose model's files (MediaPipe Tasks for Web and the room's own pose bundles, from
the set-up's cache, by fixed names only), and ``/feed``, which needs a role's token and, from a
browser, an ``Origin`` naming one of the room's own host names (not merely the request's own
``Host``, which a DNS-rebinding page controls).

The actor's page is a viewer too (it sees the room's picture) that also sends: its landmarks
go to the room, its voice to the room and to every viewer that asked for audio; a director's
talkback goes to the actor's page only.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import itertools
import logging
import ssl
import threading
import weakref
from collections import deque
from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from dataclasses import dataclass, replace
from http import HTTPStatus
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import numpy as np
from websockets.asyncio.server import Server, ServerConnection, broadcast, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.protocol import State

from capture.cache import models_dir, tasks_vision_dir
from immersion.casting.choosing import Choices
from immersion.casting.desk import CastingDesk
from immersion.casting.library import LibraryQuery, LibraryTake
from immersion.casting.record import Audition
from immersion.config import EncoderSettings, FeedSettings
from immersion.errors import CastingError
from immersion.feed import audition_wire
from immersion.feed.audition_wire import AuditionControl, TermsAgreed
from immersion.feed.encoders import EncodedFrame, PictureEncoder
from immersion.feed.fanout import Action, Drop, FanOut, NeedKeyframe, Send
from immersion.feed.guests import Guests
from immersion.feed.port import RoomPort
from immersion.feed.protocol import (
    Ack,
    ActorCue,
    ActorPose,
    AudioPacket,
    AudioSource,
    Calibrate,
    Clock,
    ClockReply,
    Consent,
    Cue,
    Cued,
    Error,
    Hello,
    Leave,
    LibraryChanged,
    LibraryList,
    LibraryRequest,
    Marker,
    Note,
    NoteUpdate,
    PictureSize,
    PresentationControl,
    RateTake,
    ReaderControl,
    Reject,
    ReplayControl,
    Scroll,
    SelectTake,
    ServerMessage,
    Sides,
    SidesShown,
    Status,
    Steer,
    SwitchCodec,
    TakeControl,
    Takes,
    TakeUpdate,
    ViewerProtocol,
    Voice,
    Welcome,
    encode_audio,
    encode_server,
)
from immersion.room.messages import (
    Command,
    CueToActor,
    NoteAdded,
    Picture,
    Problem,
    ReaderVoice,
    RoomEvent,
    SidesChanged,
    SwitchAvatar,
    SwitchCamera,
    SwitchScene,
    TakeChanged,
    VoiceOut,
)

log = logging.getLogger(__name__)

PAGE_FILES = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/app.js": ("app.js", "text/javascript; charset=utf-8"),
    "/decoder.js": ("decoder.js", "text/javascript; charset=utf-8"),
    "/audio.js": ("audio.js", "text/javascript; charset=utf-8"),
    "/prompter.js": ("prompter.js", "text/javascript; charset=utf-8"),
    "/library.js": ("library.js", "text/javascript; charset=utf-8"),
    "/replay.js": ("replay.js", "text/javascript; charset=utf-8"),
    "/dom.js": ("dom.js", "text/javascript; charset=utf-8"),
    "/audition.js": ("audition.js", "text/javascript; charset=utf-8"),
    "/terms.js": ("terms.js", "text/javascript; charset=utf-8"),
    "/player.worklet.js": ("player.worklet.js", "text/javascript; charset=utf-8"),
    "/voice.worker.js": ("voice.worker.js", "text/javascript; charset=utf-8"),
    "/style.css": ("style.css", "text/css; charset=utf-8"),
    "/icon.svg": ("icon.svg", "image/svg+xml"),
    "/actor": ("actor.html", "text/html; charset=utf-8"),
    "/actor.js": ("actor.js", "text/javascript; charset=utf-8"),
    "/extras.worker.js": ("extras.worker.js", "text/javascript; charset=utf-8"),
    "/present.js": ("present.js", "text/javascript; charset=utf-8"),
    "/presentations.js": ("presentations.js", "text/javascript; charset=utf-8"),
}
# The in-browser pose model: MediaPipe Tasks for Web and the set-up's own bundles, by fixed
# names only (a request never names a path). URL path -> (folder, file, content type).
MODEL_FILES: dict[str, tuple[Callable[[], Path], str, str]] = {
    "/vendor/tasks-vision/vision_bundle.mjs": (
        tasks_vision_dir,
        "vision_bundle.mjs",
        "text/javascript; charset=utf-8",
    ),
    # The same bundle for the face and hands worker, a classic one: the bundle loads its wasm
    # with importScripts, which a module worker lacks.
    "/vendor/tasks-vision/vision_bundle.cjs": (
        tasks_vision_dir,
        "vision_bundle.cjs",
        "text/javascript; charset=utf-8",
    ),
    **{
        f"/vendor/tasks-vision/wasm/{name}.{ext}": (
            tasks_vision_dir,
            f"wasm/{name}.{ext}",
            "application/wasm" if ext == "wasm" else "text/javascript; charset=utf-8",
        )
        for name in ("vision_wasm_internal", "vision_wasm_nosimd_internal")
        for ext in ("js", "wasm")
    },
    **{
        f"/models/pose_landmarker_{model}.task": (
            models_dir,
            f"pose_landmarker_{model}.task",
            "application/octet-stream",
        )
        for model in ("lite", "full")
    },
    # The face and hand landmarkers (the page runs them on crops the body pose locates).
    **{
        f"/models/{name}_landmarker.task": (
            models_dir,
            f"{name}_landmarker.task",
            "application/octet-stream",
        )
        for name in ("face", "hand")
    },
}
# Who hears what: the take list and its notes are the casting team's, not the actor's.
DIRECTORS = frozenset({"director"})
CASTING_TEAM = frozenset({"director", "observer"})
EVERYONE = frozenset({"director", "observer", "actor"})
RECORDER_ANSWER_S = 10.0  # a take start or stop the recorder has not answered by then failed
MAX_HEAD_BYTES = 64 * 1024  # past this the library's own header limits answer
_LIBRARY_KIND = {LibraryRequest: "library", RateTake: "rate", SelectTake: "select"}
_STEER: dict[str, type[SwitchCamera | SwitchScene | SwitchAvatar]] = {
    "camera": SwitchCamera,
    "scene": SwitchScene,
    "avatar": SwitchAvatar,
}


@dataclass(frozen=True, slots=True)
class Tokens:
    director: str
    observer: str
    actor: str

    def role(self, token: str) -> str | None:
        # Constant-time comparisons, every one made: a token is a password.
        found = None
        for role in ("director", "observer", "actor"):
            if hmac.compare_digest(token.encode(), getattr(self, role).encode()):
                found = role
        return found


class _Connection(ServerConnection):
    """A connection that reads one HTTP request before it has answered it.

    A websocket client waits for the handshake's answer before it sends a frame, so bytes past
    the first request's head, before the answer, are a second, pipelined HTTP request. The
    websockets library would parse them as frames and fail; they are dropped instead, and the
    first request is answered (the connection then closes, as HTTP/1.1 allows).
    """

    _head = b""
    _heard = False

    def data_received(self, data: bytes) -> None:
        if self.protocol.state is State.CONNECTING and len(self._head) < MAX_HEAD_BYTES:
            if self._heard:
                return
            start = len(self._head)
            self._head += data
            end = self._head.find(b"\r\n\r\n")
            if end >= 0:
                self._heard = True
                data = data[: end + 4 - start]
        super().data_received(data)


@dataclass(eq=False, slots=True)
class Viewer:
    id: int
    conn: ServerConnection
    protocol: ViewerProtocol
    audio: bool = False  # asked for the actor's voice
    performing: bool = False  # an actor's page that consented: its landmarks drive the avatar
    left: bool = False  # an actor that said goodbye (rather than dropped)

    @property
    def role(self) -> str:
        return self.protocol.role


class Feed:
    """Serves one room to its viewers. Everything here runs on the event loop, except
    :meth:`_on_picture` (the render thread) and :meth:`_on_room_event` (the room's threads),
    which only hand their values to the loop."""

    def __init__(
        self,
        room: RoomPort,
        tokens: Tokens,
        settings: FeedSettings,
        encoder: EncoderSettings,
        size: tuple[int, int],
        fps: float,
        desk: CastingDesk | None = None,
    ) -> None:
        self.room = room
        self.desk = desk  # the casting record's owner: the take library, ratings, selects
        self.tokens = tokens
        self.settings = settings
        self.encoder = PictureEncoder(encoder, size[0], size[1], fps)
        self.fanout = FanOut(settings.window, settings.stall_s, settings.keyframe_gap_s)
        self.viewers: dict[int, Viewer] = {}
        self.origins: frozenset[str] = frozenset()  # set by serve(), once the port is known
        self.encode_ms: deque[float] = deque(maxlen=90)
        self._ids = itertools.count(1)
        # Roles granted at the handshake; a handshake that fails after it leaves nothing behind.
        self._roles: weakref.WeakKeyDictionary[ServerConnection, str] = weakref.WeakKeyDictionary()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._in_transit = threading.BoundedSemaphore(2)  # pictures handed to the loop
        self._tasks: set[asyncio.Task[None]] = set()  # held so they are not collected
        self._actor: Viewer | None = None  # the page performing now
        self._seq = dict.fromkeys(AudioSource, 0)
        self.guests = Guests(self)  # a presentation's guests (guests.py)
        self.picture_shows: int | None = None  # the replay start the newest picture shows

    # From the room's threads ------------------------------------------------------------------

    def _on_picture(self, picture: Picture) -> None:
        """On the render thread: encode once per codec in demand, hand the result to the loop.
        A loop that has not taken the last two yet gets none: latest wins here too."""
        # What the newest picture shows, encoded or not: a guest joins on it (replaced whole).
        self.picture_shows = picture.replay
        loop = self._loop
        if loop is None or not self.encoder.codecs:
            return
        if not self._in_transit.acquire(blocking=False):
            return
        try:
            frame = self.encoder.encode(picture)
            loop.call_soon_threadsafe(self._publish, frame)
        except RuntimeError:
            self._in_transit.release()
            if not loop.is_closed():
                raise
            # the loop has closed: the room is shutting down
        except BaseException:
            self._in_transit.release()
            raise

    def _on_room_event(self, event: RoomEvent) -> None:
        loop = self._loop
        if loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop has closed: nobody to tell
                loop.call_soon_threadsafe(self._room_event, event)

    def _on_library_change(self, takes: list[LibraryTake]) -> None:
        """On the desk's thread: rows changed in the casting record, for the casting team."""
        loop = self._loop
        if loop is not None:
            message = LibraryChanged([t.to_json(mine=False) for t in takes])
            with contextlib.suppress(RuntimeError):  # the loop has closed: nobody to tell
                loop.call_soon_threadsafe(self._broadcast, message, CASTING_TEAM)

    def _on_audition_changed(self, audition: Audition | None) -> None:
        """On the desk's thread: the audition served changed outside the room (None: deleted,
        e.g. by ``immersion casting delete-actor``), for everyone."""
        loop = self._loop
        if loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop has closed: nobody to tell
                loop.call_soon_threadsafe(self._broadcast, audition_wire.shown(audition), EVERYONE)

    # On the loop ------------------------------------------------------------------------------

    def _publish(self, frame: EncodedFrame) -> None:
        self._in_transit.release()
        self.encode_ms.append(frame.encode_ms)
        self.guests.gate(frame.replay)  # a guest gets this picture only if it shows their takes
        self._carry_out(self.fanout.publish(frame, self.room.now()))

    def _room_event(self, event: RoomEvent) -> None:
        if isinstance(event, TakeChanged):
            self._broadcast(TakeUpdate(event.entry.to_json()), CASTING_TEAM)
        elif isinstance(event, NoteAdded):
            self._broadcast(NoteUpdate(event.file, event.item.to_json()), CASTING_TEAM)
        elif isinstance(event, Problem):
            self._broadcast(Error(f"{event.where}: {event.text}", "room"), DIRECTORS)
        elif isinstance(event, CueToActor) and self._actor is not None:
            broadcast([self._actor.conn], encode_server(ActorCue(event.kind, event.text)))
        elif isinstance(event, VoiceOut):
            self._relay(Voice(event.t, event.opus, talkback=False), replayed=event.replay)
        elif isinstance(event, SidesChanged):
            self._broadcast(SidesShown(event.sides.text, event.sides.line), EVERYONE)
        elif isinstance(event, ReaderVoice):
            self._relay_reader(event)

    def _carry_out(self, actions: list[Action]) -> None:
        for action in actions:
            if isinstance(action, Send):
                viewer = self.viewers.get(action.viewer)
                if viewer is not None:
                    broadcast([viewer.conn], action.data)
            elif isinstance(action, Drop):
                viewer = self.viewers.pop(action.viewer, None)
                if viewer is not None:
                    self._spawn(self._drop(viewer, action.reason))
            elif isinstance(action, NeedKeyframe):
                self.encoder.keyframe.set()
        self.encoder.codecs = self.fanout.codecs()

    def _broadcast(self, message: ServerMessage, roles: frozenset[str]) -> None:
        conns = [v.conn for v in self.viewers.values() if v.role in roles]
        broadcast(conns, encode_server(message))

    def _relay(self, voice: Voice, replayed: bool = False) -> None:
        """Pass an Opus packet on unchanged: the actor's voice to every viewer that asked for
        it (a ``replayed`` take's to a presentation's guests of it too), a director's talkback
        to the actor's page. A viewer whose socket is backed up misses packets (its jitter
        buffer conceals them) instead of growing the buffer."""
        if voice.talkback:
            targets = [self._actor] if self._actor is not None else []
        else:
            targets = [v for v in self.viewers.values() if v.audio and v is not self._actor]
        source = AudioSource.TALKBACK if voice.talkback else AudioSource.VOICE
        if replayed:
            targets += self.guests.hearing()
        self._send_audio(source, voice.capture_t, voice.opus, targets)

    def _relay_reader(self, voice: ReaderVoice) -> None:
        """The reader's voice, as its own source (pages play it through a decoder of its
        own), to every viewer that asked for audio and to the performing actor's page: the
        actor plays opposite it (unless the room plays it to them in the headset)."""
        targets = [v for v in self.viewers.values() if reader_hears(v, self._actor, voice)]
        self._send_audio(AudioSource.READER, voice.t, voice.opus, targets)

    def _send_audio(
        self, source: AudioSource, capture_t: float, opus: bytes, targets: list[Viewer]
    ) -> None:
        """One packet of ``source``, numbered in its own sequence, to ``targets``; a viewer
        whose socket is backed up misses it (its jitter buffer conceals the gap)."""
        self._seq[source] += 1
        message = encode_audio(AudioPacket(source, self._seq[source], capture_t, opus))
        limit = self.settings.write_limit
        broadcast(
            [v.conn for v in targets if v.conn.transport.get_write_buffer_size() <= limit],
            message,
        )

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # HTTP and the handshake -------------------------------------------------------------------

    def process_request(self, conn: ServerConnection, request: Request) -> Response | None:
        if request.method not in ("GET", "HEAD"):
            response = _response(HTTPStatus.METHOD_NOT_ALLOWED, b"GET or HEAD only\n")
            response.headers["Allow"] = "GET, HEAD"
            return response
        head = request.method == "HEAD"
        hosts, origins = request.headers.get_all("Host"), request.headers.get_all("Origin")
        if len(hosts) != 1 or len(origins) > 1:
            return _response(HTTPStatus.BAD_REQUEST, b"one Host, at most one Origin\n", head)
        host = hosts[0].lower()  # host names are case-insensitive; the room's are lower case
        if self.origins and not any(o.split("://", 1)[1] == host for o in self.origins):
            return _response(HTTPStatus.MISDIRECTED_REQUEST, b"not this room's host name\n", head)
        url = urlsplit(request.path)
        query = parse_qs(url.query)
        if url.path == "/" and "present" in query and "Upgrade" not in request.headers:
            # A presentation's link: the room's page address with ?present=TOKEN (guests.py).
            body = resources.files("immersion.feed").joinpath("web", "present.html").read_bytes()
            return _response(HTTPStatus.OK, body, head, "text/html; charset=utf-8")
        if url.path in PAGE_FILES and "Upgrade" not in request.headers:
            name, content_type = PAGE_FILES[url.path]
            body = resources.files("immersion.feed").joinpath("web", name).read_bytes()
            # The actor page and its face and hands worker (a worker has its own policy) run wasm.
            csp = ACTOR_CSP if name in ("actor.html", "extras.worker.js") else CSP
            return _response(HTTPStatus.OK, body, head, content_type, csp)
        if url.path in MODEL_FILES and "Upgrade" not in request.headers:
            return _model_file(url.path, head)
        if url.path != "/feed":
            return _response(HTTPStatus.NOT_FOUND, b"not found\n", head)
        if "present" in query:  # a presentation's guest: its link is checked once open
            if origins and origins[0].lower() not in self.origins:
                return _response(HTTPStatus.FORBIDDEN, b"cross-origin viewers are refused\n", head)
            if len(self.viewers) >= self.settings.max_viewers:
                return _response(HTTPStatus.SERVICE_UNAVAILABLE, b"the room is full\n", head)
            if len(self.viewers) + self.guests.pending() >= self.settings.max_viewers:
                # Guests whose links are still being checked hold their places (guests.py).
                return _response(HTTPStatus.SERVICE_UNAVAILABLE, b"the room is full\n", head)
            self.guests.handshake(conn, query)
            self._roles[conn] = "guest"
            return None
        token = parse_qs(url.query).get("token", [""])[0]
        role = self.tokens.role(token)
        if role is None:
            return _response(HTTPStatus.FORBIDDEN, b"a valid room token is required\n", head)
        if origins and origins[0].lower() not in self.origins:
            return _response(HTTPStatus.FORBIDDEN, b"cross-origin viewers are refused\n", head)
        if len(self.viewers) >= self.settings.max_viewers:
            return _response(HTTPStatus.SERVICE_UNAVAILABLE, b"the room is full\n", head)
        self._roles[conn] = role
        return None

    async def serve(self, host: str, port: int, tls: ssl.SSLContext | None) -> Server:
        """Listen; browsers may reach the room by the settings' host names (and only by them
        may their Origin be named)."""
        self._loop = asyncio.get_running_loop()
        self.room.set_picture_sink(self._on_picture)
        self.room.on_event = self._on_room_event
        if self.desk is not None:
            self.desk.on_change = self._on_library_change
            self.desk.on_audition = self._on_audition_changed
        server = await serve(
            self.handler,
            host,
            port,
            ssl=tls,
            process_request=self.process_request,
            create_connection=_Connection,
            compression=None,  # video does not compress, and deflate costs per viewer
            max_size=self.settings.limits.message_bytes,
            max_queue=8,
            write_limit=self.settings.write_limit,
            ping_interval=5,
            ping_timeout=self.settings.stall_s,
            open_timeout=self.settings.open_timeout_s,
            logger=logging.getLogger("immersion.feed.websockets"),
        )
        bound = server.sockets[0].getsockname()[1]
        scheme = "https" if tls is not None else "http"
        self.origins = frozenset(
            f"{scheme}://{name}" + ("" if _default_port(scheme, bound) else f":{bound}")
            for name in self.settings.hosts
        )
        return server

    # One viewer -------------------------------------------------------------------------------

    async def handler(self, conn: ServerConnection) -> None:
        role = self._roles.pop(conn, None)
        if role is None:  # process_request refused it; never reached, but never trust that
            await conn.close(1008, "no token")
            return
        limits = self.settings.limits
        viewer = Viewer(next(self._ids), conn, ViewerProtocol(role, self.room.now(), limits))
        if role == "guest":  # a presentation's guest: its own welcome and rules (guests.py)
            await self.guests.serve(viewer)
            return
        # The page shows its take library only in a room with a casting record.
        choices = {**self.room.choices(), "library": self.desk is not None}
        welcome = Welcome(role, choices, self._status(), limits.for_page())
        newest = self.room.takes().newest(limits.welcome_takes, limits.welcome_notes)
        # No await from the take list's snapshot to joining: every delta after it reaches the
        # viewer, after the full list (broadcast writes at once, in order).
        broadcast([conn], encode_server(welcome))
        if role in CASTING_TEAM:
            broadcast([conn], encode_server(Takes(newest)))
        sides = self.room.sides
        if sides is not None:
            broadcast([conn], encode_server(SidesShown(sides.text, sides.line)))
        if self.desk is not None:  # the audition on, for everyone (null: none)
            broadcast([conn], encode_server(audition_wire.shown(self.desk.audition)))
        self.viewers[viewer.id] = viewer
        try:
            async for message in conn:
                await self._on_message(viewer, message)
        except ConnectionClosed:
            pass
        finally:
            self.viewers.pop(viewer.id, None)
            self.fanout.leave(viewer.id)
            self.encoder.codecs = self.fanout.codecs()
            if self._actor is viewer:
                self._actor = None
            if viewer.performing or viewer.left:
                self.room.actor_left(viewer.id, viewer.left)

    def _take_over(self, viewer: Viewer, consent: int) -> None:
        """``viewer``'s actor consented: their page becomes the performance. A page already
        performing (the same actor's old tab, or a connection their reconnect outran) is
        closed."""
        old, self._actor = self._actor, viewer
        viewer.performing = True
        self.room.actor_joined(viewer.id, consent)
        if old is not None and old is not viewer:
            self._spawn(old.conn.close(1000, "another page took over as the actor"))

    async def _on_message(self, viewer: Viewer, message: str | bytes) -> None:
        now = self.room.now()
        event = viewer.protocol.receive(message, now)
        reply: ServerMessage | None = None
        if self.guests.handles(event, viewer):  # a guest's hello, codec or replay
            await self.guests.on_event(viewer, event)
            return
        if isinstance(event, Reject):
            reply = Error(event.reason)
        elif isinstance(event, Consent):
            self._take_over(viewer, event.version)
        elif isinstance(event, ActorPose | Voice | PictureSize | Calibrate) and not (
            viewer.performing or viewer.role == "director"
        ):
            reply = Error("consent first: the actor's page sends nothing before the actor agrees")
        elif isinstance(event, ActorPose):
            refused = self.room.actor_pose(
                viewer.id,
                event.capture_t,
                event.world,
                event.visibility,
                image=event.image,
                face=event.face,
                left_hand=event.left_hand,
                right_hand=event.right_hand,
            )
            reply = Error(refused) if refused else None
        elif isinstance(event, PictureSize):
            refused = self.room.actor_picture(viewer.id, event.width, event.height)
            reply = Error(refused) if refused else None
        elif isinstance(event, Sides):  # the room tells every viewer (SidesChanged)
            self.room.set_sides(event.text)
        elif isinstance(event, Scroll):
            if self.room.scroll_sides(event.line) is None:
                reply = Error("scroll: there are no sides on the teleprompter yet")
        elif isinstance(event, Calibrate):
            refused = self.room.actor_calibrate(viewer.id)
            reply = Error(refused) if refused else None
        elif isinstance(event, Voice):
            t = self.room.voice(event.capture_t, event.opus, event.talkback)
            if event.talkback or not self.room.replaying():  # a replay speaks for the avatar
                self._relay(replace(event, capture_t=t))
        elif isinstance(event, Clock):
            reply = ClockReply(event.t, round(now, 6))
        elif isinstance(event, Leave):  # also from a page that reconnected and did not perform
            viewer.left = True
            await viewer.conn.close(1000, "the actor left")
        elif isinstance(event, Hello):
            viewer.audio = event.audio
            if event.codecs:
                self._carry_out(self.fanout.switch(viewer.id, event.codecs[0], now))
            else:
                reply = Error("hello: no codec this room sends (h264, jpeg)")
        elif isinstance(event, SwitchCodec):
            self._carry_out(self.fanout.switch(viewer.id, event.codec, now))
        elif isinstance(event, Ack):
            self._carry_out(self.fanout.ack(viewer.id, event.frame, event.drawn, now))
        elif isinstance(event, Steer):
            command: Command = _STEER[event.what](event.name)
            refused = self.room.steer(command)
            reply = Error(refused) if refused else None
        elif isinstance(event, TakeControl):  # answered when the recorder is done; acks flow on
            future = self.room.take_start() if event.start else self.room.take_stop()
            self._spawn(self._answer(viewer, future))
        elif isinstance(event, ReaderControl):  # a take is read off the loop: answered later
            future = self.room.reader_control(event.action, event.take, event.avatar)
            self._spawn(self._answer(viewer, future))
        elif isinstance(event, ReplayControl):
            future = self.room.replay_control(
                event.action, event.takes, event.position, align=event.align, voice=event.voice
            )
            self._spawn(self._answer(viewer, future))
        elif isinstance(event, LibraryRequest | RateTake | SelectTake):
            if self.desk is None:
                reply = Error(
                    f"{_LIBRARY_KIND[type(event)]}: this room has no casting record "
                    "(serve it with --role and --actor, or --db)"
                )
            else:
                self._spawn(self._library(viewer, event, self.desk))
        elif isinstance(event, AuditionControl | TermsAgreed):
            reply = self._audition_event(viewer, event)
        elif isinstance(event, PresentationControl):  # a director's (guests.py)
            self._spawn(self.guests.director(viewer, event))
        elif isinstance(event, Cue):
            reply = Cued(event.text, self.room.cue(event.text))
        elif isinstance(event, Note):
            self.room.annotate("note", event.text)
        elif isinstance(event, Marker):
            self.room.annotate("marker", event.label)
        if reply is not None:
            await viewer.conn.send(encode_server(reply))

    async def _answer(self, viewer: Viewer, future: Future[str | None]) -> None:
        try:
            refused = await asyncio.wait_for(asyncio.wrap_future(future), RECORDER_ANSWER_S)
        except TimeoutError:
            refused = f"the recorder did not answer within {RECORDER_ANSWER_S:g} s"
        if refused:
            with contextlib.suppress(ConnectionClosed):
                await viewer.conn.send(encode_server(Error(refused)))

    async def _library(
        self, viewer: Viewer, event: LibraryRequest | RateTake | SelectTake, desk: CastingDesk
    ) -> None:
        """Carried out by the desk off the loop; the asker gets the answer (a rater their own
        rating with it), everyone else the change through :meth:`_on_library_change`."""
        by = viewer.role  # one director token: its directors share one rating (see README)
        answer: ServerMessage
        try:
            if isinstance(event, LibraryRequest):
                query = LibraryQuery(event.text, event.role, event.actor)
                found = await asyncio.wait_for(
                    asyncio.wrap_future(desk.library(query, by)), RECORDER_ANSWER_S
                )
                answer = LibraryList([t.to_json() for t in found.takes], found.more)
            else:
                future = (
                    desk.rate(event.take, by, event.value)
                    if isinstance(event, RateTake)
                    else desk.select(event.take, event.number, by)
                )
                changed = await asyncio.wait_for(asyncio.wrap_future(future), RECORDER_ANSWER_S)
                answer = LibraryChanged([t.to_json() for t in changed])
        except TimeoutError:
            answer = Error(f"the casting record did not answer within {RECORDER_ANSWER_S:g} s")
        except CastingError as exc:
            answer = Error(f"{_LIBRARY_KIND[type(event)]}: {exc}")
        with contextlib.suppress(ConnectionClosed):
            await viewer.conn.send(encode_server(answer))

    def _audition_event(
        self, viewer: Viewer, event: AuditionControl | TermsAgreed
    ) -> ServerMessage | None:
        """The audition chosen on the page and the actor's consent to it: the desk does the
        work off the loop; a change goes to everyone."""
        changes = isinstance(event, AuditionControl) and event.action != "choices"
        if self.desk is None:
            kind = "audition" if isinstance(event, AuditionControl) else "terms"
            return Error(f"{kind}: this room has no casting record (serve it with --db)")
        if changes and self.room.status().take.rolling:
            return Error("audition: a take is rolling; change the audition after it is cut")
        self._spawn(self._audition(viewer, event, self.desk))
        return None

    async def _audition(
        self, viewer: Viewer, event: AuditionControl | TermsAgreed, desk: CastingDesk
    ) -> None:
        future: Future[Any]
        if isinstance(event, TermsAgreed):
            kind, future = "terms", desk.agree(event.terms)
        elif event.action == "choices":
            kind, future = "audition", desk.choices()
        elif event.action == "close":
            kind, future = "audition", desk.close_audition()
        else:
            assert event.choice is not None
            now = self.room.status()
            kind, future = "audition", desk.open_chosen(event.choice, now.scene, now.avatar)
        answer: ServerMessage
        try:
            done = await asyncio.wait_for(asyncio.wrap_future(future), RECORDER_ANSWER_S)
        except TimeoutError:
            answer = Error(f"the casting record did not answer within {RECORDER_ANSWER_S:g} s")
        except CastingError as exc:
            answer = Error(f"{kind}: {exc}")
            if isinstance(event, TermsAgreed):  # and what the page should show instead
                with contextlib.suppress(ConnectionClosed):
                    await viewer.conn.send(encode_server(answer))
                answer = audition_wire.shown(desk.audition)
        else:
            if isinstance(done, Choices):
                answer = audition_wire.listed(done)
            else:  # opened, closed or agreed: what the desk now serves, for everyone
                self._broadcast(audition_wire.shown(desk.audition), EVERYONE)
                return
        with contextlib.suppress(ConnectionClosed):
            await viewer.conn.send(encode_server(answer))

    def _status(self) -> dict[str, object]:
        status = self.room.status().to_json()
        latency = status["latencyMs"]
        latency["encode"] = _median(list(self.encode_ms))
        latency["send"] = _median(list(self.fanout.send_ms))
        latency["glass"] = _median(list(self.fanout.glass_ms))
        status["viewers"] = len(self.viewers)
        return status

    async def status_loop(self) -> None:
        """Several times a second: the room's status, with the feed's own figures, to all; and
        stalled viewers dropped."""
        while True:
            await asyncio.sleep(self.settings.status_period_s)
            try:
                self._carry_out(self.fanout.tick(self.room.now()))
                ready = [  # one not reading right now skips a status
                    v.conn
                    for v in self.viewers.values()
                    if v.conn.transport.get_write_buffer_size() <= self.settings.write_limit
                    and v.role != "guest"  # a guest's status is its own (guests.py)
                ]
                status = self._status()
                broadcast(ready, encode_server(Status(status)))  # one encoding for all
                self.guests.tick(status)
            except Exception:  # a bad status must not end the status (and stall checks) for good
                log.exception("status round failed")

    async def _drop(self, viewer: Viewer, reason: str) -> None:
        """Close a stalled viewer's connection; abort it if even the close cannot get out."""
        try:
            async with asyncio.timeout(1.0):
                await viewer.conn.close(1008, reason)
        except TimeoutError:
            viewer.conn.transport.abort()  # its buffers are full and it is not reading

    async def close(self) -> None:
        """Say goodbye to every viewer at once; those that do not answer within a second (not
        reading) are cut off."""
        viewers = list(self.viewers.values())
        closing = [
            asyncio.ensure_future(v.conn.close(1001, "the room is closing")) for v in viewers
        ]
        if closing:
            await asyncio.wait(closing, timeout=1.0)
        for viewer, task in zip(viewers, closing, strict=True):
            if task.done():
                task.exception()  # retrieved: a viewer already gone is no news
            else:
                task.cancel()
                viewer.conn.transport.abort()


def _model_file(path: str, head: bool) -> Response:
    folder, name, content_type = MODEL_FILES[path]
    try:
        body = (folder() / name).read_bytes()
    except OSError:
        log.warning("%s: %s is missing; run ./dev setup", path, folder() / name)
        return _response(HTTPStatus.NOT_FOUND, b"the room's pose model is not set up\n", head)
    response = _response(HTTPStatus.OK, body, head, content_type)
    # The same bytes for the room's whole life (the set-up pins them): no need to fetch twice.
    response.headers["Cache-Control"] = "private, max-age=86400"
    return response


def _median(values: list[float]) -> float | None:
    return round(float(np.median(values)), 1) if values else None


def _default_port(scheme: str, port: int) -> bool:
    return (scheme, port) in (("http", 80), ("https", 443))


CSP = (
    "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' blob:; "
    "worker-src 'self'; style-src 'self'"
)
# The actor's page runs the pose model's WebAssembly; nothing else is loosened.
ACTOR_CSP = CSP + "; script-src 'self' 'wasm-unsafe-eval'"


def _response(
    status: HTTPStatus,
    body: bytes,
    head: bool = False,
    content_type: str = "text/plain",
    csp: str = CSP,
) -> Response:
    headers = Headers(
        [
            ("Content-Type", content_type),
            ("Content-Length", str(len(body))),
            ("Cache-Control", "no-store"),
            ("X-Content-Type-Options", "nosniff"),
            ("Referrer-Policy", "no-referrer"),  # the page's URL carries the token
            ("Content-Security-Policy", csp),
        ]
    )
    return Response(status.value, status.phrase, headers, b"" if head else body)


def reader_hears(viewer: Viewer, actor: Viewer | None, voice: ReaderVoice) -> bool:
    """Whether ``viewer`` gets the reader's ``voice``: a viewer that asked for audio, and the
    performing ``actor``'s page unless the room plays the voice in the actor's headset (the
    actor would hear it twice, one copy late)."""
    if viewer is actor:
        return voice.to_actor
    return viewer.audio
