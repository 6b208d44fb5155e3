"""``immersion avatars new|list``: build a character like the shipped cast; list the avatars."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from immersion.catalogue import avatars_dir
from immersion.errors import StageError


def run_new(args: argparse.Namespace) -> int:
    """Build one character; a bad value is one line and exit status 2."""
    from immersion.avatars.cast import Character, write_avatar

    try:
        age = float(args.age)
        height = None if args.height is None else float(args.height)
    except ValueError:
        print(f"immersion: error: age/height must be numbers, got {args.age!r}/{args.height!r}",
              file=sys.stderr)  # fmt: skip
        return 2
    name = args.name
    if not name.replace("-", "").replace("_", "").isalnum() or len(name) > 40:
        print(f"immersion: error: name {name!r}: letters, digits, - and _ (up to 40)",
              file=sys.stderr)  # fmt: skip
        return 2
    spec = Character(
        name,
        args.title or name.replace("-", " ").title(),
        args.gender,
        age,
        args.build,
        args.skin,
        args.outfit,
        height,
        hair=args.hair,
        hair_style=args.hair_style,
        eyes=args.eyes,
    )
    out: Path = args.out or avatars_dir() / f"{name}.vrm"
    try:
        spec.check()
    except StageError as exc:
        print(f"immersion: error: {exc}", file=sys.stderr)
        return 2
    if out.exists() and not args.force:
        print(f"immersion: error: {out}: already exists (--force replaces it)", file=sys.stderr)
        return 2
    if not out.parent.is_dir():
        print(f"immersion: error: {out.parent}: no such folder", file=sys.stderr)
        return 2
    print(f"building {name}: {spec.gender}, {age:g} years, {spec.build}, {spec.skin} skin, "
          f"{spec.outfit} …", file=sys.stderr)  # fmt: skip
    start = time.perf_counter()
    built = write_avatar(spec, out)
    print(
        f"{out}: {built.triangles} triangles, {built.height_m:.2f} m, "
        f"{len(built.data) / 1e6:.1f} MB ({time.perf_counter() - start:.1f} s)"
    )
    return 0


def run_list(args: argparse.Namespace) -> int:
    """The avatars in the catalogue: name, file, licence summary, triangles."""
    from immersion.avatars.vrm import inspect_avatar
    from immersion.catalogue import avatar_names

    rows = []
    for name in avatar_names():
        path = avatars_dir() / f"{name}.vrm"
        doc, spec = inspect_avatar(path)
        rows.append(
            {
                "name": name,
                "path": str(path),
                "title": spec.licence.title,
                "licence": spec.licence.licence or "not stated",
                "performers": spec.licence.performers,
                "commercial": spec.licence.commercial,
                "triangles": _triangles(doc.json),
            }
        )
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print(f"no avatars in {avatars_dir()} (run ./dev setup to build the cast)")
        return 0
    for r in rows:
        print(f"{r['name']:<14} {r['triangles']:>6} triangles  {r['title']}; licence: "
              f"{r['licence']}  ({r['path']})")  # fmt: skip
    return 0


def _triangles(doc: dict[str, object]) -> int:
    meshes = doc.get("meshes")
    accessors = doc.get("accessors")
    total = 0
    if isinstance(meshes, list) and isinstance(accessors, list):
        for mesh in meshes:
            for prim in mesh.get("primitives", []) if isinstance(mesh, dict) else []:
                idx = prim.get("indices") if isinstance(prim, dict) else None
                if isinstance(idx, int) and 0 <= idx < len(accessors):
                    total += int(accessors[idx].get("count", 0)) // 3
    return total
