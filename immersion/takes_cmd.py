"""``immersion takes …``: actions on take files."""

from __future__ import annotations

import argparse
import json

from immersion.exports import export_take

# What ExportResult.expressions counts, per format.
_FACE = {"vrma": "expression tracks", "glb": "morph weight channels"}


def run_export(args: argparse.Namespace) -> int:
    result = export_take(
        args.take, args.format.lower(), args.out, args.avatar, progress=not args.quiet
    )
    summary = {
        "out": str(result.out),
        "format": result.format,
        "frames": result.frames,
        "frameTime": result.frame_time,
        "duration": round(result.frames * result.frame_time, 6),
        "joints": result.joints,
        "expressions": result.expressions,
        "avatar": result.avatar,
        "licence": result.licence,
    }
    if args.json:
        print(json.dumps(summary, indent=2))
    elif not args.quiet:
        on = f" on {result.avatar}" if result.avatar else " on the normalized skeleton"
        print(
            f"wrote {result.out} ({result.format}{on}): {result.frames} frames at "
            f"{1.0 / result.frame_time:.3g} fps, {result.joints} joints"
            + (f", {result.expressions} {_FACE[result.format]}" if result.expressions else "")
        )
        if result.format == "glb" and result.licence:
            # The file carries the avatar: its terms go with it.
            print(f"avatar: {result.licence}")
    return 0
