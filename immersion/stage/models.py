"""Load a checked model file into Panda3D through panda3d-gltf; OBJ is turned into GLB first."""

from __future__ import annotations

import contextlib
import io
import struct
import sys
from pathlib import Path
from typing import Any

from immersion.errors import AssetError
from immersion.gltf_guard import GltfDocument, inspect_glb_bytes, inspect_gltf, loader_json
from immersion.safe_files import MAX_FILE_BYTES, read_bounded


def load_gltf(doc: GltfDocument) -> Any:
    """A NodePath for a document :func:`inspect_gltf` accepted; buffers come from ``doc``."""
    from gltf._converter import Converter, GltfSettings
    from panda3d.core import Filename, NodePath

    class _CheckedBuffers(Converter):  # type: ignore[misc]
        def load_buffer(self, buffid: int, gltf_buffer: dict[str, Any]) -> None:
            self.buffers[buffid] = doc.buffers[buffid]

    converter = _CheckedBuffers(
        Filename.fromOsSpecific(str(doc.path)), GltfSettings(skip_animations=True)
    )
    chatter = io.StringIO()
    try:
        with contextlib.redirect_stdout(chatter):  # panda3d-gltf prints its warnings
            converter.update(loader_json(doc.json))
    # A backstop: inspect_gltf refuses what the loader is known to fail on.
    except (
        KeyError, IndexError, TypeError, ValueError, AssertionError, RuntimeError,
        AttributeError, ArithmeticError, struct.error,
    ) as exc:  # fmt: skip
        raise AssetError(
            f"{doc.path.name}: glTF content the loader cannot use ({type(exc).__name__}: {exc})"
        ) from None
    for line in chatter.getvalue().splitlines():
        if "with no material" not in line:  # the stage's default material covers that
            print(f"{doc.path.name}: {line}", file=sys.stderr)
    return NodePath(converter.active_scene.node())


def load_model(path: Path, root: Path) -> Any:
    """A NodePath for a .glb/.gltf/.obj inside ``root`` (checked again here, not trusted)."""
    if path.suffix.lower() == ".obj":
        return load_gltf(inspect_glb_bytes(obj_as_glb(path, root), path, root))
    return load_gltf(inspect_gltf(path, root))


def obj_as_glb(path: Path, root: Path) -> bytes:
    """An OBJ's geometry (and vertex colours) as GLB, so every model takes the one checked
    glTF path. Materials (``mtllib``) are not followed: no file beyond the OBJ is opened.
    Without ``vn`` normals the faces are shaded flat, as modelling tools show them."""
    import trimesh

    raw = read_bounded(path, MAX_FILE_BYTES, path.name)
    try:
        mesh = trimesh.load(io.BytesIO(raw), file_type="obj", force="mesh", process=False)
    except Exception as exc:  # trimesh raises many kinds on malformed text
        raise AssetError(f"{path.name}: not an OBJ file trimesh can read ({exc})") from None
    if not isinstance(mesh, trimesh.Trimesh) or len(mesh.faces) == 0:
        raise AssetError(f"{path.name}: the OBJ file has no faces")
    if b"\nvn " not in raw:
        mesh = mesh.copy()
        mesh.unmerge_vertices()
    glb: bytes = trimesh.exchange.gltf.export_glb(mesh, include_normals=True)  # type: ignore[no-untyped-call]
    return glb
