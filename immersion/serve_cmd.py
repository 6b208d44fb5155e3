"""``immersion serve``: one audition room, mirrored live to the casting team's browsers."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import logging
import os
import re
import resource
import secrets
import signal
import socket
import ssl
import sys
from pathlib import Path

from capture.cache import demo_clip, state_dir
from immersion.avatars.vrm import load_bone_map
from immersion.capture_cmd import capture_settings
from immersion.casting.desk import CastingDesk
from immersion.config import Config, FeedSettings, HeadsetSettings, RoomSettings
from immersion.errors import StageError
from immersion.feed.server import Feed, Tokens
from immersion.feed.tls import self_signed, server_context, trust_hint
from immersion.room.room import Room
from immersion.vmc.protocol import parse_target

log = logging.getLogger(__name__)
# A DNS name (letters, digits, '-', '.'), an IPv4 address, or an IPv6 one (bracketed or not).
_HOST_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9.])?|\[?[0-9A-Fa-f:.]+\]?")


def run_serve(args: argparse.Namespace) -> int:
    if not args.host:
        raise StageError("--host is empty: give an address, e.g. 127.0.0.1 or 0.0.0.0 (all)")
    if args.source == "":
        raise StageError(
            "--source is empty: give a camera index, a video, a take or a landmarks file"
        )
    source = args.source or str(demo_clip())
    if source == str(demo_clip()) and not demo_clip().exists():
        raise StageError(f"demo clip {demo_clip()} not found; run ./dev setup")
    _writable_folder(args.takes, "--takes")
    log_file = _logging(args.log)
    names = host_names(args.host, tuple(args.name or ()))
    tls = _tls(args, names)
    width, height = args.size
    if width % 2 or height % 2:  # H.264 (4:2:0) needs even sides
        raise StageError(
            f"--size {width}x{height}: the mirror needs even sides, e.g. "
            f"{width - width % 2}x{height - height % 2}"
        )
    config = Config(
        room=RoomSettings(
            source=source,
            scene=args.scene,
            avatar=args.avatar,
            camera=args.camera,
            width=width,
            height=height,
            fps=args.fps,
            takes_dir=args.takes,
            loop=not args.once,
            shading=args.shading,
            use=args.use,
            licensed=args.avatar_licensed,
            bone_map=load_bone_map(args.bone_map) if args.bone_map else None,
            show_camera=args.show_camera,
            headset=HeadsetSettings(eye_size=args.eye_size) if args.headset else None,
            capture=capture_settings(args),
            record_talkback=args.record_talkback,
            vmc=parse_target(args.vmc) if args.vmc is not None else None,
        ),
        feed=FeedSettings(hosts=names),
    )
    desk, casting = _casting(args)  # before the room loads: a bad role fails at once
    room = Room(config.room)
    if desk is not None:
        desk.start()  # opens the record on its thread: an unusable one fails here
        room.recorder.on_end = desk.file
    tokens = Tokens(*(secrets.token_urlsafe(18) for _ in range(3)))
    _raise_open_files()
    try:
        return asyncio.run(
            _serve(room, config, tokens, args.host, args.port, tls, log_file, casting, desk)
        )
    finally:
        if desk is not None:
            desk.stop()  # after the room: its last take is filed


def _casting(args: argparse.Namespace) -> tuple[CastingDesk | None, str | None]:
    """With --role and --actor: the desk that files each take under the actor's audition for
    the role (and answers the page's library), and the line that says so; with --db alone, a
    desk that only answers the library (a room for reviewing, until a director chooses an
    audition on the page)."""
    from immersion.casting_cmd import db_path

    if not (args.role or args.actor):
        if args.consent or args.consent_until:
            raise StageError("--consent and --consent-until need --role and --actor")
        if args.db:
            db = db_path(args.db, args.takes)
            return CastingDesk(db), (
                f"  casting: the take library is {db} (no takes filed until a director opens "
                "an audition on the page)"
            )
        return None, None
    if not (args.role and args.actor):
        raise StageError("--role and --actor go together: the audition is the actor's for the role")
    import datetime as dt

    from immersion.casting.filer import serve_audition

    db = db_path(args.db, args.takes)
    audition, added = serve_audition(
        db,
        args.role,
        args.actor,
        dt.date.today(),
        args.production,
        args.consent,
        args.consent_until,
    )
    new = " (a new actor in the record)" if added else ""
    until = f", consent until {audition.consent_until}" if audition.consent_until else ""
    return CastingDesk(db, audition.id), (
        f"  casting: takes are filed under {audition.actor}{new}'s audition for "
        f"{audition.role} ({audition.production}), {audition.date}{until}, in {db}"
    )


def host_names(host: str, extra: tuple[str, ...]) -> tuple[str, ...]:
    """The names browsers may reach the room by: ``--name``s first (the printed links use the
    first), then the listening address, or, on all addresses, this machine's own names."""
    own: tuple[str, ...]
    if host in ("0.0.0.0", "::", ""):
        own = (socket.gethostname(), socket.getfqdn(), "127.0.0.1", "localhost")
    elif _is_loopback(host) or host == "localhost":
        own = (host, "127.0.0.1", "localhost")
    else:
        own = (host,)
    for name in extra:
        if not _HOST_NAME.fullmatch(name):
            raise StageError(f"--name {name!r}: not a host name or an IP address")
    names = [n.lower().rstrip(".") for n in (*extra, *own)]  # browsers send lower case
    names = [f"[{n}]" if ":" in n and not n.startswith("[") else n for n in names]
    return tuple(dict.fromkeys(n for n in names if n))


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _tls(args: argparse.Namespace, names: tuple[str, ...]) -> ssl.SSLContext | None:
    if args.tls == "self-signed":
        if args.tls_cert or args.tls_key:
            raise StageError("--tls self-signed makes its own certificate; drop --tls-cert/--key")
        cert, key = self_signed(names)
        print(trust_hint(cert), flush=True)
        return server_context(cert, key)
    if args.tls_cert or args.tls_key:
        if not (args.tls_cert and args.tls_key):
            raise StageError("--tls-cert and --tls-key go together")
        return server_context(args.tls_cert, args.tls_key)
    return None


def _writable_folder(folder: Path, option: str) -> None:
    """Takes must be writable from the first one on: refuse the command now, not mid-audition."""
    if folder.exists() and not folder.is_dir():
        raise StageError(f"{option} {folder}: is a file, not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StageError(f"{option} {folder}: cannot be created ({exc.strerror})") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise StageError(f"{option} {folder}: not writable")


def _logging(path: Path | None) -> Path:
    """The console gets one line per problem; the log file keeps everything, tracebacks too."""
    path = path or state_dir() / "serve.log"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        file = logging.FileHandler(path, encoding="utf-8")
    except OSError as exc:
        raise StageError(f"--log {path}: cannot be written ({exc.strerror})") from None
    file.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    console = logging.StreamHandler(sys.stderr)
    console.setLevel(logging.WARNING)
    console.setFormatter(_OneLine("immersion: %(message)s"))
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    root.handlers[:] = [file, console]
    # Bad handshakes and the like are the websockets library's to log: the file, not the console.
    quiet = logging.getLogger("immersion.feed.websockets")
    quiet.propagate = False
    quiet.addHandler(file)
    return path


class _OneLine(logging.Formatter):
    """One line, no traceback, on the console: the log file has the rest."""

    def format(self, record: logging.LogRecord) -> str:
        record.message = record.getMessage()
        return self.formatMessage(record).splitlines()[0]


def _raise_open_files() -> None:
    """Idle sockets must not exhaust the descriptors the room needs for its viewers."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(max(soft, 8192), hard), hard))


async def _serve(
    room: Room,
    config: Config,
    tokens: Tokens,
    host: str,
    port: int,
    tls: ssl.SSLContext | None,
    log_file: Path,
    casting: str | None = None,
    desk: CastingDesk | None = None,
) -> int:
    s = config.room
    feed = Feed(room, tokens, config.feed, config.encoder, (s.width, s.height), s.fps, desk)
    try:
        server = await feed.serve(host, port, tls)
    except OSError as exc:
        raise StageError(f"cannot listen on {host}:{port} ({exc.strerror})") from None
    room.start()
    bound = server.sockets[0].getsockname()[1]
    scheme = "https" if tls is not None else "http"
    base = f"{scheme}://{config.feed.hosts[0]}:{bound}"
    print(
        f"Immersion audition room: {room.title} ({s.scene}), avatar {s.avatar}, "
        f"source {s.source}\n"
        f"  directors: {base}/?token={tokens.director}\n"
        f"  observers: {base}/?token={tokens.observer}\n"
        f"  actors:    {base}/actor?token={tokens.actor}\n"
        f"  takes are written to {s.takes_dir}/ ; the log is {log_file} ; Ctrl-C closes the room",
        flush=True,
    )
    if casting:
        print(casting, flush=True)
    if tls is None and not _is_loopback(host) and host != "localhost":
        print(
            "  without TLS, browsers on other machines get JPEG and the actor's page cannot "
            "open a camera or microphone (both need a secure page): add --tls self-signed",
            flush=True,
        )
    if s.headset is not None:
        print(
            "  --headset: the set is also rendered to the OpenXR headset, and a director's "
            "talkback plays on this machine's sound output",
            flush=True,
        )
    if s.source.isdigit():
        print(
            "  a camera: the room does not record this machine's microphone; the actor's voice "
            "comes from their page (the actors: link)",
            flush=True,
        )
    if s.record_talkback:
        print("  --record-talkback: directors' talkback goes into the takes", flush=True)
    if s.show_camera:
        print("  --show-camera: viewers also see the actor's camera picture", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    status = asyncio.create_task(feed.status_loop())
    await stop.wait()
    print("closing the room…", file=sys.stderr, flush=True)
    status.cancel()
    await asyncio.to_thread(room.stop)  # closes a rolling take; it is readable either way
    await feed.close()
    server.close()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(server.wait_closed(), 5)
    return 0
