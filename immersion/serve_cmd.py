"""``immersion serve``: one audition room, mirrored live to the casting team's browsers."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import secrets
import signal
import sys

from capture.cache import demo_clip
from immersion.avatars.vrm import load_bone_map
from immersion.errors import StageError
from immersion.feed.server import Feed, Tokens
from immersion.headset.headset import HeadsetSettings
from immersion.room.room import Room, RoomSettings


def run_serve(args: argparse.Namespace) -> int:
    source = args.source or str(demo_clip())
    if source == str(demo_clip()) and not demo_clip().exists():
        raise StageError(f"demo clip {demo_clip()} not found; run ./dev setup")
    width, height = args.size
    room = Room(
        RoomSettings(
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
        )
    )
    tokens = Tokens(secrets.token_urlsafe(18), secrets.token_urlsafe(18))
    return asyncio.run(_serve(room, tokens, args.host, args.port))


async def _serve(room: Room, tokens: Tokens, host: str, port: int) -> int:
    feed = Feed(room, tokens)
    try:
        server = await feed.serve(host, port)
    except OSError as exc:
        raise StageError(f"cannot listen on {host}:{port} ({exc.strerror})") from None
    room.start()
    bound = server.sockets[0].getsockname()[1]
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
    print(
        f"Immersion audition room: {room.pack.title} ({room.settings.scene}), "
        f"avatar {room.avatar_name}, source {room.settings.source}\n"
        f"  directors: http://{shown}:{bound}/?token={tokens.director}\n"
        f"  observers: http://{shown}:{bound}/?token={tokens.observer}\n"
        f"  takes are written to {room.settings.takes_dir}/ ; Ctrl-C closes the room",
        flush=True,
    )
    if room.settings.headset is not None:
        print("  --headset: the set is also rendered to the OpenXR headset", flush=True)
    if room.settings.show_camera:
        print("  --show-camera: viewers also see the actor's camera picture", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    status = asyncio.create_task(feed.status_loop())
    watch = asyncio.create_task(_report_errors(room))
    await stop.wait()
    print("closing the room…", file=sys.stderr, flush=True)
    status.cancel()
    watch.cancel()
    await asyncio.to_thread(room.stop)  # closes a rolling take; it is readable either way
    await feed.close()
    server.close()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(server.wait_closed(), 5)
    return 0


async def _report_errors(room: Room) -> None:
    seen = 0
    while True:
        await asyncio.sleep(0.5)
        while seen < len(room.errors):
            print(f"immersion: room: {room.errors[seen]}", file=sys.stderr, flush=True)
            seen += 1
