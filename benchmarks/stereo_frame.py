"""Headset benchmark: stereo frame time (both eyes rendered, copied into the swapchain, finished)
per shipped pack, through a real OpenXR session, at the runtime's recommended eye size and at
2x 2064x2208 (a current high-resolution headset); the mirror's cost; the pose interpolation's.

    .venv/bin/python benchmarks/stereo_frame.py [--eye WxH ...] [--frames N] [--shading S]

Uses the runtime in $XR_RUNTIME_JSON, else the Monado the set-up built (simulated HMD, null
compositor). Monado paces frames at 20 Hz, so the figure is the work inside a frame, not the
frame rate: interpolate the pose (the feed fed at 30 fps), pose the avatar, render both eyes,
copy each eye into its swapchain image, and glFinish so a lazy driver cannot hide the cost.
Frames take turns: with the room's mirror (rendered and read back, as serve does on the frames
it sends), without it, and without it but with a reader (a second avatar, posed each frame, on
the pack's second mark); "mirror ms" and "+reader ms" are the differences. Each eye size runs in a process of its own
(a runtime's swapchains are made once per session). A size the runtime will not give (Monado's
null compositor stops at 1920x1080) is rendered into eyes of that size posed by the runtime's
views, without the swapchain copy (the table says so). Target on a GPU: a 90 Hz headset's budget,
<= 11.1 ms a frame. On a CPU (llvmpipe) the figure is reported as it is.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import replace
from typing import Any

from _table import print_table
from stage_render import moving_pose

from capture.cache import cache_dir
from immersion.catalogue import find_avatar, shipped_packs
from immersion.render_cmd import parse_size
from immersion.scenes.manifest import load_pack
from immersion.stage.pose_feed import LatestPose
from immersion.stage.stage import SHADINGS, Stage

HIGH_RES = "2064x2208"
BUDGET_MS = 1000 / 90
CAPTURE_HZ = 30.0
RENDER_HZ = 90.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--eye",
        action="append",
        metavar="WxH",
        help=f"eye size, repeatable; 'runtime' is the runtime's own (default: runtime, {HIGH_RES})",
    )
    parser.add_argument("--frames", type=int, default=20, help="frames each way, per pack")
    parser.add_argument("--shading", choices=SHADINGS, default="rich")
    parser.add_argument("--mirror", type=parse_size, default=(1280, 720), metavar="WxH")
    parser.add_argument("--child", help=argparse.SUPPRESS)  # one eye size, JSON out
    args = parser.parse_args()
    if "XR_RUNTIME_JSON" not in os.environ:
        os.environ["XR_RUNTIME_JSON"] = str(
            cache_dir() / "monado-25.0.0" / "build" / "openxr_monado-dev.json"
        )
        os.environ.setdefault("XRT_COMPOSITOR_NULL", "1")
    if args.child is not None:
        print(json.dumps(measure(args, args.child)))
        return
    for eye in args.eye or ["runtime", HIGH_RES]:
        command = [sys.executable, __file__, "--child", eye, "--frames", str(args.frames)]
        command += ["--shading", args.shading, "--mirror", "x".join(map(str, args.mirror))]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            print(f"eye {eye}: failed\n{done.stderr[-2000:]}", file=sys.stderr)
            continue
        report = json.loads(done.stdout.strip().splitlines()[-1])
        w, h = report["eye"]
        mw, mh = args.mirror
        where = report["offscreen"] or f"{eye}, into the swapchain"
        print_table(
            f"Stereo frame, 2x {w}x{h} ({where}), {report['shading']} shading, "
            f"{report['renderer']}, {report['system']}; mirror {mw}x{mh}; "
            f"median of {args.frames} frames each way",
            [
                "pack",
                "frame ms",
                "p95 ms",
                "copy ms",
                "mirror ms",
                "+reader ms",
                "interp us",
                "<= 11.1 ms",
            ],
            report["rows"],
        )


def measure(args: argparse.Namespace, eye: str) -> dict[str, Any]:
    from immersion.config import HeadsetSettings
    from immersion.headset.eyes import Eyes
    from immersion.headset.headset import Headset
    from immersion.room.reader import READER
    from immersion.stage.avatar_actor import AvatarActor
    from immersion.xr.binding import _gl

    finish = _gl("glFinish")
    packs = [load_pack(p) for p in shipped_packs()]
    mw, mh = args.mirror
    stage = Stage.open(
        packs[0], find_avatar("detective"), width=mw, height=mh, shading=args.shading
    )
    stage.place_extra(READER, AvatarActor.load(find_avatar("saloon-owner")), 1)
    stage.show(None)
    size = None if eye == "runtime" else parse_size(eye)
    headset = Headset(HeadsetSettings(eye_size=size), lambda press: None)
    headset.open(stage)
    assert headset.eyes is not None
    runtime_eyes = headset.eyes
    eyes, offscreen = runtime_eyes, ""
    chain = (runtime_eyes.targets[0].width, runtime_eyes.targets[0].height)
    if size is not None and chain != size:
        eyes = Eyes.open(stage, *size, near=headset.settings.near)
        offscreen = f"offscreen: the runtime gives at most {chain[0]}x{chain[1]}"
    feed = LatestPose()
    tick = pushed = 0
    rows = []
    frames = headset.session.frames(1 / 30)
    for n, pack in enumerate(packs):
        if n:
            headset.detach()
            eyes.origin.detachNode()
            stage = stage.reopen(pack)
            headset.attach(stage)
            eyes.attach(stage)
        with_mirror: list[float] = []
        without: list[float] = []
        with_reader: list[float] = []
        # The reader and, with "fast" shading, its planar shadow.
        reader = [
            stage.extras[READER].actor.node,
            *stage.root.findAllMatches(f"extra-shadow-{READER}"),
        ]
        copy_ms: list[float] = []
        interp_us: list[float] = []
        k = 0
        for frame in frames:
            if not frame.views:
                continue
            runtime_eyes.place(() if offscreen else frame.views)
            eyes.place(frame.views)
            now = tick / RENDER_HZ  # the feed's clock: a 30 fps capture, shown at 90 Hz
            while pushed / CAPTURE_HZ <= now + 1 / CAPTURE_HZ:
                feed.push(replace(moving_pose(pushed, face=True), t=pushed / CAPTURE_HZ))
                pushed += 1
            tick += 1
            kind = k % 3  # 0: the mirror too, 1: the eyes alone, 2: and a reader
            mirror = kind == 0
            for node in reader:
                if kind == 2:
                    node.unstash()
                else:
                    node.stash()
            t0 = time.perf_counter()
            pose = feed.for_frame(now)
            t1 = time.perf_counter()
            extras = {READER: feed.for_frame(now - 0.5)} if kind == 2 else {}
            stage.show(pose, mirror=mirror, extras=extras)
            if mirror:
                stage.target.bgra()[::-1].copy()  # the room's own copy of the mirror picture
            finish()
            t2 = time.perf_counter()
            if not offscreen:
                eyes.submit(frame)
            finish()
            t3 = time.perf_counter()
            k += 1
            if k > 4:  # the first frames compile shaders and upload textures
                (with_mirror, without, with_reader)[kind].append((t3 - t0) * 1e3)
                copy_ms.append((t3 - t2) * 1e3)
                interp_us.append((t1 - t0) * 1e6)
            if min(len(with_mirror), len(without), len(with_reader)) >= args.frames:
                break
        frame_ms = statistics.median(without)  # the interpolation included
        mirror_ms = statistics.median(with_mirror) - statistics.median(without)
        reader_ms = statistics.median(with_reader) - statistics.median(without)
        rows.append(
            [
                pack.name,
                f"{frame_ms:.1f}",
                f"{sorted(without)[int(0.95 * (len(without) - 1))]:.1f}",
                "n/a" if offscreen else f"{statistics.median(copy_ms):.2f}",
                f"{mirror_ms:.1f}",
                f"{reader_ms:.1f}",
                f"{statistics.median(interp_us):.0f}",
                "yes" if frame_ms <= BUDGET_MS else "no",
            ]
        )
    report = {
        "eye": [eyes.targets[0].width, eyes.targets[0].height],
        "offscreen": offscreen,
        "shading": stage.shading,
        "renderer": str(stage.target.buffer.getGsg().getDriverRenderer()),
        "system": headset.session.system_name,
        "rows": rows,
    }
    frames.close()
    if eyes is not runtime_eyes:
        eyes.close()
    headset.close()
    stage.close()
    return report


if __name__ == "__main__":
    main()
