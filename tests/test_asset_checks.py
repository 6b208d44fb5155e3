"""glTF, VRM and zip checks: what the loaders would fail on is refused first, in one line
that names the file and the field. Pure: no engine, no subprocess."""

from __future__ import annotations

import copy
import os
import time
import tracemalloc
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from immersion.avatars.vrm import inspect_avatar
from immersion.errors import AssetError, AvatarError
from immersion.gltf_guard import character_joints, inspect_glb_bytes, loader_json, skin_roots
from immersion.scenes import unzip
from immersion.scenes.manifest import validate_pack
from tests.assets_helpers import (
    copy_pack,
    glb,
    new_pack,
    skeleton_at_the_top,
    small_avatar,
    split_glb,
)

pytestmark = pytest.mark.pure
Doc = dict[str, Any]


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return new_pack(tmp_path_factory.mktemp("template"))


@pytest.fixture(scope="module")
def set_glb(template: Path) -> tuple[Doc, bytes]:
    return split_glb((template / "set.glb").read_bytes())


def _check(doc: Doc, binary: bytes, tmp_path: Path, name: str = "set.glb") -> None:
    inspect_glb_bytes(glb(doc, binary), tmp_path / name, tmp_path)


def _refused(
    base: tuple[Doc, bytes], tmp_path: Path, change: Callable[[Doc], object], message: str
) -> None:
    doc = copy.deepcopy(base[0])
    change(doc)
    with pytest.raises(AssetError) as err:
        _check(doc, base[1], tmp_path)
    assert str(err.value) == message
    assert "\n" not in str(err.value)


def test_the_template_set_and_an_avatar_pass(set_glb: tuple[Doc, bytes], tmp_path: Path) -> None:
    # The shipped cast (set-up data) is checked in test_stage.
    _check(*set_glb, tmp_path)
    _check(*small_avatar(), tmp_path, "small.vrm")


def _stride(value: object, count: int = 1) -> Callable[[Doc], None]:
    def change(doc: Doc) -> None:
        doc["bufferViews"][1]["byteStride"] = value
        doc["accessors"][1]["count"] = count

    return change


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            _stride("4", 500_000_000),
            "set.glb: bufferViews[1].byteStride: '4' is not a multiple of 4 in 4..252",
        ),
        (_stride(-12), "set.glb: bufferViews[1].byteStride: -12 is not a multiple of 4 in 4..252"),
        (_stride(6), "set.glb: bufferViews[1].byteStride: 6 is not a multiple of 4 in 4..252"),
        (_stride(256), "set.glb: bufferViews[1].byteStride: 256 is not a multiple of 4 in 4..252"),
        (
            _stride(8),
            "set.glb: accessors[1]: elements of 12 bytes do not fit bufferViews[1].byteStride 8",
        ),
    ],
    ids=["string-and-huge-count", "negative", "not-multiple-of-4", "over-252", "under-element"],
)
def test_byte_stride_is_an_int_the_spec_allows(
    set_glb: tuple[Doc, bytes], tmp_path: Path, change: Callable[[Doc], None], message: str
) -> None:
    tracemalloc.start()
    try:
        _refused(set_glb, tmp_path, change, message)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 32 << 20  # the string stride once had the loader build a 2 GB string


def _set(path: str, value: object) -> Callable[[Doc], None]:
    def change(doc: Doc) -> None:
        *parents, last = path.split(".")
        node: Any = doc
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node.setdefault(key, {})
        if value is _DELETE:
            del node[last]
        elif isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value

    return change


_DELETE = object()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (_set("scenes.0.nodes", 5), "set.glb: scenes[0].nodes: 5 is not a list"),
        (
            _set("scenes.0.nodes", _DELETE),
            "set.glb: scenes[0].nodes: missing (list the scene's root nodes)",
        ),
        (_set("scene", 3), "set.glb: scene: index 3 out of range (0..0)"),
        (
            _set("meshes.0.primitives.0.attributes.POSITION", 9),
            "set.glb: meshes[0].primitives[0].attributes.POSITION: index 9 out of range (0..2)",
        ),
        (
            _set("meshes.0.primitives.0.indices", 7),
            "set.glb: meshes[0].primitives[0].indices: index 7 out of range (0..2)",
        ),
        (
            _set("meshes.0.primitives.0.targets", [{"POSITION": 12}]),
            "set.glb: meshes[0].primitives[0].targets[0].POSITION: index 12 out of range (0..2)",
        ),
        (
            _set("meshes.0.primitives.0.material", 2),
            "set.glb: meshes[0].primitives[0].material: index 2 out of range (there are none)",
        ),
        (_set("meshes.0.primitives", "x"), "set.glb: meshes[0].primitives: 'x' is not a list"),
        (_set("meshes.0.primitives", _DELETE), "set.glb: meshes[0].primitives: missing"),
        (
            _set("meshes.0.primitives.0.mode", 5),
            "set.glb: meshes[0].primitives[0].mode: 5; the loader draws points (0), lines (1) "
            "and triangles (4)",
        ),
        (
            _set("meshes.0.primitives.0.attributes._TEMPERATURE", 1),
            "set.glb: meshes[0].primitives[0].attributes._TEMPERATURE: not an attribute the "
            "loader reads",
        ),
        (
            _set("accessors.2.count", 5),
            "set.glb: meshes[0].primitives[0]: COLOR_0 has 5 vertices, POSITION has 32",
        ),
        (
            _set("accessors.1.type", "VEC2"),
            "set.glb: meshes[0].primitives[0].attributes.POSITION: accessors[1] is VEC2 of "
            "componentType 5126; expected VEC3 of [5126]",
        ),
        (
            _set("accessors.0.componentType", 5126),
            "set.glb: meshes[0].primitives[0].indices: accessors[0] is not unsigned integer SCALAR",
        ),
        (
            _set("accessors.0.count", 7),
            "set.glb: meshes[0].primitives[0]: 7 vertices do not make whole triangles",
        ),
        (_set("nodes.0.name", 5), "set.glb: nodes[0].name: 5 is not a string"),
        (
            _set("nodes.0.translation", [float("nan"), 0, 0]),
            "set.glb: nodes[0].translation: nan is not a finite number",
        ),
        (
            _set("nodes.0.matrix", [1, 0, 0]),
            "set.glb: nodes[0].matrix: [1, 0, 0] is not a list of 16 numbers",
        ),
        (
            _set("nodes.0.camera", 0),
            "set.glb: nodes[0].camera: index 0 out of range (there are none)",
        ),
        (
            _set("textures", [{"source": 1}]),
            "set.glb: textures[0].source: index 1 out of range (there are none)",
        ),
        (
            _set("textures", [{"sampler": "linear"}]),
            "set.glb: textures[0].sampler: 'linear' is not an index",
        ),
        (
            _set("images", [{"uri": "%2e%2e/%2e%2e/secret.png"}]),
            "set.glb: images[0].uri: '../../secret.png' escapes the pack (absolute or '..')",
        ),
        (
            _set("images", [{"bufferView": 1, "mimeType": "image/png"}]),
            "set.glb: images[0].bufferView: unreadable image (cannot identify image file "
            "<_io.BytesIO object at",
        ),
        (
            _set("materials", [{"pbrMetallicRoughness": {"baseColorFactor": [1, 1, 1]}}]),
            "set.glb: materials[0].pbrMetallicRoughness.baseColorFactor: [1, 1, 1] is not a "
            "list of 4 numbers",
        ),
        (
            _set("materials", [{"extensions": ["KHR_materials_ior"]}]),
            "set.glb: materials[0].extensions: ['KHR_materials_ior'] is not an object",
        ),
        (
            _set(
                "extensions",
                {
                    "KHR_lights_punctual": {
                        "lights": [{"type": "spot", "spot": {"outerConeAngle": 0}}]
                    }
                },
            ),
            "set.glb: extensions.KHR_lights_punctual.lights[0].spot.outerConeAngle: must be over 0",
        ),
        (
            _set("cameras", [{"type": "perspective", "perspective": {"yfov": 1, "znear": 0.1}}]),
            "set.glb: cameras[0].perspective.zfar: None is not a finite number",
        ),
        (
            _set("skins", [{"joints": [0], "inverseBindMatrices": 1}]),
            "set.glb: skins[0].inverseBindMatrices: accessors[1] is not float MAT4",
        ),
        (_set("skins", [{"joints": [4]}]), "set.glb: skins[0].joints: index 4 out of range (0..0)"),
        (_set("skins", [{"joints": []}]), "set.glb: skins[0].joints: missing or empty"),
    ],
)
def test_what_the_loader_reads_is_typed_and_in_range(
    set_glb: tuple[Doc, bytes], tmp_path: Path, change: Callable[[Doc], None], message: str
) -> None:
    doc = copy.deepcopy(set_glb[0])
    change(doc)
    with pytest.raises(AssetError) as err:
        _check(doc, set_glb[1], tmp_path)
    assert str(err.value).startswith(message), str(err.value)
    assert "\n" not in str(err.value)


def test_compressed_meshes_are_refused_by_extension_name(
    set_glb: tuple[Doc, bytes], tmp_path: Path
) -> None:
    # Draco is decoded (tests/test_bring_assets.py); meshopt compression is not.
    doc = copy.deepcopy(set_glb[0])
    doc["extensionsUsed"] = doc["extensionsRequired"] = ["EXT_meshopt_compression"]
    with pytest.raises(
        AssetError,
        match=r"^set\.glb: extensionsRequired: EXT_meshopt_compression is not supported by the loader \(it reads KHR_draco_mesh_compression, ",
    ):
        _check(doc, set_glb[1], tmp_path)
    # The same file with the extension merely used: its accessors have no data to read.
    del doc["extensionsRequired"]
    del doc["accessors"][1]["bufferView"]
    with pytest.raises(AssetError) as err:
        _check(doc, set_glb[1], tmp_path)
    assert str(err.value) == (
        "set.glb: meshes[0].primitives[0].attributes.POSITION: accessors[1] has no bufferView "
        "(compressed or empty data)"
    )


def test_an_unread_accessor_may_have_no_buffer_view(
    set_glb: tuple[Doc, bytes], tmp_path: Path
) -> None:
    doc = copy.deepcopy(set_glb[0])
    doc["accessors"].append({"componentType": 5126, "type": "VEC3", "count": 3})
    _check(doc, set_glb[1], tmp_path)  # all zeros by the spec, and nothing reads it


def test_the_input_document_is_never_changed() -> None:
    doc, _ = small_avatar()
    doc["nodes"][0]["children"] = [1]
    doc["scenes"][0]["nodes"] = [0, 2]
    before = copy.deepcopy(doc)
    view = loader_json(doc)
    assert doc == before and view["scenes"][0]["nodes"] == [len(doc["nodes"])]
    view["scenes"][0]["nodes"].append(99)  # the loader appends hidden nodes to this list
    assert doc == before


def _vrm(tmp_path: Path, change: Callable[[Doc], object]) -> Path:
    doc, binary = small_avatar()
    change(doc)
    path = tmp_path / "avatar.vrm"
    path.write_bytes(glb(doc, binary))
    return path


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            _set("extensions.VRMC_vrm.meta", "free to use"),
            "avatar.vrm: extensions.VRMC_vrm.meta: 'free to use' is not an object",
        ),
        (
            _set("extensions.VRMC_vrm.meta.authors", "me"),
            "avatar.vrm: extensions.VRMC_vrm.meta.authors: 'me' is not a list of names",
        ),
        (
            _set("extensions.VRMC_vrm.meta.avatarPermission", ["everyone"]),
            "avatar.vrm: extensions.VRMC_vrm.meta.avatarPermission: ['everyone'] is not a string",
        ),
        (
            _set("extensions.VRMC_vrm.humanoid.humanBones.hips", 2),
            "avatar.vrm: extensions.VRMC_vrm.humanoid.humanBones.hips: 2 is not an object",
        ),
        (
            _set("extensions.VRMC_vrm.humanoid", []),
            "avatar.vrm: extensions.VRMC_vrm.humanoid: [] is not an object",
        ),
        (
            _set("extensions.VRMC_vrm.humanoid.humanBones.spine.node", 2),
            "avatar.vrm: humanoid bones hips and spine are both node 'hips'",
        ),
        (
            lambda d: d["extensions"].update(VRM={"meta": "x"}) or d["extensions"].pop("VRMC_vrm"),
            "avatar.vrm: extensions.VRM.meta: 'x' is not an object",
        ),
        (
            lambda d: (
                d["extensions"].update(VRM={"humanoid": {"humanBones": {"hips": 2}}})
                or d["extensions"].pop("VRMC_vrm")
            ),
            "avatar.vrm: extensions.VRM.humanoid.humanBones: {'hips': 2} is not a list",
        ),
        (
            lambda d: (
                d["extensions"].update(VRM={"humanoid": {"humanBones": [7]}})
                or d["extensions"].pop("VRMC_vrm")
            ),
            "avatar.vrm: extensions.VRM.humanoid.humanBones[0]: 7 is not an object",
        ),
        # The face: what the stage reads to move it is checked by the same check.
        (
            _set("extensions.VRMC_vrm.expressions.preset.aa.morphTargetBinds.0.node", 0),
            "avatar.vrm: extensions.VRMC_vrm.expressions.preset.aa.morphTargetBinds[0].node: "
            "node 0 has no mesh",
        ),
        (
            _set("extensions.VRMC_vrm.expressions.preset.blink.morphTargetBinds.0.index", 52),
            "avatar.vrm: extensions.VRMC_vrm.expressions.preset.blink.morphTargetBinds[0].index: "
            "morph target 52 does not exist",
        ),
        (
            _set("extensions.VRMC_vrm.lookAt.rangeMapVerticalUp.outputScale", -1),
            "avatar.vrm: extensions.VRMC_vrm.lookAt.rangeMapVerticalUp: range 90° → -1 is "
            "outside 0..180",
        ),
        (
            _set("meshes.0.extras.targetNames", "jawOpen"),
            "avatar.vrm: meshes[0].extras.targetNames: 'jawOpen' is not a list",
        ),
        (
            _set("extensions.VRMC_vrm.humanoid.humanBones.leftEye.node", 99),
            "avatar.vrm: extensions.VRMC_vrm.humanoid.humanBones.leftEye.node: "
            "node 99 does not exist",
        ),
        (
            lambda d: d.pop("skins") and d["nodes"][1].pop("skin"),
            "avatar.vrm: humanoid bone hips (node 'hips') is not a joint of the skinned character "
            "the loader builds (the scene has none: no skin, or one no mesh uses)",
        ),
    ],
)
def test_every_vrm_field_read_is_type_checked(
    tmp_path: Path, change: Callable[[Doc], object], message: str
) -> None:
    path = _vrm(tmp_path, lambda d: d["nodes"][1].pop("skin") if "skins" not in d else change(d))
    path = _vrm(tmp_path, change)
    with pytest.raises(
        AvatarError if "avatar.vrm: extensions" in message or "humanoid" in message else AssetError
    ) as err:
        inspect_avatar(path)
    assert str(err.value) == message


def test_askeleton_at_the_top_of_the_scene_gets_a_common_root(tmp_path: Path) -> None:
    doc, _ = small_avatar()
    skeleton_at_the_top(doc)
    hips = next(i for i, n in enumerate(doc["nodes"]) if n.get("name") == "hips")
    assert skin_roots(doc) == [hips]  # the loader's own choice: the mesh would be outside
    view = loader_json(doc)
    assert skin_roots(view) == [len(doc["nodes"])]  # the added root holds joints and mesh
    assert {"hips", "head", "leftFoot"} <= character_joints(doc)
    _, spec = inspect_avatar(_vrm(tmp_path, skeleton_at_the_top))
    assert spec.version == "1.0"  # accepted, and test_stage renders it


def test_two_skins_on_one_root_are_refused(tmp_path: Path) -> None:
    def second_skin(doc: Doc) -> None:
        # Two meshes, each with its own skin over one skeleton (how many VRM exports look).
        doc["skins"].append(dict(doc["skins"][0]))
        doc["nodes"].append(dict(doc["nodes"][1], name="second", skin=1))
        doc["nodes"][0]["children"].append(len(doc["nodes"]) - 1)

    with pytest.raises(
        AssetError,
        match=r"^avatar\.vrm: skins\[0\] and skins\[1\] share their root node 0; the loader keeps one skin per root$",
    ):
        inspect_avatar(_vrm(tmp_path, second_skin))


def _zip(folder: Path, name: str, payload: str) -> Path:
    path = folder / f"{name}.zip"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("scene.toml", payload)
    return path


def test_unpacked_zips_go_to_the_state_folder_and_stay_few(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IMMERSION_STATE", str(tmp_path / "state"))
    packs = tmp_path / "state" / "packs"
    zips = [_zip(tmp_path, f"pack{i}", f"# {i}") for i in range(unzip.KEEP_PACKS + 3)]
    for i, z in enumerate(zips):
        folder = unzip.open_pack_folder(z)
        assert folder.parent == packs and (folder / "scene.toml").read_text() == f"# {i}"
        used = time.time() - 1000 + i  # opened in this order
        os.utime(folder / ".complete", (used, used))
    kept = sorted(p.name.split("-")[0] for p in packs.iterdir())
    assert len(kept) == unzip.KEEP_PACKS
    # Opening an old one again unpacks it and keeps it; the least recently used goes.
    unzip.open_pack_folder(zips[0])
    names = {p.name.split("-")[0] for p in packs.iterdir()}
    assert "pack0" in names and "pack3" not in names and len(names) == unzip.KEEP_PACKS
    # Unused for longer than MAX_IDLE_DAYS: removed even when few.
    later = time.time() + (unzip.MAX_IDLE_DAYS + 1) * 86400
    keep = next(p for p in packs.iterdir() if p.name.startswith("pack0-"))
    removed = unzip.prune(keep=keep, now=later)
    assert len(removed) == unzip.KEEP_PACKS - 1 and [p.name for p in packs.iterdir()] == [keep.name]


def test_a_broken_zip_member_is_a_problem_not_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IMMERSION_STATE", str(tmp_path / "state"))
    path = tmp_path / "clash.zip"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("scene.toml", "x")
        z.writestr("scene.toml/inner", "y")  # a file and a folder of one name
    (problem,) = validate_pack(path)
    assert problem.startswith(f"{path}: cannot unpack (")
    assert list((tmp_path / "state" / "packs").iterdir()) == []  # nothing half-made is left


def test_pack_fixture_copies_are_independent(template: Path, tmp_path: Path) -> None:
    copy_pack(template, tmp_path)
    assert validate_pack(tmp_path / template.name) == []
