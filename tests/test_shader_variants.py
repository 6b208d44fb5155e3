"""Which lit.frag variant a material gets (materials.shader_features): pure, no engine."""

from __future__ import annotations

from typing import Any

import pytest

from immersion.stage.materials import (
    FEATURES,
    features_mask,
    mask_features,
    material_look,
    shader_features,
)

pytestmark = pytest.mark.pure


def features(material: dict[str, Any], **doc: Any) -> frozenset[str]:
    return shader_features(
        material_look({"textures": [{"source": 0}], **doc, "materials": [material]}, 0)
    )


MATTE = {"pbrMetallicRoughness": {"metallicFactor": 0.0, "roughnessFactor": 1.0}}
TEXTURED = {
    "pbrMetallicRoughness": {**MATTE["pbrMetallicRoughness"], "baseColorTexture": {"index": 0}}
}


def test_a_matte_opaque_material_gets_the_plain_variant() -> None:
    assert features(MATTE) == frozenset()
    assert features({**MATTE, "emissiveFactor": [1.0, 0.5, 0.0]}) == frozenset()  # a uniform add
    assert features(TEXTURED) == {"BASE_TEX"}


def test_an_emissive_texture_is_sampled_only_when_its_factor_lights_it() -> None:
    lit = {**MATTE, "emissiveTexture": {"index": 0}, "emissiveFactor": [1.0, 1.0, 1.0]}
    assert features(lit) == {"EMISSIVE_TEX"}
    assert features({**lit, "emissiveFactor": [0.0, 0.0, 0.0]}) == frozenset()


def test_a_transform_or_the_second_uv_set_needs_the_transform() -> None:
    pbr = TEXTURED["pbrMetallicRoughness"]
    moved = {"index": 0, "extensions": {"KHR_texture_transform": {"offset": [0.5, 0.0]}}}
    assert features({"pbrMetallicRoughness": {**pbr, "baseColorTexture": moved}}) == {
        "BASE_TEX",
        "TEX_TRANSFORM",
    }
    second = {"index": 0, "texCoord": 1}
    assert "TEX_TRANSFORM" in features(
        {"pbrMetallicRoughness": {**pbr, "baseColorTexture": second}}
    )
    identity = {"index": 0, "extensions": {"KHR_texture_transform": {"scale": [1.0, 1.0]}}}
    assert features({"pbrMetallicRoughness": {**pbr, "baseColorTexture": identity}}) == {"BASE_TEX"}


@pytest.mark.parametrize(
    ("metallic", "roughness", "specular"),
    [(0.0, 1.0, False), (0.0, 0.97, False), (0.0, 0.9, True), (0.3, 1.0, True)],
)
def test_a_highlight_is_compiled_in_only_where_it_shows(
    metallic: float, roughness: float, specular: bool
) -> None:
    pbr = {"metallicFactor": metallic, "roughnessFactor": roughness}
    assert ("SPECULAR" in features({"pbrMetallicRoughness": pbr})) is specular
    assert "SPECULAR" in features({})  # glTF's defaults: metallic 1, roughness 1


@pytest.mark.parametrize(
    ("mode", "expected"),
    [("OPAQUE", frozenset()), ("MASK", {"ALPHA_MASK"}), ("BLEND", {"ALPHA_BLEND"})],
)
def test_alpha_modes(mode: str, expected: frozenset[str]) -> None:
    assert features({**MATTE, "alphaMode": mode}) == expected


def test_mtoon_replaces_the_highlight() -> None:
    mtoon = {"extensions": {"VRMC_materials_mtoon": {"shadeColorFactor": [0.2, 0.1, 0.1]}}}
    assert features(mtoon) == {"MTOON"}  # metallic defaults to 1, but MToon draws no highlight


def test_the_mask_carries_every_feature_set_through_a_shader_input() -> None:
    for i in range(1 << len(FEATURES)):
        assert features_mask(mask_features(i)) == i
    assert mask_features(features_mask(frozenset({"MTOON", "ALPHA_BLEND"}))) == {
        "MTOON",
        "ALPHA_BLEND",
    }
