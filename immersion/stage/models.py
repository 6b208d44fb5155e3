"""Load a checked model file into Panda3D: glTF/GLB through panda3d-gltf, OBJ by Panda."""

from __future__ import annotations

import contextlib
import io
import sys
from pathlib import Path
from typing import Any

from immersion.errors import AssetError
from immersion.gltf_guard import GltfDocument, inspect_gltf


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
            converter.update(doc.json)
    except (KeyError, IndexError, TypeError, ValueError, AssertionError, RuntimeError) as exc:
        raise AssetError(
            f"{doc.path.name}: glTF content the loader cannot use ({type(exc).__name__}: {exc})"
        ) from None
    for line in chatter.getvalue().splitlines():
        if "with no material" not in line:  # the stage's default material covers that
            print(f"{doc.path.name}: {line}", file=sys.stderr)
    return NodePath(converter.active_scene.node())


def load_model(path: Path, root: Path) -> Any:
    """A NodePath for a .glb/.gltf/.obj inside ``root`` (checked again here, not trusted)."""
    from panda3d.core import Filename, LoaderOptions, NodePath

    if path.suffix.lower() in (".glb", ".gltf"):
        return load_gltf(inspect_gltf(path, root))
    from direct.showbase import ShowBaseGlobal

    options = LoaderOptions(LoaderOptions.LF_no_cache | LoaderOptions.LF_report_errors)
    node = ShowBaseGlobal.base.loader.loadModel(
        Filename.fromOsSpecific(str(path)), loaderOptions=options, okMissing=True
    )
    if node is None:
        raise AssetError(f"{path.name}: Panda3D could not load this OBJ file")
    return NodePath(node)
