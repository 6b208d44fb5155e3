"""Stage benchmarks: render + read-back per shipped pack, per cast member, and the face's cost.

    .venv/bin/python benchmarks/stage_render.py [--frames N] [--shading auto|fast|rich]
                                                [--screenshots DIR]

Tables (``--baseline FILE`` adds another avatar to table 2):
1. each pack at 720p and 1080p with the character dressed for it;
2. every character of the cast on every pack at 720p (the cast is built at set-up);
3. the face: the same frame with the body moving and the 52 ARKit weights still, then all of
   them changing every frame (morph targets are applied on the CPU by Panda3D);
4. pose apply (rig maths + joints set in Panda3D).

Targets: >= 30 fps (<= 33.3 ms a frame) at 720p on this CPU for every pack and character, with
the avatar and its shadow ("fast" shading, what "auto" picks on a software renderer); pose
apply <= 1 ms a frame. On a GPU "auto" picks "rich" (a 2048² shadow map for the key light). The
avatar is posed from a moving pose each frame so skinning is part of the cost, as it is live.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from _table import print_table

from capture.face import ARKIT, Face
from capture.pose import Pose
from capture.rotations import axis_angle_quat
from capture.skeleton import Bone
from immersion.avatars.cast import CAST
from immersion.catalogue import avatars_dir, shipped_packs
from immersion.scenes.manifest import ScenePack, load_pack
from immersion.stage.stage import SHADINGS, Stage

_PHASES = np.linspace(0.0, 2 * np.pi, len(ARKIT), endpoint=False)


def moving_pose(k: int, face: bool = False) -> Pose:
    """A body in motion; with ``face``, every ARKit weight changes too (a talking face)."""
    rest = Pose.rest(hips_height=0.9)
    rot = rest.rotations.copy()
    a = np.radians(40 * np.sin(k / 7))
    rot[Bone.LEFT_UPPER_ARM] = axis_angle_quat([0, 0, 1], a)
    rot[Bone.RIGHT_LOWER_ARM] = axis_angle_quat([0, 1, 0], a)
    rot[Bone.LEFT_UPPER_LEG] = axis_angle_quat([1, 0, 0], -a / 2)
    weights = 0.5 + 0.5 * np.sin(k / 3 + _PHASES) if face else None
    return Pose(
        k / 30,
        rest.hips,
        rot,
        np.ones(len(Bone)),
        None if weights is None else Face(weights, np.zeros(2)),
    )


def frame_times(stage: Stage, frames: int, pose: Callable[[int], Pose]) -> list[float]:
    for k in range(5):
        stage.show(pose(k))
        stage.target.bgra()
    times = []
    for k in range(frames):
        t0 = time.perf_counter()
        stage.show(pose(k))
        stage.target.bgra()
        times.append((time.perf_counter() - t0) * 1000)
    return sorted(times)


def dressed_for(pack: ScenePack) -> Path:
    """The first cast member dressed for ``pack`` (else the first of the cast)."""
    name = next((c.name for c in CAST if c.role == pack.name), CAST[0].name)
    return avatars_dir() / f"{name}.vrm"


def _stats(times: list[float]) -> list[str]:
    med = statistics.median(times)
    return [f"{med:.1f}", f"{times[int(0.95 * len(times))]:.1f}", f"{1000 / med:.0f}"]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--frames", type=int, default=40)
    parser.add_argument("--shading", choices=SHADINGS, default="auto")
    parser.add_argument(
        "--screenshots", type=Path, help="also save a 1280x720 PNG of each pack here"
    )
    parser.add_argument(
        "--baseline",
        type=Path,
        action="append",
        default=[],
        help="another avatar file to render on each pack beside the cast, for comparison "
        "(e.g. a primitive avatar from before the cast: git show 34dc351:assets/avatars/detective.vrm)",
    )
    args = parser.parse_args()
    missing = [c.name for c in CAST if not (avatars_dir() / f"{c.name}.vrm").is_file()]
    if missing:
        raise SystemExit(f"stage_render: the cast is not built ({', '.join(missing)}): ./dev setup")

    packs = [load_pack(p) for p in shipped_packs()]
    rows = []
    apply_ms: list[float] = []
    shading, renderer = args.shading, "?"
    for pack in packs:
        row: list[object] = [pack.name, dressed_for(pack).stem]
        for width, height in ((1280, 720), (1920, 1080)):
            stage = Stage.open(
                pack, dressed_for(pack), width=width, height=height, shading=args.shading
            )
            assert stage.avatar is not None
            shading = stage.shading
            renderer = stage.target.buffer.getGsg().getDriverRenderer()
            row += _stats(frame_times(stage, args.frames, moving_pose))
            for k in range(300):
                t0 = time.perf_counter()
                stage.avatar.apply(moving_pose(k))
                apply_ms.append((time.perf_counter() - t0) * 1000)
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
        ["pack", "character", "720p median", "p95", "fps", "1080p median", "p95", "fps"],
        rows,
    )

    cast_rows = []
    contenders = [(c.name, avatars_dir() / f"{c.name}.vrm") for c in CAST]
    contenders += [(f"baseline: {p.name}", p) for p in args.baseline]
    for label, path in contenders:
        row = [label]
        for pack in packs:
            stage = Stage.open(pack, path, width=1280, height=720, shading=args.shading)
            row.append(
                f"{statistics.median(frame_times(stage, args.frames // 2, moving_pose)):.1f}"
            )
            stage.close()
        cast_rows.append(row)
    print_table(
        "Each character on each pack: render + read-back per frame at 720p, median ms",
        ["avatar", *(p.name for p in packs)],
        cast_rows,
    )

    face_rows = []
    pack = packs[0]
    for character in CAST:
        stage = Stage.open(
            pack, avatars_dir() / f"{character.name}.vrm", width=1280, height=720,
            shading=args.shading,
        )  # fmt: skip
        still = statistics.median(frame_times(stage, args.frames, moving_pose))
        talking = statistics.median(
            frame_times(stage, args.frames, lambda k: moving_pose(k, face=True))
        )
        avatar = stage.avatar
        assert avatar is not None
        face_ms = []
        for k in range(200):
            t0 = time.perf_counter()
            avatar.apply(moving_pose(k, face=True))
            face_ms.append((time.perf_counter() - t0) * 1000)
        stage.close()
        face_rows.append(
            [
                character.name,
                f"{still:.1f}",
                f"{talking:.1f}",
                f"{talking - still:+.1f}",
                f"{statistics.median(face_ms):.3f}",
            ]
        )
    print_table(
        f"The face's cost on {pack.name} at 720p, ms per frame (52 ARKit morph targets)",
        ["character", "face still", "face moving", "morph cost", "apply incl. face"],
        face_rows,
    )

    apply_ms.sort()
    print_table(
        f"Pose apply (rig maths + {len(Bone)} joints set in Panda3D), ms per frame; target <= 1 ms",
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
