"""``immersion render --view actor|actor-360``: the actor's own view from a mark, to a PNG."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from immersion.catalogue import find_pack
from immersion.errors import PackError, RenderError
from immersion.scenes.manifest import load_pack
from immersion.stage.actor_view import ActorView, Image, equirect_from_cube, face_size
from immersion.stage.stage import Stage

VIEWS = ("camera", "actor", "actor-360")


def run_view(args: argparse.Namespace) -> int:
    """Render ``args.view`` ("actor" or "actor-360"); a mark the pack lacks is exit 2."""
    from immersion.render_cmd import _frame_times, _performance, _poses_at, load_avatar

    out: Path = args.out
    if out.suffix.lower() != ".png":
        raise RenderError(f"{out}: --view {args.view} writes one picture, NAME.png")
    if out.exists():
        raise RenderError(f"{out}: already exists (renders never overwrite)")
    if not out.parent.is_dir():
        raise RenderError(f"{out.parent}: no such folder")
    pack = load_pack(find_pack(args.scene))
    try:
        mark = pack.mark(args.mark)
    except PackError as exc:
        print(f"immersion: error: {exc}", file=sys.stderr)
        return 2
    avatar = load_avatar(args)
    performance = _performance(args)
    *_, (_t, pose) = _poses_at(performance.poses, _frame_times(performance, "png", args.at))
    panorama = args.view == "actor-360"
    width, height = args.size
    if panorama:  # equirectangular: 360° across, 180° down
        height = max(16, width // 2)
    side = face_size(width)
    stage = Stage.open(
        pack,
        avatar,
        width=side if panorama else width,
        height=side if panorama else height,
        mark=mark.name,
        shading=args.shading,
    )
    facing = mark.facing if args.facing is None else args.facing
    started = time.perf_counter()
    try:
        stage.show(pose)  # the pose first: the eyes are the avatar's
        view = ActorView.open(stage)
        if panorama:
            faces, rotations = view.cube_faces(facing)
            picture = equirect_from_cube(faces, rotations, width, height)
        else:
            picture = view.render(facing)
        view.close()
    finally:
        stage.close()
    _save(picture, out)
    if not args.quiet:
        print(
            f"wrote {out} ({args.view} from mark {mark.name} facing {facing:g}°, "
            f"{width}x{height}, {time.perf_counter() - started:.1f} s)",
            file=sys.stderr,
        )
    return 0


def _save(rgb: Image, path: Path) -> None:
    from PIL import Image as PilImage

    try:
        PilImage.fromarray(rgb).save(path)
    except OSError as exc:
        raise RenderError(f"{path}: could not be written ({exc.strerror or exc})") from None
