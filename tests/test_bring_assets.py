"""Sets and avatars people bring: Draco meshes, texture transforms, emissive, alpha modes, MToon
and metallic-roughness materials, rendered on the offscreen stage and checked in pixels; what is
not rendered is a warning from ``scenes validate`` and ``avatars show``."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from immersion.errors import AssetError
from immersion.scenes.manifest import load_pack, validate_pack
from immersion.stage.materials import material_look, material_warnings
from immersion.stage.models import load_model
from immersion.stage.stage import Stage
from tests.assets_helpers import new_pack, split_glb
from tests.bring_helpers import card_glb, draco_glb
from tests.support import run_cli

W, H = 160, 120
CARD_AT = (0.0, 1.2, 0.5)  # in front of the template's back wall, facing the "wide" camera
BACK_LIT = """
[[lights]]
type = "ambient"
colour = "#ffffff"
intensity = 0.25

[[lights]]
type = "directional"
colour = "#ffffff"
intensity = 1.0
direction = [0.0, 0.0, 1.0]
"""


def _pack(tmp_path: Path, card: bytes | None, lights: str | None = None, name: str = "p") -> Path:
    folder = new_pack(tmp_path, name)
    toml = (folder / "scene.toml").read_text()
    if lights is not None:  # replace the template's lights
        toml = re.sub(r"\[\[lights\]\].*?(?=\[\[marks\]\])", lights + "\n", toml, flags=re.S)
    if card is not None:
        (folder / "card.glb").write_bytes(card)
        toml += (
            f'\n[[props]]\nname = "card"\nfile = "card.glb"\nposition = {list(CARD_AT)}\n'
            "rotation = [0.0, 0.0, 0.0]\nscale = 1.0\n"
        )
    (folder / "scene.toml").write_text(toml)
    return folder


def _render(folder: Path, shading: str = "fast") -> tuple[np.ndarray, Stage]:
    stage = Stage.open(load_pack(folder), None, width=W, height=H, shading=shading)
    stage.show(None)
    frame = stage.target.rgb().astype(int)
    return frame, stage


def _pixel(stage: Stage, u: float, v: float) -> tuple[int, int]:
    """(row, column) of the card's glTF UV (u, v) (v down) in the picture."""
    from panda3d.core import LPoint2f, LPoint3f

    from immersion.stage import space

    p = (CARD_AT[0] - 0.8 + 1.6 * u, CARD_AT[1] + 0.8 - 1.6 * v, CARD_AT[2])
    cam = stage.target.camera.getRelativePoint(stage.root, LPoint3f(*space.point(p)))
    film = LPoint2f()
    assert stage.target.lens.project(cam, film)
    return int((1 - film[1]) / 2 * H), int((film[0] + 1) / 2 * W)


def _look(tmp_path: Path, material: dict[str, Any], image: np.ndarray | None = None,
          lights: str | None = None, points: tuple[tuple[float, float], ...] = ((0.5, 0.5),),
          shading: str = "fast", **top: Any) -> list[np.ndarray]:  # fmt: skip
    """The colours at ``points`` (card UVs) of the card with ``material``, rendered."""
    folder = _pack(
        tmp_path, card_glb(material, image, **top), lights, name=f"p{len(list(tmp_path.iterdir()))}"
    )
    frame, stage = _render(folder, shading)
    try:
        return [frame[_pixel(stage, u, v)] for u, v in points]
    finally:
        stage.close()


def _halves(left: tuple[int, ...], right: tuple[int, ...]) -> np.ndarray:
    img = np.zeros((4, 4, 4), np.uint8)
    img[:, :2], img[:, 2:] = left, right
    return img


RED, BLUE = (255, 0, 0, 255), (0, 0, 255, 255)


def _is_red(c: np.ndarray) -> bool:
    return bool(c[0] > 2 * c[2] + 20)


def _is_blue(c: np.ndarray) -> bool:
    return bool(c[2] > 2 * c[0] + 20)


def test_khr_texture_transform_moves_the_base_colour_texture(tmp_path: Path) -> None:
    image = _halves(RED, BLUE)
    at = ((0.25, 0.5), (0.75, 0.5))
    plain = {"pbrMetallicRoughness": {"baseColorTexture": {"index": 0}, "metallicFactor": 0}}
    left, right = _look(tmp_path, plain, image, points=at)
    assert _is_red(left) and _is_blue(right)

    def moved(tt: dict[str, Any]) -> dict[str, Any]:
        info = {"index": 0, "extensions": {"KHR_texture_transform": tt}}
        return {"pbrMetallicRoughness": {"baseColorTexture": info, "metallicFactor": 0}}

    for tt in ({"offset": [0.5, 0.0]}, {"rotation": float(np.pi)}, {"scale": [-1.0, 1.0]}):
        left, right = _look(tmp_path, moved(tt), image, points=at)
        assert _is_blue(left) and _is_red(right), tt


def test_alpha_mask_cuts_holes_opaque_ignores_alpha_and_blend_mixes(tmp_path: Path) -> None:
    image = _halves((255, 255, 255, 0), (255, 255, 255, 255))
    at = ((0.25, 0.5), (0.75, 0.5))
    background = _look(tmp_path, {"alphaMode": "MASK"}, None, points=((0.0, 0.0),))  # warm-up
    folder = _pack(tmp_path, None, name="bare")
    frame, stage = _render(folder)
    bare = [frame[_pixel(stage, u, v)] for u, v in at]
    stage.close()
    del background

    def card(mode: str, **more: Any) -> dict[str, Any]:
        pbr = {"baseColorTexture": {"index": 0}, "metallicFactor": 0}
        return {"alphaMode": mode, "pbrMetallicRoughness": pbr, **more}

    left, right = _look(tmp_path, card("MASK"), image, points=at)
    assert np.abs(left - bare[0]).max() <= 3, "MASK: the clear half is a hole"
    assert right.mean() > bare[1].mean() + 30, "MASK: the solid half is drawn"
    left, _ = _look(tmp_path, card("OPAQUE"), image, points=at)
    assert np.abs(left - right).max() <= 3, "OPAQUE: alpha is ignored"
    # The cutoff is the material's: alpha 0.4 stays under 0.3, goes under the default 0.5.
    faint = _halves((255, 255, 255, 102), (255, 255, 255, 255))
    left, _ = _look(tmp_path, card("MASK", alphaCutoff=0.3), faint, points=at)
    assert np.abs(left - bare[0]).max() > 30
    left, _ = _look(tmp_path, card("MASK"), faint, points=at)
    assert np.abs(left - bare[0]).max() <= 3
    # BLEND: half-transparent red lies between the wall behind and solid red.
    red = {"pbrMetallicRoughness": {"baseColorFactor": [1, 0, 0, 0.5], "metallicFactor": 0}}
    (half,) = _look(tmp_path, {**red, "alphaMode": "BLEND"}, None, points=((0.25, 0.5),))
    (solid,) = _look(tmp_path, red, None, points=((0.25, 0.5),))
    assert solid[0] > half[0] > bare[0][0] + 10 and half[2] > solid[2] + 10


def test_emissive_glows_in_the_dark(tmp_path: Path) -> None:
    dark = BACK_LIT.replace("intensity = 0.25", "intensity = 0.02")
    black = {"pbrMetallicRoughness": {"baseColorFactor": [0.1, 0.1, 0.1, 1], "metallicFactor": 0}}
    (unlit,) = _look(tmp_path, black, lights=dark)
    (glow,) = _look(tmp_path, {**black, "emissiveFactor": [1.0, 1.0, 1.0]}, lights=dark)
    assert unlit.max() < 40 and glow.min() > 200
    strong = {
        **black,
        "emissiveFactor": [0.2, 0.2, 0.2],
        "extensions": {"KHR_materials_emissive_strength": {"emissiveStrength": 5.0}},
    }
    (bright,) = _look(tmp_path, strong, lights=dark)
    assert bright.min() > 200
    green = np.zeros((2, 2, 4), np.uint8)
    green[...] = (0, 255, 0, 255)
    textured = {**black, "emissiveFactor": [1.0, 1.0, 1.0], "emissiveTexture": {"index": 0}}
    (c,) = _look(tmp_path, textured, green, lights=dark)
    assert c[1] > 200 and c[0] < 60 and c[2] < 60


def _vrm0(props: dict[str, Any]) -> dict[str, Any]:
    return {
        "extensions": {
            "VRM": {"materialProperties": [{"name": "toon", "shader": "VRM/MToon", **props}]}
        }
    }


def test_mtoon_materials_shade_with_their_shade_colour_and_cut_out(tmp_path: Path) -> None:
    white = {"name": "toon", "pbrMetallicRoughness": {"metallicFactor": 0}}
    (plain,) = _look(tmp_path, white, lights=BACK_LIT)
    vrm0 = _vrm0({"vectorProperties": {"_Color": [1, 1, 1, 1], "_ShadeColor": [0, 1, 0, 1]}})
    (toon0,) = _look(tmp_path, white, lights=BACK_LIT, **vrm0)
    mtoon1 = {"VRMC_materials_mtoon": {"specVersion": "1.0", "shadeColorFactor": [0, 1, 0]}}
    (toon1,) = _look(tmp_path, {**white, "extensions": mtoon1}, lights=BACK_LIT)
    assert abs(int(plain[1]) - int(plain[0])) < 10  # grey in the shade
    for toon in (toon0, toon1):
        assert toon[1] > toon[0] + 30 and toon[1] > toon[2] + 30  # the shade colour
    # Lit from the front, the base colour.
    (lit,) = _look(tmp_path, white, **vrm0)
    assert abs(int(lit[1]) - int(lit[0])) < 20 and lit[0] > 150  # (a trace of shade at 0.45 light)
    # Cutout (_BlendMode 1) is MASK with _Cutoff; _MainTex is the base texture.
    image = _halves((255, 255, 255, 0), (255, 255, 255, 255))
    cut = _vrm0(
        {
            "floatProperties": {"_BlendMode": 1, "_Cutoff": 0.5},
            "textureProperties": {"_MainTex": 0},
            "vectorProperties": {"_Color": [1, 0, 0, 1]},
        }
    )
    look = material_look({**card_json(), **cut, "textures": [{"source": 0}]}, 0)
    assert look.alpha_mode == 1 and look.base_texture is not None and look.base[1] == 0.0
    left, right = _look(tmp_path, white, image, points=((0.25, 0.5), (0.75, 0.5)), **cut)
    assert _is_red(right) and not _is_red(left)


def card_json() -> dict[str, Any]:
    return {"materials": [{"name": "toon"}]}


@pytest.mark.parametrize("shading", ["fast", "rich"])
def test_metallic_roughness_a_smooth_surface_shows_the_key_light(
    tmp_path: Path, shading: str
) -> None:
    """Fast: Blinn-Phong from the roughness; rich (GPU): GGX with Fresnel; a metal's highlight
    takes its base colour."""
    # The key light mirrored in the card towards the camera.
    mirror = BACK_LIT.replace("direction = [0.0, 0.0, 1.0]", "direction = [0.0, 0.11, -0.99]")
    rough = {"pbrMetallicRoughness": {"baseColorFactor": [0.3, 0.3, 0.3, 1], "metallicFactor": 0, "roughnessFactor": 1.0}}  # fmt: skip
    smooth = {"pbrMetallicRoughness": {"baseColorFactor": [0.3, 0.3, 0.3, 1], "metallicFactor": 0, "roughnessFactor": 0.25}}  # fmt: skip
    (r,) = _look(tmp_path, rough, lights=mirror, shading=shading)
    (s,) = _look(tmp_path, smooth, lights=mirror, shading=shading)
    assert s.mean() > r.mean() + 25
    gold = {"pbrMetallicRoughness": {"baseColorFactor": [1, 0.6, 0.1, 1], "metallicFactor": 1, "roughnessFactor": 0.25}}  # fmt: skip
    dim = mirror.replace("intensity = 1.0", "intensity = 0.15")  # not to saturate to white
    (g,) = _look(tmp_path, gold, lights=dim, shading=shading)
    paint = {"pbrMetallicRoughness": {**gold["pbrMetallicRoughness"], "metallicFactor": 0}}
    (p,) = _look(tmp_path, paint, lights=dim, shading=shading)
    # The metal reflects its own colour (F0 = base colour), paint a faint white (F0 = 0.04).
    assert g[0] > p[0] + 40 and g[0] - g[2] > p[0] - p[2] + 40


def _draco_pack(tmp_path: Path) -> tuple[Path, Path]:
    plain = _pack(tmp_path, None, name="plain")
    packed = _pack(tmp_path, None, name="draco")
    (packed / "set.glb").write_bytes(draco_glb((plain / "set.glb").read_bytes()))
    return plain, packed


def test_draco_compressed_sets_load_and_render_like_the_plain_ones(tmp_path: Path) -> None:
    plain, packed = _draco_pack(tmp_path)
    doc, _ = split_glb((packed / "set.glb").read_bytes())
    assert all(
        "bufferView" not in doc["accessors"][a]
        for a in doc["meshes"][0]["primitives"][0]["attributes"].values()
    )
    assert validate_pack(packed) == []
    a, sa = _render(plain)
    sa.close()
    b, sb = _render(packed)
    sb.close()
    assert a.std() > 10 and np.abs(a - b).mean() < 0.5


def test_draco_refusals_are_one_line_and_the_same_for_validate_and_render(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, packed = _draco_pack(tmp_path)
    model = packed / "set.glb"

    def both() -> tuple[str, str]:
        problems = validate_pack(packed)
        assert len(problems) == 1
        with pytest.raises(AssetError) as err:
            load_model(model, packed)
        return problems[0], str(err.value)

    monkeypatch.setitem(__import__("sys").modules, "DracoPy", None)  # not installed
    problem, refused = both()
    assert problem.endswith(refused) and "KHR_draco_mesh_compression" in refused
    assert "\n" not in refused
    monkeypatch.undo()
    # Over the decoded-vertex limit: refused before decoding.
    from immersion import gltf_guard

    small = gltf_guard.Limits(decoded_vertices=10)
    with pytest.raises(
        AssetError,
        match=r"KHR_draco_mesh_compression: the compressed meshes declare over 10 vertices",
    ):
        gltf_guard.inspect_gltf(model, packed, small)
    # Accessor counts that do not match the decoded data.
    doc, binary = split_glb(model.read_bytes())
    doc["accessors"][doc["meshes"][0]["primitives"][0]["attributes"]["POSITION"]]["count"] -= 1
    from tests.assets_helpers import glb

    model.write_bytes(glb(doc, binary))
    problem, refused = both()
    assert problem.endswith(refused) and re.search(
        r"declares \d+ x 3, the Draco data holds \d+ x 3", refused
    )


@pytest.mark.pure
def test_unsupported_material_features_are_warnings_naming_the_material() -> None:
    doc = {
        "materials": [
            {"name": "Glass", "extensions": {"KHR_materials_transmission": {}}},
            {
                "name": "Skin",
                "normalTexture": {"index": 0},
                "extensions": {"KHR_materials_emissive_strength": {}},
            },
            {"name": "Plain"},
        ],
        "textures": [{"source": 0}],
    }
    assert material_warnings(doc) == [
        "material 'Glass': KHR_materials_transmission not supported (warning)",
        "material 'Skin': normalTexture normal map not rendered (warning)",
    ]


def test_scenes_validate_and_avatars_show_list_the_warnings(tmp_path: Path) -> None:
    glass = {
        "name": "Glass",
        "extensions": {"KHR_materials_transmission": {"transmissionFactor": 1}},
    }
    folder = _pack(tmp_path, card_glb(glass, extensionsUsed=["KHR_materials_transmission"]))
    shown = run_cli("scenes", "validate", str(folder))
    assert shown.returncode == 0, shown.stderr
    assert "material 'Glass': KHR_materials_transmission not supported (warning)" in shown.stderr
    assert "valid" in shown.stdout
