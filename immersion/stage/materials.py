"""glTF materials as the stage's shader reads them: pure JSON → numbers, no engine.

panda3d-gltf turns a material into Panda state that the stage's own shader (lit.frag) does not
read in full: the texture transform, emissive texture, alpha mode and cutoff, and VRM's MToon
materials. :func:`material_look` reads them from the document (VRM 0.x ``materialProperties``
and VRM 1.0 ``VRMC_materials_mtoon`` folded in); models.py hands the result to the shader per
Geom. :func:`material_warnings` names what is not rendered, for ``scenes validate`` and
``avatars show``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

F = NDArray[np.float64]
OPAQUE, MASK, BLEND = 0, 1, 2
_MODES = {"OPAQUE": OPAQUE, "MASK": MASK, "BLEND": BLEND}
# Extensions the look reads; any other material extension is named in a warning.
_READ = {"KHR_materials_emissive_strength", "KHR_texture_transform", "VRMC_materials_mtoon"}
_IGNORED_QUIETLY = {"KHR_materials_ior"}  # no visible effect without refraction


@dataclass(frozen=True)
class TextureRef:
    """A texture (``index`` into ``textures``) read from UV set ``uv_set`` through ``uv``:
    two rows of the 2x3 matrix taking Panda's UVs (v up) to the texture's."""

    index: int
    uv_set: int
    uv: F


@dataclass(frozen=True)
class MaterialLook:
    base: tuple[float, float, float, float] = (1.0, 1.0, 1.0, 1.0)
    base_texture: TextureRef | None = None
    emissive: tuple[float, float, float] = (0.0, 0.0, 0.0)
    emissive_texture: TextureRef | None = None
    alpha_mode: int = OPAQUE
    cutoff: float = 0.5
    metallic: float = 1.0
    roughness: float = 1.0
    shade: tuple[float, float, float] | None = None  # MToon's shade colour (linear)


# Shader variants (lit.frag's #defines): a pixel pays only for what its material uses.
FEATURES = (
    "BASE_TEX",
    "TEX_TRANSFORM",
    "EMISSIVE_TEX",
    "SPECULAR",
    "MTOON",
    "ALPHA_MASK",
    "ALPHA_BLEND",
)
# The highlight is scaled by 1 - roughness²: from here up, on a dielectric, it is below 1/255.
MATTE_ROUGHNESS = 0.97


def _plain_uv(ref: TextureRef) -> bool:
    return ref.uv_set == 0 and bool(np.allclose(ref.uv, np.eye(3)[:2]))


def shader_features(look: MaterialLook) -> frozenset[str]:
    """The lit.frag defines ``look`` needs (a subset of FEATURES); a matte, opaque, untextured
    material needs none. A plain emissive factor is always added (one uniform, no define)."""
    out = set()
    refs = []
    if look.base_texture is not None:
        out.add("BASE_TEX")
        refs.append(look.base_texture)
    if look.emissive_texture is not None and any(look.emissive):
        out.add("EMISSIVE_TEX")
        refs.append(look.emissive_texture)
    if any(not _plain_uv(r) for r in refs):
        out.add("TEX_TRANSFORM")
    if look.shade is not None:
        out.add("MTOON")  # MToon replaces the lit colour, highlight included
    elif look.metallic > 0.0 or look.roughness < MATTE_ROUGHNESS:
        out.add("SPECULAR")
    if look.alpha_mode == MASK:
        out.add("ALPHA_MASK")
    elif look.alpha_mode == BLEND:
        out.add("ALPHA_BLEND")
    return frozenset(out)


def features_mask(features: frozenset[str]) -> int:
    """``features`` as bits (FEATURES' order): a shader input carries it with the Geom."""
    return sum(1 << i for i, name in enumerate(FEATURES) if name in features)


def mask_features(mask: int) -> frozenset[str]:
    return frozenset(name for i, name in enumerate(FEATURES) if mask >> i & 1)


def _floats(value: Any, n: int, default: tuple[float, ...]) -> tuple[float, ...]:
    if isinstance(value, list) and len(value) >= n and all(_finite(v) for v in value[:n]):
        return tuple(float(v) for v in value[:n])
    return default


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _float(value: Any, default: float) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    return float(value) if ok else default


def _texture(info: Any, textures: int) -> TextureRef | None:
    """A glTF textureInfo (already checked by gltf_guard) with its KHR_texture_transform."""
    if not isinstance(info, dict):
        return None
    index = info.get("index")
    if not isinstance(index, int) or not 0 <= index < textures:
        return None
    uv_set = info.get("texCoord", 0)
    ext = info.get("extensions", {})
    tt = ext.get("KHR_texture_transform") if isinstance(ext, dict) else None
    m = np.eye(3)
    if isinstance(tt, dict):
        ox, oy = _floats(tt.get("offset"), 2, (0.0, 0.0))
        sx, sy = _floats(tt.get("scale"), 2, (1.0, 1.0))
        r = _float(tt.get("rotation"), 0.0)
        c, s = math.cos(r), math.sin(r)
        # The extension's matrix: translation · rotation · scale, in glTF's UVs (v down).
        t = np.array([[1.0, 0, ox], [0, 1, oy], [0, 0, 1]])
        rot = np.array([[c, s, 0], [-s, c, 0], [0, 0, 1.0]])
        m = t @ rot @ np.diag([sx, sy, 1.0])
        uv_set = tt.get("texCoord", uv_set)
    flip = np.array([[1.0, 0, 0], [0, -1, 1], [0, 0, 1]])  # Panda's v = 1 - glTF's
    uv_set = uv_set if isinstance(uv_set, int) and 0 <= uv_set < 2 else 0
    return TextureRef(index, uv_set, (flip @ m @ flip)[:2])


def _srgb_to_linear(c: tuple[float, ...]) -> tuple[float, float, float]:
    a = np.asarray(c[:3], dtype=np.float64)
    out = np.where(a <= 0.04045, a / 12.92, ((a + 0.055) / 1.055) ** 2.4)
    return (float(out[0]), float(out[1]), float(out[2]))


def material_look(doc: dict[str, Any], index: int) -> MaterialLook:
    """What the shader needs of ``materials[index]`` in a document gltf_guard accepted."""
    materials = doc.get("materials", [])
    mat = materials[index]
    textures = len(doc.get("textures", []))
    pbr = mat.get("pbrMetallicRoughness", {})
    ext = mat.get("extensions", {})
    base = _floats(pbr.get("baseColorFactor"), 4, (1.0, 1.0, 1.0, 1.0))
    emissive = _floats(mat.get("emissiveFactor"), 3, (0.0, 0.0, 0.0))
    strength = ext.get("KHR_materials_emissive_strength", {})
    if isinstance(strength, dict):
        k = _float(strength.get("emissiveStrength"), 1.0)
        emissive = tuple(e * k for e in emissive)
    look = dict(
        base=base,
        base_texture=_texture(pbr.get("baseColorTexture"), textures),
        emissive=emissive,
        emissive_texture=_texture(mat.get("emissiveTexture"), textures),
        alpha_mode=_MODES.get(mat.get("alphaMode", "OPAQUE"), OPAQUE),
        cutoff=_float(mat.get("alphaCutoff"), 0.5),
        metallic=_float(pbr.get("metallicFactor"), 1.0),
        roughness=_float(pbr.get("roughnessFactor"), 1.0),
        shade=None,
    )
    mtoon1 = ext.get("VRMC_materials_mtoon")
    if isinstance(mtoon1, dict):
        shade = _floats(mtoon1.get("shadeColorFactor"), 3, (1.0, 1.0, 1.0))
        look["shade"] = shade  # linear already, like every VRM 1.0 colour factor
    mtoon0 = _vrm0_mtoon(doc, mat)
    if mtoon0 is not None:
        look.update(mtoon0(textures))
    return MaterialLook(**look)  # type: ignore[arg-type]


def _vrm0_mtoon(doc: dict[str, Any], mat: dict[str, Any]) -> Any:
    """VRM 0.x: ``extensions.VRM.materialProperties`` entry named like ``mat``, shader MToon."""
    vrm = doc.get("extensions", {}).get("VRM") if isinstance(doc.get("extensions"), dict) else None
    props = vrm.get("materialProperties") if isinstance(vrm, dict) else None
    if not isinstance(props, list):
        return None
    found = next(
        (p for p in props if isinstance(p, dict) and p.get("name") == mat.get("name")), None
    )
    if found is None or found.get("shader") != "VRM/MToon":
        return None

    def read(textures: int) -> dict[str, Any]:
        vec = found.get("vectorProperties", {})
        flt = found.get("floatProperties", {})
        tex = found.get("textureProperties", {})
        vec = vec if isinstance(vec, dict) else {}
        flt = flt if isinstance(flt, dict) else {}
        tex = tex if isinstance(tex, dict) else {}
        out: dict[str, Any] = {}
        if "_Color" in vec:  # VRM 0.x colours are sRGB (Unity's gamma-space inspector)
            c = _floats(vec["_Color"], 4, (1.0, 1.0, 1.0, 1.0))
            out["base"] = (*_srgb_to_linear(c), c[3])
        if "_ShadeColor" in vec:
            out["shade"] = _srgb_to_linear(_floats(vec["_ShadeColor"], 3, (1.0, 1.0, 1.0)))
        if "_EmissionColor" in vec:
            out["emissive"] = _srgb_to_linear(_floats(vec["_EmissionColor"], 3, (0.0, 0.0, 0.0)))
        main = tex.get("_MainTex")
        if isinstance(main, int) and 0 <= main < textures:
            offset_scale = _floats(vec.get("_MainTex"), 4, (0.0, 0.0, 1.0, 1.0))
            info = {
                "index": main,
                "extensions": {
                    "KHR_texture_transform": {
                        "offset": list(offset_scale[:2]),
                        "scale": list(offset_scale[2:]),
                    }
                },
            }
            out["base_texture"] = _texture(info, textures)
        blend = _float(flt.get("_BlendMode"), -1.0)
        queue = found.get("renderQueue")
        if blend == 1.0 or (blend < 0 and isinstance(queue, int) and 2450 <= queue < 3000):
            out["alpha_mode"], out["cutoff"] = MASK, _float(flt.get("_Cutoff"), 0.5)
        elif blend >= 2.0 or (blend < 0 and isinstance(queue, int) and queue >= 3000):
            out["alpha_mode"] = BLEND
        elif blend == 0.0:
            out["alpha_mode"] = OPAQUE
        out["metallic"], out["roughness"] = 0.0, 1.0  # toon: no highlights
        return out

    return read


def material_warnings(doc: dict[str, Any]) -> list[str]:
    """One line per material feature the stage does not render (warnings, not errors)."""
    out = []
    for i, mat in enumerate(doc.get("materials", [])):
        label = (
            f"material {mat.get('name', i)!r}"
            if isinstance(mat.get("name"), str)
            else f"materials[{i}]"
        )
        ext = mat.get("extensions", {})
        for key in sorted(ext) if isinstance(ext, dict) else ():
            if key not in _READ and key not in _IGNORED_QUIETLY:
                out.append(f"{label}: {key} not supported (warning)")
        pbr = mat.get("pbrMetallicRoughness", {})
        for where, key, what in (
            (mat, "normalTexture", "normal map not rendered"),
            (mat, "occlusionTexture", "occlusion map not rendered"),
            (pbr, "metallicRoughnessTexture", "rendered with its metallic/roughness factors only"),
        ):
            if isinstance(where, dict) and key in where:
                out.append(f"{label}: {key} {what} (warning)")
        for where, key in ((pbr, "baseColorTexture"), (mat, "emissiveTexture")):
            info = where.get(key) if isinstance(where, dict) else None
            if isinstance(info, dict):
                tt = info.get("extensions", {}).get("KHR_texture_transform", {})
                uv_set = tt.get("texCoord", info.get("texCoord", 0)) if isinstance(tt, dict) else 0
                if isinstance(uv_set, int) and uv_set > 1:
                    out.append(
                        f"{label}: {key} on UV set {uv_set}; only sets 0 and 1 are read (warning)"
                    )
    return out
