"""``immersion scenes preview PACK``: a page that shows a pack live while a designer edits it.

Every camera preset, the actor's eye view from each mark, and a top view of the marks and the
cameras' fields of view; within a second of any file in the pack changing, the page shows the
new pack, or ``scenes validate``'s problems instead of a stale picture. The page is served on
loopback with a token in its link, as the room's pages are; nothing else is served.

Threads: the HTTP server answers on its own threads; one render thread owns the engine (every
Panda3D call), and the pack's state is one immutable snapshot it replaces whole.
"""

from __future__ import annotations

import argparse
import hmac
import io
import json
import logging
import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from immersion.catalogue import find_pack
from immersion.errors import StageError
from immersion.scenes.manifest import ScenePack, load_pack, validate_pack
from immersion.scenes.preview import pack_version, top_view_svg

log = logging.getLogger(__name__)
WATCH_S = 0.25  # how often the pack's files are looked at
SIZE = (640, 360)


@dataclass(frozen=True, slots=True)
class PackState:
    """What the page shows for one version of the pack."""

    version: int
    pack: ScenePack | None  # None: the pack does not load
    problems: tuple[str, ...]
    warnings: tuple[str, ...] = ()
    top_view: str = ""

    def to_json(self) -> dict[str, Any]:
        pack = self.pack
        return {
            "version": self.version,
            "title": pack.title if pack else None,
            "problems": list(self.problems),
            "warnings": list(self.warnings),
            "cameras": [c.name for c in pack.cameras] if pack else [],
            "marks": [m.name for m in pack.marks] if pack else [],
            "topView": self.top_view,
        }


@dataclass(slots=True)
class Preview:
    """The pack's folder, watched; its state; pictures rendered on the one render thread."""

    folder: Path
    state: PackState = field(init=False)
    _signature: tuple[tuple[str, int, int], ...] = ()
    _render: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(1, thread_name_prefix="preview-render")
    )
    _stage: Any = None
    _stage_version: int = -1
    _pictures: dict[tuple[int, str, str], bytes] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.state = PackState(0, None, ("not loaded yet",))
        self.refresh()

    def refresh(self) -> bool:
        """Look at the pack's files; a new state when they changed. True when they did."""
        signature = pack_version(self.folder)
        if signature == self._signature:
            return False
        self._signature = signature
        version = self.state.version + 1
        problems = tuple(validate_pack(self.folder))
        if problems:
            self.state = PackState(version, None, problems)
        else:
            try:
                pack = load_pack(self.folder)
            except StageError as exc:  # changed again between validating and loading
                self.state = PackState(version, None, (str(exc),))
            else:
                self.state = PackState(version, pack, (), tuple(pack.warnings), top_view_svg(pack))
        return True

    def picture(self, kind: str, name: str) -> bytes | None:
        """A PNG of camera preset or mark ``name`` in the current version; None if no such."""
        state = self.state
        if state.pack is None:
            return None
        return self._render.submit(self._cached, state, kind, name).result(timeout=60)

    def _cached(self, state: PackState, kind: str, name: str) -> bytes | None:
        # On the render thread, which owns the cache as it owns the engine.
        key = (state.version, kind, name)
        if key not in self._pictures:
            if len(self._pictures) > 64:
                self._pictures.clear()
            png = self._draw(state, kind, name)
            if png is None:
                return None
            self._pictures[key] = png
        return self._pictures[key]

    def _draw(self, state: PackState, kind: str, name: str) -> bytes | None:
        from PIL import Image

        from immersion.stage.actor_view import ActorView
        from immersion.stage.stage import Stage

        pack = state.pack
        assert pack is not None
        preset = next((c for c in pack.cameras if c.name == name), None)
        mark = next((m for m in pack.marks if m.name == name), None)
        if (preset if kind == "camera" else mark) is None:
            return None
        if self._stage is None or self._stage_version != state.version:
            if self._stage is not None:
                self._stage.close()
            self._stage = Stage.open(pack, None, width=SIZE[0], height=SIZE[1])
            self._stage_version = state.version
        stage = self._stage
        if kind == "camera":
            assert preset is not None
            stage.set_camera(preset)
            stage.show(None)
            picture = stage.target.rgb()
        else:  # as the headset shows it: the sky all round, what is for the eyes only
            assert mark is not None
            stage.mark = mark
            view = ActorView.open(stage)
            try:
                picture = view.render(mark.facing)
            finally:
                view.close()
        out = io.BytesIO()
        Image.fromarray(picture).save(out, format="PNG")
        return out.getvalue()

    def close(self) -> None:
        def shut() -> None:
            if self._stage is not None:
                self._stage.close()

        self._render.submit(shut).result(timeout=30)
        self._render.shutdown()


def _handler(preview: Preview | None, token: str, host: str) -> type[BaseHTTPRequestHandler]:
    """Requests for ``preview``'s page (None: the server is not serving yet; refuse all)."""
    page = resources.files("immersion.feed").joinpath("web", "preview.html").read_bytes()

    class Handler(BaseHTTPRequestHandler):
        server_version = "immersion-preview"

        def log_message(self, format: str, *args: Any) -> None:
            log.debug(format, *args)

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            given = parse_qs(url.query).get("token", [""])[0]
            if preview is None or self.headers.get("Host", "") != host:  # not ours, or not yet
                self._send(HTTPStatus.FORBIDDEN, b"wrong host", "text/plain")
                return
            if not hmac.compare_digest(given.encode(), token.encode()):
                self._send(HTTPStatus.FORBIDDEN, b"this link's token is not valid", "text/plain")
                return
            parts = [unquote(p) for p in url.path.strip("/").split("/")]
            if url.path == "/":
                self._send(HTTPStatus.OK, page, "text/html; charset=utf-8")
            elif url.path == "/state":
                body = json.dumps(preview.state.to_json()).encode()
                self._send(HTTPStatus.OK, body, "application/json")
            elif len(parts) == 3 and parts[0] == "view" and parts[1] in ("camera", "mark"):
                png = preview.picture(parts[1], parts[2].removesuffix(".png"))
                if png is None:
                    self._send(HTTPStatus.NOT_FOUND, b"no such view", "text/plain")
                else:
                    self._send(HTTPStatus.OK, png, "image/png")
            else:
                self._send(HTTPStatus.NOT_FOUND, b"not found", "text/plain")

        def _send(self, status: HTTPStatus, body: bytes, kind: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.send_header("Content-Security-Policy", "default-src 'self' 'unsafe-inline'")
            self.end_headers()
            self.wfile.write(body)

    return Handler


def run_preview(args: argparse.Namespace) -> int:
    folder = find_pack(args.pack)
    if not folder.is_dir():
        raise StageError(f"{folder}: preview a pack's folder (unzip a .zip pack first)")
    token = secrets.token_urlsafe(16)
    try:
        server = ThreadingHTTPServer((args.host, args.port), _handler(None, token, ""))
    except OSError as exc:
        raise StageError(
            f"cannot serve the preview on {args.host}:{args.port} ({exc.strerror}); "
            "choose another --port (0 picks a free one)"
        ) from None
    preview = Preview(folder)
    host = f"{args.host}:{server.server_address[1]}"
    server.RequestHandlerClass = _handler(preview, token, host)
    threading.Thread(target=server.serve_forever, name="preview-http", daemon=True).start()
    print(f"previewing {folder}: http://{host}/?token={token}", flush=True)
    print("edit the pack's files; the page follows within a second. Ctrl-C stops.", flush=True)
    try:
        while True:
            time.sleep(WATCH_S)
            if preview.refresh():
                state = preview.state
                print(
                    f"version {state.version}: "
                    + (f"{len(state.problems)} problem(s)" if state.problems else "valid"),
                    flush=True,
                )
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown()
        preview.close()
    return 0
