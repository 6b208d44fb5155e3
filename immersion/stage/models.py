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
from immersion.stage.materials import (
    BLEND,
    MaterialLook,
    TextureRef,
    features_mask,
    material_look,
    shader_features,
)

# The loader is given materials renamed with their index, so each Geom's material is found again.
_TAG = "immersion-material-"


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
    view = loader_json(doc.json)
    if "materials" in view:
        view["materials"] = [dict(m, name=f"{_TAG}{i}") for i, m in enumerate(view["materials"])]
    try:
        with contextlib.redirect_stdout(chatter):  # panda3d-gltf prints its warnings
            converter.update(view)
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
    node = NodePath(converter.active_scene.node())
    _apply_looks(node, doc, converter)
    return node


def set_default_look(node: Any) -> None:
    """The shader inputs of a Geom without a glTF material: white, opaque, matte, unlit-free."""
    for key, value in _inputs(MaterialLook(metallic=0.0), {}).items():
        node.setShaderInput(key, value)


def _apply_looks(root: Any, doc: GltfDocument, converter: Any) -> None:
    """Give each Geom the shader inputs of its glTF material (materials.material_look)."""
    from panda3d.core import (
        DepthWriteAttrib,
        MaterialAttrib,
        ShaderAttrib,
        TexMatrixAttrib,
        TransparencyAttrib,
    )  # fmt: skip

    cache: dict[int, Any] = {}
    for path in root.findAllMatches("**/+GeomNode"):
        geom_node = path.node()
        for g in range(geom_node.getNumGeoms()):
            state = geom_node.getGeomState(g)
            attrib = state.getAttrib(MaterialAttrib)
            name = attrib.getMaterial().getName() if attrib and attrib.getMaterial() else ""
            if not name.startswith(_TAG):
                continue
            index = int(name[len(_TAG) :])
            if index not in cache:
                look = material_look(doc.json, index)
                for ref in (look.base_texture, look.emissive_texture):  # colours: sRGB
                    if ref is not None and ref.index in converter.textures:
                        converter.make_texture_srgb(converter.textures[ref.index])
                shader = ShaderAttrib.make()
                for key, value in _inputs(look, converter.textures).items():
                    shader = shader.setShaderInput(key, value)
                cache[index] = (look, shader)
            look, shader = cache[index]
            # The shader samples its own inputs and applies the texture transform itself (a
            # flatten must not bake it in too); the two stages only bind UV sets 0 and 1 to
            # p3d_MultiTexCoord0/1, which Panda names after the state's texture stages.
            state = state.setAttrib(shader).removeAttrib(TexMatrixAttrib)
            state = state.setAttrib(_uv_sets())
            if look.alpha_mode == BLEND:
                # Drawn after the opaque set, back to front; clear fringes are discarded in
                # the shader so that hair cards and eyelashes write depth only where seen.
                state = state.setAttrib(TransparencyAttrib.make(TransparencyAttrib.M_alpha))
                state = state.setAttrib(DepthWriteAttrib.make(DepthWriteAttrib.M_on))
            else:
                state = state.removeAttrib(TransparencyAttrib)
            geom_node.setGeomState(g, state)


FEATURES_INPUT = "u_features"
_WHITE: Any = None  # the texture of a material without one


_UV_SETS: Any = None


def _uv_sets() -> Any:
    global _UV_SETS
    from panda3d.core import InternalName, TextureAttrib, TextureStage

    if _UV_SETS is None:
        attrib = TextureAttrib.make()
        for i in range(2):
            stage = TextureStage(f"uv-set-{i}")
            stage.setTexcoordName(InternalName.getTexcoordName(str(i)))
            stage.setSort(i)
            attrib = attrib.addOnStage(stage, _plain((255, 255, 255, 255)))
        _UV_SETS = attrib
    return _UV_SETS


def _plain(colour: tuple[int, int, int, int]) -> Any:
    from panda3d.core import Texture

    tex = Texture(f"plain-{colour}")
    tex.setup2dTexture(1, 1, Texture.T_unsigned_byte, Texture.F_rgba8)
    tex.setRamImageAs(bytes(colour), "RGBA")
    return tex


def _inputs(look: MaterialLook, textures: dict[int, Any]) -> dict[str, Any]:
    """Shader input name → value for ``look``; ``textures``: the loader's, by glTF index."""
    global _WHITE
    from panda3d.core import LVector4f

    if _WHITE is None:
        _WHITE = _plain((255, 255, 255, 255))

    def texture(ref: TextureRef | None) -> tuple[Any, Any, Any]:
        tex = textures.get(ref.index) if ref is not None else None
        if ref is None or tex is None:
            return _WHITE, LVector4f(1, 0, 0, 0), LVector4f(0, 1, 0, 0)
        u, v = ref.uv
        return tex, LVector4f(*map(float, u), float(ref.uv_set)), LVector4f(*map(float, v), 0.0)

    base_tex, base_u, base_v = texture(look.base_texture)
    emit_tex, emit_u, emit_v = texture(look.emissive_texture)
    shade = look.shade
    return {
        "u_base": LVector4f(*look.base),
        "u_base_tex": base_tex,
        "u_base_u": base_u,
        "u_base_v": base_v,
        "u_emit": LVector4f(*look.emissive, 0.0),
        "u_emit_tex": emit_tex,
        "u_emit_u": emit_u,
        "u_emit_v": emit_v,
        "u_alpha": LVector4f(float(look.alpha_mode), look.cutoff, 0.0, 0.0),
        "u_shade": LVector4f(*(shade or (0.0, 0.0, 0.0)), 1.0 if shade is not None else 0.0),
        "u_pbr": LVector4f(look.metallic, look.roughness, 0.0, 0.0),
        # Not read by the shader: which variant draws this look (set_builder.bind_variants).
        FEATURES_INPUT: LVector4f(float(features_mask(shader_features(look))), 0.0, 0.0, 0.0),
    }


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
