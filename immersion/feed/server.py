"""The mirror feed over websockets: the casting page over HTTP, then one socket per viewer.

Fan-out is latest-frame-wins, and it is bounded by acknowledgements rather than by buffers:
each viewer may have at most :data:`WINDOW` frames in flight (sent, not yet acknowledged as
drawn). A frame that arrives while the window is full waits in a one-frame mailbox, and a newer
frame replaces it (counted as skipped and told to the viewer). So frames are written straight
to the socket, on the event loop, without a task or an await per viewer; the kernel's and the
transport's buffers hold at most WINDOW frames and a status; the render loop never waits; and a
viewer that acknowledges nothing for :data:`STALL_S` seconds is dropped. An H.264 viewer that
skipped a frame waits for the next keyframe, which it asks the room for.

(websockets' ``broadcast()`` writes without waiting for the buffer to drain, which is unbounded
on its own; here the ack window is the bound.)
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import time
from collections import deque
from dataclasses import dataclass, field
from http import HTTPStatus
from importlib import resources
from urllib.parse import parse_qs, urlsplit

import numpy as np
from websockets.asyncio.server import Server, ServerConnection, broadcast, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from immersion.feed.protocol import (
    MAX_MESSAGE_BYTES,
    Ack,
    Codec,
    Cue,
    Hello,
    Marker,
    Note,
    Reject,
    Steer,
    SwitchCodec,
    TakeControl,
    VideoHeader,
    ViewerProtocol,
    encode_video,
    server_message,
)
from immersion.room.room import RenderedFrame, Room

WINDOW = 2
STALL_S = 5.0
WRITE_LIMIT = 64 * 1024
STATUS_PERIOD_S = 0.25
KEYFRAME_MIN_GAP_S = 0.5
PAGE_FILES = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/app.js": ("app.js", "text/javascript; charset=utf-8"),
    "/decoder.js": ("decoder.js", "text/javascript; charset=utf-8"),
    "/style.css": ("style.css", "text/css; charset=utf-8"),
    "/icon.svg": ("icon.svg", "image/svg+xml"),
}


@dataclass(frozen=True, slots=True)
class Tokens:
    director: str
    observer: str

    def role(self, token: str) -> str | None:
        # Constant-time comparisons: a token is a password.
        if hmac.compare_digest(token.encode(), self.director.encode()):
            return "director"
        if hmac.compare_digest(token.encode(), self.observer.encode()):
            return "observer"
        return None


@dataclass(eq=False)
class Viewer:
    conn: ServerConnection
    protocol: ViewerProtocol
    codec: Codec = Codec.H264
    pending: RenderedFrame | None = None  # the newest frame not yet sent (the window was full)
    skipped: int = 0
    needs_key: bool = True
    in_flight: dict[int, float] = field(default_factory=dict)  # frame → render time
    last_ack: float = field(default_factory=time.monotonic)


class Feed:
    """Serves one room to its viewers."""

    def __init__(self, room: Room, tokens: Tokens) -> None:
        self.room = room
        self.tokens = tokens
        self.viewers: set[Viewer] = set()
        self.glass_ms: deque[float] = deque(maxlen=120)  # render done → drawn (viewer's ack)
        self.send_ms: deque[float] = deque(maxlen=120)
        self._last_key_request = 0.0
        self._roles: dict[int, str] = {}
        self._dropping: set[asyncio.Task[None]] = set()  # held so they are not collected
        self._takes_version = 0  # the room's, when the take list was last sent unasked

    # Frames from the render thread ----------------------------------------------------------

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        def on_frame(frame: RenderedFrame) -> None:  # on the render thread
            loop.call_soon_threadsafe(self.publish, frame)

        self.room.on_frame = on_frame
        self._update_codecs()

    def publish(self, frame: RenderedFrame) -> None:
        for viewer in self.viewers:
            if viewer.pending is not None:
                viewer.skipped += 1
                if viewer.codec is Codec.H264:
                    self._need_keyframe(viewer)
            viewer.pending = frame
            self._pump(viewer)

    def _pump(self, viewer: Viewer) -> None:
        """Send the viewer's pending frame now if its window is open."""
        frame = viewer.pending
        if frame is None or len(viewer.in_flight) >= WINDOW:
            return
        viewer.pending = None
        encoded = frame.encoded.get(viewer.codec)
        if encoded is None or (viewer.needs_key and not encoded.keyframe):
            viewer.skipped += 1
            return
        viewer.needs_key = False
        send_t = self.room.now()
        header = VideoHeader(
            viewer.codec, encoded.keyframe, frame.frame, viewer.skipped,
            frame.width, frame.height, frame.capture_t, frame.render_t, send_t,
        )  # fmt: skip
        viewer.skipped = 0
        viewer.in_flight[frame.frame] = frame.render_t
        self.send_ms.append((send_t - frame.render_t) * 1e3)
        broadcast([viewer.conn], encode_video(header, encoded.data))

    def _need_keyframe(self, viewer: Viewer) -> None:
        viewer.needs_key = True
        now = time.monotonic()
        if now - self._last_key_request >= KEYFRAME_MIN_GAP_S:
            self._last_key_request = now
            self.room.want_keyframe()

    def _update_codecs(self) -> None:
        self.room.codecs_wanted = {v.codec for v in self.viewers}

    # HTTP and the handshake -----------------------------------------------------------------

    def process_request(self, conn: ServerConnection, request: Request) -> Response | None:
        url = urlsplit(request.path)
        if url.path in PAGE_FILES and "Upgrade" not in request.headers:
            name, content_type = PAGE_FILES[url.path]
            body = resources.files("immersion.feed").joinpath("web", name).read_bytes()
            return _response(HTTPStatus.OK, body, content_type)
        if url.path != "/feed":
            return _response(HTTPStatus.NOT_FOUND, b"not found\n", "text/plain")
        token = parse_qs(url.query).get("token", [""])[0]
        role = self.tokens.role(token)
        if role is None:
            return _response(
                HTTPStatus.FORBIDDEN, b"a valid room token is required\n", "text/plain"
            )
        origin = request.headers.get("Origin")
        host = request.headers.get("Host", "")
        if origin is not None and origin not in (f"http://{host}", f"https://{host}"):
            return _response(
                HTTPStatus.FORBIDDEN, b"cross-origin viewers are refused\n", "text/plain"
            )
        self._roles[id(conn)] = role
        return None

    async def serve(self, host: str, port: int) -> Server:
        self.attach(asyncio.get_running_loop())
        return await serve(
            self.handler,
            host,
            port,
            process_request=self.process_request,
            compression=None,  # video does not compress, and deflate costs per viewer
            max_size=MAX_MESSAGE_BYTES,
            max_queue=8,
            write_limit=WRITE_LIMIT,
            ping_interval=5,
            ping_timeout=STALL_S,
        )

    # One viewer -------------------------------------------------------------------------------

    async def handler(self, conn: ServerConnection) -> None:
        role = self._roles.pop(id(conn), None)
        if role is None:  # process_request refused it; never reached, but never trust that
            await conn.close(1008, "no token")
            return
        viewer = Viewer(conn, ViewerProtocol(role, time.monotonic()))
        await conn.send(
            server_message(
                "welcome",
                protocol=1,
                role=role,
                room=self.room.choices(),
                status=self.room.status(),
            )
        )
        await conn.send(server_message("takes", takes=self.room.takes))
        self.viewers.add(viewer)
        self._update_codecs()
        self._need_keyframe(viewer)
        try:
            async for message in conn:
                await self._on_message(viewer, message)
        except ConnectionClosed:
            pass
        finally:
            self.viewers.discard(viewer)
            self._update_codecs()

    async def _on_message(self, viewer: Viewer, message: str | bytes) -> None:
        event = viewer.protocol.receive(message, time.monotonic())
        reply: str | None = None
        if isinstance(event, Reject):
            reply = event.reason
        elif isinstance(event, Hello):
            if event.codecs:
                viewer.codec = event.codecs[0]
        elif isinstance(event, SwitchCodec):
            viewer.codec = event.codec
        elif isinstance(event, Ack):
            render_t = viewer.in_flight.get(event.frame)
            if render_t is not None and event.drawn:
                self.glass_ms.append((self.room.now() - render_t) * 1e3)
            for frame in [f for f in viewer.in_flight if f <= event.frame]:
                del viewer.in_flight[frame]  # acks are cumulative: a lost one cannot wedge it
            viewer.last_ack = time.monotonic()
            self._pump(viewer)  # a frame held back by the window goes now
        elif isinstance(event, Steer):
            reply = self.room.steer(event.what, event.name)
        elif isinstance(event, TakeControl):
            reply = self.room.take_start() if event.start else self.room.take_stop()
            if reply is None:
                self._broadcast_takes()
        elif isinstance(event, Cue):
            self.room.cue(event.text)
        elif isinstance(event, Note | Marker):
            kind = "note" if isinstance(event, Note) else "marker"
            self.room.annotate(kind, event.text if isinstance(event, Note) else event.label)
            self._broadcast_takes()
        if isinstance(event, Hello | SwitchCodec):
            self._update_codecs()
            self._need_keyframe(viewer)
        if reply is not None:
            await viewer.conn.send(server_message("error", message=reply))

    def _broadcast_takes(self) -> None:
        broadcast([v.conn for v in self.viewers], server_message("takes", takes=self.room.takes))

    async def status_loop(self) -> None:
        """Several times a second: the room's status, with the feed's own figures, to all."""
        while True:
            await asyncio.sleep(STATUS_PERIOD_S)
            status = self.room.status()
            status["latencyMs"]["send"] = _median(self.send_ms)
            status["latencyMs"]["glass"] = _median(self.glass_ms)
            status["viewers"] = len(self.viewers)
            now = time.monotonic()
            ready = []
            for viewer in list(self.viewers):
                if viewer.in_flight and now - viewer.last_ack > STALL_S:
                    self.viewers.discard(viewer)
                    task = asyncio.create_task(self._drop(viewer))
                    self._dropping.add(task)
                    task.add_done_callback(self._dropping.discard)
                elif viewer.conn.transport.get_write_buffer_size() <= WRITE_LIMIT:
                    ready.append(viewer.conn)  # one not reading right now skips a status
            broadcast(ready, server_message("status", **status))  # one encoding for all
            if self.room.takes_version != self._takes_version:  # e.g. the actor pressed "ready"
                self._takes_version = self.room.takes_version
                self._broadcast_takes()

    async def _drop(self, viewer: Viewer) -> None:
        """Close a stalled viewer's connection; abort it if even the close cannot get out."""
        try:
            async with asyncio.timeout(1.0):
                await viewer.conn.close(1008, f"stalled: no frame acknowledged for {STALL_S:g} s")
        except TimeoutError:
            viewer.conn.transport.abort()  # its buffers are full and it is not reading

    async def close(self) -> None:
        for viewer in list(self.viewers):
            with contextlib.suppress(ConnectionClosed):
                await viewer.conn.close(1001, "the room is closing")


def _median(values: deque[float]) -> float | None:
    return round(float(np.median(values)), 1) if values else None


def _response(status: HTTPStatus, body: bytes, content_type: str) -> Response:
    headers = Headers(
        [
            ("Content-Type", content_type),
            ("Content-Length", str(len(body))),
            ("Cache-Control", "no-store"),
            ("X-Content-Type-Options", "nosniff"),
            ("Referrer-Policy", "no-referrer"),  # the page's URL carries the token
            (
                "Content-Security-Policy",
                "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' blob:; "
                "worker-src 'self'; style-src 'self'",
            ),
        ]
    )
    return Response(status.value, status.phrase, headers, body)
