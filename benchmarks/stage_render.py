"""Stage benchmarks: render + read-back per shipped pack at 720p and 1080p, and pose-apply cost.

    .venv/bin/python benchmarks/stage_render.py [--frames N] [--shading auto|fast|rich]
                                                [--screenshots DIR]

Targets: >= 30 fps (<= 33.3 ms a frame) at 720p on this CPU for every pack, with the avatar
and its shadow ("fast" shading, what "auto" picks on a software renderer); pose apply <= 1 ms
a frame. On a GPU "auto" picks "rich" (a 2048² shadow map for the key light). The avatar is posed from a moving pose each frame
so skinning is part of the cost, as it is live.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
from _table import print_table

from capture.pose import Pose
from capture.rotations import axis_angle_quat
from capture.skeleton import Bone
from immersion.catalogue import avatars_dir, shipped_packs
from immersion.scenes.manifest import load_pack
from immersion.stage.stage import SHADINGS, Stage


def moving_pose(k: int) -> Pose:
    rest = Pose.rest(hips_height=0.9)
    rot = rest.rotations.copy()
    a = np.radians(40 * np.sin(k / 7))
    rot[Bone.LEFT_UPPER_ARM] = axis_angle_quat([0, 0, 1], a)
    rot[Bone.RIGHT_LOWER_ARM] = axis_angle_quat([0, 1, 0], a)
    rot[Bone.LEFT_UPPER_LEG] = axis_angle_quat([1, 0, 0], -a / 2)
    return Pose(k / 30, rest.hips, rot, np.ones(len(Bone)))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--frames", type=int, default=40)
    parser.add_argument("--shading", choices=SHADINGS, default="auto")
    parser.add_argument(
        "--screenshots", type=Path, help="also save a 1280x720 PNG of each pack here"
    )
    args = parser.parse_args()

    rows = []
    apply_ms: list[float] = []
    shading, renderer = args.shading, "?"
    for pack_dir in shipped_packs():
        pack = load_pack(pack_dir)
        avatar = avatars_dir() / (
            "captain.vrm"
            if pack.name in ("starship-bridge", "enchanted-forest")
            else "detective.vrm"
        )
        row: list[object] = [pack.name]
        for width, height in ((1280, 720), (1920, 1080)):
            stage = Stage.open(pack, avatar, width=width, height=height, shading=args.shading)
            assert stage.avatar is not None
            shading = stage.shading
            renderer = stage.target.buffer.getGsg().getDriverRenderer()
            for k in range(5):
                stage.show(moving_pose(k))
                stage.target.bgra()
            times = []
            for k in range(args.frames):
                t0 = time.perf_counter()
                stage.show(moving_pose(k))
                stage.target.bgra()
                times.append((time.perf_counter() - t0) * 1000)
            for k in range(300):
                t0 = time.perf_counter()
                stage.avatar.apply(moving_pose(k))
                apply_ms.append((time.perf_counter() - t0) * 1000)
            med = statistics.median(times)
            row += [
                f"{med:.1f}",
                f"{sorted(times)[int(0.95 * len(times))]:.1f}",
                f"{1000 / med:.0f}",
            ]
            if args.screenshots and width == 1280:
                args.screenshots.mkdir(parents=True, exist_ok=True)
                stage.show(Pose.rest(hips_height=0.9))
                from panda3d.core import Filename

                stage.target.texture.write(
                    Filename.fromOsSpecific(str(args.screenshots / f"{pack.name}.png"))
                )
            stage.close()
        rows.append(row)
    print_table(
        f"Render + read-back per frame, ms: {shading} shading on {renderer} "
        "(avatar skinned from a moving pose)",
        ["pack", "720p median", "720p p95", "720p fps", "1080p median", "1080p p95", "1080p fps"],
        rows,
    )
    apply_ms.sort()
    print_table(
        "Pose apply (rig maths + 22 joints set in Panda3D), ms per frame; target <= 1 ms",
        ["median", "p95", "max"],
        [
            [
                f"{statistics.median(apply_ms):.3f}",
                f"{apply_ms[int(0.95 * len(apply_ms))]:.3f}",
                f"{apply_ms[-1]:.3f}",
            ]
        ],
    )


if __name__ == "__main__":
    main()
