"""Side by side: what a split mirror picture costs per frame against the single view.

    .venv/bin/python benchmarks/side_by_side.py [--frames N] [--rounds N] [--pack NAME]
                                                [--shading auto|fast|rich] [--size WxH]

One stage at the room's default picture size (RoomSettings, 1280x720): the single view with one
avatar, then 2, 3 and 4 strips (Stage.split) with one avatar each, all on the pack's first mark,
as takes compared side by side stand. A frame is what the room's render loop does for the
mirror: every performer in view posed from a moving pose (pose apply), render, read back (the
BGRA view the feed's encoder takes). The configurations take turns in blocks of --frames frames,
--rounds times (interleaved, so a slow spell of a shared machine falls on all of them), and the
table gives each one's median over all its frames and its ratio to the single view's median.
The extras of the strips a configuration lacks stay on the stage unposed and unseen (no camera
sees them, so Panda's cull skips them), as a room switching between 1 and 4 takes has them.
"""

from __future__ import annotations

import argparse
import statistics
import time

from _table import print_table
from stage_render import dressed_for, moving_pose

from capture.pose import Pose
from immersion.avatars.cast import CAST
from immersion.catalogue import avatars_dir, find_pack
from immersion.config import RoomSettings
from immersion.render_cmd import parse_size
from immersion.scenes.manifest import load_pack
from immersion.stage.avatar_actor import AvatarActor
from immersion.stage.stage import MAX_COLUMNS, SHADINGS, Stage

_DEFAULT = RoomSettings(source="", scene="", avatar="")


def _frame(stage: Stage, columns: int, k: int) -> float:
    """One mirror frame with ``columns`` performers in view, in ms."""
    extras: dict[str, Pose | None] = {
        f"take-{c}": moving_pose(k + 11 * c) for c in range(1, columns)
    }
    t0 = time.perf_counter()
    stage.show(moving_pose(k), extras=extras)
    stage.target.bgra()
    return (time.perf_counter() - t0) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--frames", type=int, default=10, help="frames per block (default 10)")
    parser.add_argument("--rounds", type=int, default=4, help="blocks per configuration")
    parser.add_argument("--pack", default="western-saloon", help="scene pack (default %(default)s)")
    parser.add_argument("--shading", choices=SHADINGS, default="auto")
    parser.add_argument(
        "--size",
        type=parse_size,
        default=(_DEFAULT.width, _DEFAULT.height),
        metavar="WxH",
        help=f"mirror picture size (default: the room's, {_DEFAULT.width}x{_DEFAULT.height})",
    )
    args = parser.parse_args()
    pack = load_pack(find_pack(args.pack))
    main_avatar = dressed_for(pack)
    others = [c.name for c in CAST if c.name != main_avatar.stem][: MAX_COLUMNS - 1]
    missing = [n for n in [main_avatar.stem, *others] if not (avatars_dir() / f"{n}.vrm").is_file()]
    if missing:
        raise SystemExit(f"side_by_side: the cast is not built ({', '.join(missing)}): ./dev setup")
    width, height = args.size
    stage = Stage.open(pack, main_avatar, width=width, height=height, shading=args.shading)
    try:
        for c, name in enumerate(others, start=1):
            stage.place_extra(f"take-{c}", AvatarActor.load(avatars_dir() / f"{name}.vrm"), 0, c)
        times: dict[int, list[float]] = {n: [] for n in range(1, MAX_COLUMNS + 1)}
        k = 0
        for _ in range(args.rounds):
            for columns in times:
                stage.split(columns)
                for _ in range(3):  # the new regions' first frames
                    _frame(stage, columns, k)
                for _ in range(args.frames):
                    times[columns].append(_frame(stage, columns, k))
                    k += 1
        renderer = stage.target.buffer.getGsg().getDriverRenderer()
        shading = stage.shading
    finally:
        stage.close()
    single = statistics.median(times[1])
    rows = []
    for columns, ms in times.items():
        ms.sort()
        med = statistics.median(ms)
        view = "single view" if columns == 1 else f"{columns} strips"
        rows.append(
            [
                view,
                ", ".join([main_avatar.stem, *others[: columns - 1]]),
                f"{med:.1f}",
                f"{ms[int(0.95 * len(ms))]:.1f}",
                f"{1000 / med:.0f}",
                f"{med / single:.2f}",
            ]
        )
    print_table(
        f"Side by side on {pack.name} at {width}x{height}, {shading} shading on {renderer}: "
        f"pose apply + render + read back, ms per frame ({args.rounds} interleaved rounds "
        f"of {args.frames} frames each)",
        ["view", "avatars", "median", "p95", "fps", "x single"],
        rows,
    )


if __name__ == "__main__":
    main()
