"""``immersion scenes list|validate|new`` and ``immersion avatars show``."""

from __future__ import annotations

import argparse
import re
import sys
from importlib import resources
from pathlib import Path

from immersion.catalogue import find_avatar, find_pack, scenes_dir, shipped_packs
from immersion.errors import PackError, StageError
from immersion.scenes.manifest import load_pack, validate_pack


def run_list(args: argparse.Namespace) -> int:
    packs = shipped_packs()
    if not packs:
        print(f"no scene packs in {scenes_dir()}")
        return 0
    for path in packs:
        problems = validate_pack(path)
        if problems:
            print(
                f"{path.name:20}  INVALID ({len(problems)} problems; run immersion scenes validate {path.name})"
            )
            continue
        pack = load_pack(path)
        print(f"{path.name:20}  {pack.title}  [{pack.production}]")
        print(
            f"{'':20}  marks: {', '.join(m.name for m in pack.marks)}; cameras: {', '.join(c.name for c in pack.cameras)}"
        )
    return 0


def run_validate(args: argparse.Namespace) -> int:
    path = find_pack(args.pack)
    problems = validate_pack(path)
    if len(problems) == 1:  # one problem, one line
        raise PackError(problems)
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print(
            f"immersion: error: {path}: {len(problems)} problem{'s' if len(problems) > 1 else ''}",
            file=sys.stderr,
        )
        return 1
    pack = load_pack(path)
    from immersion.scenes.void_check import void_warnings

    for warning in (*pack.warnings, *void_warnings(pack)):
        print(warning, file=sys.stderr)
    print(
        f"{path}: valid — {pack.title}: {len(pack.marks)} marks, {len(pack.cameras)} cameras, {len(pack.lights)} lights"
    )
    return 0


def run_new(args: argparse.Namespace) -> int:
    import trimesh

    # A bare name goes into the scenes folder (or --into); a path makes the pack right there.
    given = Path(args.name)
    if given.name != args.name:
        if args.into is not None:
            raise StageError(f"{args.name}: give a pack's path or --into DIR, not both")
        folder, name = given, given.name
    else:
        folder, name = (args.into or scenes_dir()) / args.name, args.name
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,63}", name):
        raise StageError(f"pack name {name!r}: use lower-case letters, digits and '-'")
    if folder.exists():
        raise StageError(f"{folder}: already exists")
    try:
        folder.mkdir(parents=True)
    except OSError as exc:
        raise StageError(f"{folder}: cannot create the pack ({exc.strerror})") from None
    template = resources.files("immersion.scenes").joinpath("template", "scene.toml").read_text()
    (folder / "scene.toml").write_text(template.replace("TITLE", name.replace("-", " ").title()))
    # A plain stage to start from: a floor, a back wall and two side flats.
    parts = [
        trimesh.creation.box(
            [6.0, 0.1, 5.0], trimesh.transformations.translation_matrix([0, -0.05, 0])
        ),
        trimesh.creation.box(
            [6.0, 3.0, 0.1], trimesh.transformations.translation_matrix([0, 1.5, -2.55])
        ),
        trimesh.creation.box(
            [0.1, 3.0, 2.0], trimesh.transformations.translation_matrix([-3.0, 1.5, -1.5])
        ),
        trimesh.creation.box(
            [0.1, 3.0, 2.0], trimesh.transformations.translation_matrix([3.0, 1.5, -1.5])
        ),
    ]
    for part, colour in zip(
        parts,
        ([150, 140, 130, 255], [90, 100, 120, 255], [120, 110, 100, 255], [120, 110, 100, 255]),
        strict=True,
    ):
        part.visual.vertex_colors = colour
    trimesh.util.concatenate(parts).export(folder / "set.glb")
    # The audience side, for the actor's eyes only (seen_by = "eyes"): a wall with the
    # flats carried round to it, so the actor on a mark faces a room, not a void.
    fourth = [
        trimesh.creation.box(
            [6.0, 3.0, 0.1], trimesh.transformations.translation_matrix([0, 1.5, 2.55])
        ),
        trimesh.creation.box(
            [0.1, 3.0, 3.0], trimesh.transformations.translation_matrix([-3.0, 1.5, 1.0])
        ),
        trimesh.creation.box(
            [0.1, 3.0, 3.0], trimesh.transformations.translation_matrix([3.0, 1.5, 1.0])
        ),
    ]
    for part in fourth:
        part.visual.vertex_colors = [105, 112, 125, 255]
    trimesh.util.concatenate(fourth).export(folder / "fourth-wall.glb")
    print(
        f"created {folder}: edit {folder / 'scene.toml'}, then: immersion scenes validate {folder}"
    )
    return 0


def run_avatar_show(args: argparse.Namespace) -> int:
    from immersion.avatars.vrm import NOT_STATED, inspect_avatar, load_bone_map
    from immersion.stage.materials import material_warnings

    path = find_avatar(args.avatar)
    doc, spec = inspect_avatar(path, load_bone_map(args.bone_map) if args.bone_map else None)
    lic = spec.licence
    print(
        f"{path}: {'VRM ' + spec.version if spec.version != 'gltf' else 'glTF humanoid'}, {len(spec.bones)} humanoid bones"
    )
    print(f"  title:       {lic.title}")
    print(f"  authors:     {lic.authors or 'unknown'}")
    if not lic.stated:
        print(f"  licence:     {NOT_STATED} (no licence metadata: check its rights yourself)")
    else:
        print(f"  licence:     {lic.licence or 'none stated'}")
        print(f"  performers:  {lic.performers}")
        print(f"  commercial:  {lic.commercial}")
        print(f"  credit:      {lic.credit}")
    for warning in material_warnings(doc.json):
        print(f"  {warning}")
    return 0
