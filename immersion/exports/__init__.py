"""``immersion takes export``: a take written for the tools animators use.

- **bvh**: :mod:`~immersion.exports.bvh`, hierarchy from the avatar (T-posed) or the
  normalized skeleton;
- **vrma**: :mod:`~immersion.exports.vrma`, VRM Animation (``VRMC_vrm_animation`` 1.0);
- **glb**: :mod:`~immersion.exports.glb`, the avatar itself with the take as a glTF animation.

Every format takes its motion from :func:`~immersion.exports.motion.solve_motion`, the maths
that poses the room's avatars (:meth:`immersion.avatars.rig.Rig.solve`).
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from capture.take import read_take
from immersion.avatars.vrm import AvatarSpec, inspect_avatar
from immersion.catalogue import find_avatar
from immersion.errors import ExportError
from immersion.exports.bvh import bvh_text
from immersion.exports.glb import avatar_glb
from immersion.exports.motion import solve_motion, take_motion
from immersion.exports.rigs import avatar_rig, normalized_rig, t_posed
from immersion.exports.vrma import vrma_bytes
from immersion.gltf_guard import GltfDocument

FORMATS = ("bvh", "glb", "vrma")


@dataclass(frozen=True)
class ExportResult:
    out: Path
    format: str
    frames: int
    frame_time: float
    joints: int
    expressions: int  # VRMA expression tracks, GLB morph channels; 0 for BVH
    avatar: str | None
    licence: str | None  # the avatar's licence summary: a GLB carries the avatar itself


def export_take(
    take_path: Path,
    fmt: str,
    out: Path,
    avatar: str | None = None,
    *,
    progress: bool = True,
) -> ExportResult:
    """Write ``take_path`` as ``fmt`` to ``out`` (replaced atomically: a failed export leaves
    no half-written file). ``avatar``: a catalogue name or a file; required for glb."""
    if fmt not in FORMATS:
        raise ExportError(f"unknown export format {fmt!r} (choose one of: {', '.join(FORMATS)})")
    if fmt == "glb" and avatar is None:
        raise ExportError("--format glb needs --avatar NAME: the animation is put on that avatar")
    if out.exists() and take_path.exists() and out.resolve() == take_path.resolve():
        raise ExportError(f"{out}: is the take itself; choose another --out")
    take = read_take(take_path)
    motion = take_motion(take, take_path)
    loaded: tuple[GltfDocument, AvatarSpec] | None = None
    if avatar is not None:
        path = find_avatar(avatar)
        if out.exists() and out.resolve() == path.resolve():
            raise ExportError(f"{out}: is the avatar itself; choose another --out")
        loaded = inspect_avatar(path)
    name = loaded[0].path.name if loaded else None
    if fmt == "glb":
        assert loaded is not None  # refused above without an avatar
        rig, nodes = avatar_rig(loaded[0].json, loaded[1], loaded[0].path.name)
        rotations, hips = solve_motion(rig, motion, progress=progress)
        data, morphs = avatar_glb(loaded[0], rig, nodes, motion, rotations, hips)
        joints, expressions = len(rig.bones), morphs
    else:
        if loaded is not None:
            full, _ = avatar_rig(loaded[0].json, loaded[1], loaded[0].path.name)
            rig = t_posed(full, loaded[0].path.name)
        else:
            rig = normalized_rig()
        rotations, hips = solve_motion(rig, motion, progress=progress)
        joints = len(rig.bones)
        if fmt == "bvh":
            data = bvh_text(rig, motion.frame_time, rotations, hips).encode()
            expressions = 0
        else:
            data, expressions = vrma_bytes(rig, motion, rotations, hips)
    _write(out, data)
    licence = loaded[1].licence.summary() if loaded else None
    frames, step = len(motion.poses), motion.frame_time
    return ExportResult(out, fmt, frames, step, joints, expressions, name, licence)


def _write(out: Path, data: bytes) -> None:
    """Write next to ``out`` then rename: readers never see half a file."""
    if out.is_dir():
        raise ExportError(f"{out}: is a folder; --out names the file to write")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
    except OSError as exc:
        raise ExportError(f"{out}: cannot write ({exc.strerror})") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, out)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise ExportError(f"{out}: cannot write ({exc.strerror})") from None
