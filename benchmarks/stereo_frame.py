"""Headset benchmark: stereo frame time (both eyes rendered, copied into the swapchain, finished)
per shipped pack, at a real headset's resolution, through a real OpenXR session.

    .venv/bin/python benchmarks/stereo_frame.py [--eye 1440x1600] [--frames N] [--shading S]

Uses the runtime in $XR_RUNTIME_JSON, else the Monado the set-up built (simulated HMD, null
compositor). Monado paces frames at 20 Hz, so the figure is the work inside a frame, not the
frame rate: pose the avatar, render both eyes (and the room's small mirror, as serve does),
copy each eye into its swapchain image, and glFinish so a lazy driver cannot hide the cost.
Target on a GPU: a 90 Hz headset's budget, <= 11.1 ms a frame. On a CPU (llvmpipe) the figure
is reported with what dominates it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

from _table import print_table
from stage_render import moving_pose

from capture.cache import cache_dir
from immersion.catalogue import find_avatar, shipped_packs
from immersion.render_cmd import parse_size
from immersion.scenes.manifest import load_pack
from immersion.stage.stage import SHADINGS, Stage


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--eye", type=parse_size, default=(1440, 1600), metavar="WxH")
    parser.add_argument("--frames", type=int, default=20)
    parser.add_argument("--shading", choices=SHADINGS, default="auto")
    args = parser.parse_args()
    if "XR_RUNTIME_JSON" not in os.environ:
        os.environ["XR_RUNTIME_JSON"] = str(
            cache_dir() / "monado-25.0.0" / "build" / "openxr_monado-dev.json"
        )
        os.environ.setdefault("XRT_COMPOSITOR_NULL", "1")

    from immersion.config import HeadsetSettings
    from immersion.headset.headset import Headset
    from immersion.xr.binding import _gl

    finish = _gl("glFinish")
    packs = [load_pack(p) for p in shipped_packs()]
    stage = Stage.open(
        packs[0], find_avatar("detective"), width=320, height=180, shading=args.shading
    )
    stage.show(None)
    headset = Headset(HeadsetSettings(eye_size=args.eye), lambda press: None)
    headset.open(stage)
    assert headset.eyes is not None
    eyes = headset.eyes
    rows = []
    renderer = str(stage.target.buffer.getGsg().getDriverRenderer())
    frames = headset.session.frames(1 / 30)
    for n, pack in enumerate(packs):
        if n:
            headset.detach()
            stage = stage.reopen(pack)
            headset.attach(stage)
        render_ms, copy_ms = [], []
        k = 0
        for frame in frames:
            if not frame.views:
                continue
            eyes.place(frame.views)
            t0 = time.perf_counter()
            stage.show(moving_pose(k))
            finish()
            t1 = time.perf_counter()
            eyes.submit(frame)
            finish()
            t2 = time.perf_counter()
            k += 1
            if k > 3:  # the first frames compile shaders and upload textures
                render_ms.append((t1 - t0) * 1e3)
                copy_ms.append((t2 - t1) * 1e3)
            if len(render_ms) >= args.frames:
                break
        total = [r + c for r, c in zip(render_ms, copy_ms, strict=True)]
        rows.append(
            [
                pack.name,
                f"{statistics.median(render_ms):.1f}",
                f"{statistics.median(copy_ms):.2f}",
                f"{statistics.median(total):.1f}",
                f"{sorted(total)[int(0.95 * (len(total) - 1))]:.1f}",
                "yes" if statistics.median(total) <= 11.1 else "no",
            ]
        )
    w, h = args.eye
    print_table(
        f"Stereo frame, 2x {w}x{h} + 320x180 mirror, {stage.shading} shading, {renderer}, "
        f"{headset.session.system_name} ({args.frames} frames each)",
        ["pack", "render ms", "copy ms", "frame ms", "p95 ms", "<= 11.1 ms"],
        rows,
    )
    frames.close()
    headset.close()
    stage.close()


if __name__ == "__main__":
    main()
