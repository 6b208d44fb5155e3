"""The stage on Panda3D's offscreen EGL renderer (Mesa llvmpipe): real renders, real skins."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from capture.pose import Pose
from capture.rotations import axis_angle_quat, quat_to_matrix
from capture.skeleton import BODY_BONES, Bone
from immersion.avatars.glb_writer import write_glb
from immersion.avatars.vrm import inspect_avatar, read_spec
from immersion.catalogue import avatars_dir, find_pack, shipped_packs
from immersion.errors import AvatarError, LicenceError, PackError
from immersion.gltf_guard import inspect_glb_bytes
from immersion.scenes.manifest import load_pack
from immersion.stage import space
from immersion.stage.avatar_actor import AvatarActor
from immersion.stage.set_builder import light_code
from immersion.stage.stage import Stage
from tests.assets_helpers import detective, glb, skeleton_at_the_top, small_avatar, split_glb
from tests.face_fixtures import humanoid_0x, turn_half_round
from tests.support import run_cli

AVATARS = ["detective", "captain"]
_CHILD = {
    Bone.LEFT_UPPER_ARM: Bone.LEFT_LOWER_ARM, Bone.LEFT_LOWER_ARM: Bone.LEFT_HAND,
    Bone.RIGHT_UPPER_ARM: Bone.RIGHT_LOWER_ARM, Bone.RIGHT_LOWER_ARM: Bone.RIGHT_HAND,
    Bone.LEFT_UPPER_LEG: Bone.LEFT_LOWER_LEG, Bone.LEFT_LOWER_LEG: Bone.LEFT_FOOT,
    Bone.RIGHT_UPPER_LEG: Bone.RIGHT_LOWER_LEG, Bone.RIGHT_LOWER_LEG: Bone.RIGHT_FOOT,
    Bone.SPINE: Bone.CHEST, Bone.CHEST: Bone.UPPER_CHEST, Bone.NECK: Bone.HEAD,
}  # fmt: skip


def _pose(**turns: tuple[list[float], float]) -> Pose:
    rest = Pose.rest(hips_height=0.9)
    rot = rest.rotations.copy()
    for name, (axis, deg) in turns.items():
        rot[Bone[name.upper()]] = axis_angle_quat(axis, np.radians(deg))
    return Pose(0.0, rest.hips, rot, np.ones(len(Bone)))


POSES = {
    "t-pose": _pose(),
    "arms raised": _pose(left_upper_arm=([0, 0, 1], 80), right_upper_arm=([0, 0, 1], -80)),
    "squat": _pose(
        left_upper_leg=([1, 0, 0], -95), right_upper_leg=([1, 0, 0], -95),
        left_lower_leg=([1, 0, 0], 110), right_lower_leg=([1, 0, 0], 110), spine=([1, 0, 0], 25),
    ),
    "reach and turn": _pose(
        hips=([0, 1, 0], 30), left_upper_arm=([0, 1, 0], 60), left_lower_arm=([0, 1, 0], 45),
        right_upper_arm=([0, 0, 1], 40), neck=([0, 1, 0], -20), left_upper_leg=([1, 0, 0], -30),
    ),
}  # fmt: skip


@pytest.fixture(scope="module")
def stage() -> Stage:
    pack = load_pack(shipped_packs()[0])
    s = Stage.open(pack, None, width=480, height=270)
    return s


def _bone_dirs(positions: dict[Bone, np.ndarray]) -> dict[Bone, np.ndarray]:
    out = {}
    for b, c in _CHILD.items():
        d = positions[c] - positions[b]
        out[b] = d / np.linalg.norm(d)
    return out


@pytest.mark.parametrize("avatar", AVATARS)
@pytest.mark.parametrize("pose_name", list(POSES))
def test_pose_fidelity_through_the_engine(stage: Stage, avatar: str, pose_name: str) -> None:
    """Joint positions read back from Panda3D agree with the capture contract's kinematics."""
    actor = AvatarActor.load(avatars_dir() / f"{avatar}.vrm")
    stage.place_avatar(actor, stage.pack.marks[0])
    rest = _bone_dirs(actor.joint_positions())
    pose = POSES[pose_name]
    stage.show(pose)
    got = _bone_dirs(actor.joint_positions())
    glob = quat_to_matrix(pose.global_rotations())
    facing = quat_to_matrix(axis_angle_quat([0, 1, 0], np.radians(stage.mark.facing)))
    for b in _CHILD:
        expected = facing @ glob[b] @ facing.T @ rest[b]
        angle = np.degrees(np.arccos(np.clip(expected @ got[b], -1, 1)))
        assert angle < 2.0, f"{avatar} {pose_name}: {b.vrm_name} off by {angle:.2f}°"
    if pose_name == "t-pose":
        pos = actor.joint_positions()
        mark_x = stage.mark.position[0]
        assert (
            pos[Bone.LEFT_HAND][0] > mark_x + 0.5 > mark_x - 0.5 > pos[Bone.RIGHT_HAND][0]
        )  # left is left
        for foot in (Bone.LEFT_FOOT, Bone.RIGHT_FOOT):
            assert (
                abs(pos[foot][1] - 0.09) < 0.02
            )  # ankle height of these avatars: feet on the floor
    if pose_name == "squat":
        pos = actor.joint_positions()
        lowest = min(pos[Bone.LEFT_TOES][1], pos[Bone.RIGHT_TOES][1], pos[Bone.LEFT_FOOT][1] - 0.09)
        assert abs(lowest - 0.03) < 0.03 and pos[Bone.HIPS][1] < 0.7  # crouched, feet still down


def _mask(stage: Stage) -> np.ndarray:
    assert stage.avatar is not None
    stage.show(POSES["t-pose"])
    with_avatar = stage.target.rgb().astype(int)
    stage.avatar.node.hide()
    stage.root.find("avatar-shadow").hide()
    stage.show(None)
    without = stage.target.rgb().astype(int)
    stage.avatar.node.show()
    stage.root.find("avatar-shadow").show()
    out: np.ndarray = np.abs(with_avatar - without).sum(axis=2) > 30
    return out


@pytest.mark.parametrize("pack_dir", shipped_packs(), ids=lambda p: p.name)
def test_each_pack_renders_with_the_avatar_on_its_mark_in_every_preset(pack_dir: Path) -> None:
    pack = load_pack(pack_dir)
    stage = Stage.open(pack, avatars_dir() / "detective.vrm", width=320, height=180)
    try:
        for preset in pack.cameras:
            stage.set_camera(preset)
            stage.show(POSES["t-pose"])
            frame = stage.target.rgb()
            assert frame.std() > 12, f"{pack.name}/{preset.name}: blank frame"
            mask = _mask(stage)
            assert mask.sum() > 150, f"{pack.name}/{preset.name}: avatar not in view"
            # The mark, projected through the preset's lens, lies on the avatar's silhouette.
            from panda3d.core import LPoint2f, LPoint3f

            x, z = stage.mark.position
            hips = stage.target.camera.getRelativePoint(
                stage.root, LPoint3f(*space.point((x, 0.95, z)))
            )
            film = LPoint2f()
            assert stage.target.lens.project(hips, film), f"{preset.name}: mark out of frame"
            col = int((film[0] + 1) / 2 * 320)
            row = int((1 - film[1]) / 2 * 180)
            ys, xs = np.nonzero(mask)
            assert xs.min() - 3 <= col <= xs.max() + 3 and ys.min() - 3 <= row <= ys.max() + 3, (
                preset.name
            )
    finally:
        stage.close()


def _detective() -> tuple[dict[str, Any], bytearray]:
    """The shipped detective's glTF JSON and binary chunk, to rewrite into other formats."""
    doc, binary = detective()
    return doc, bytearray(binary)


def _vrm0_copy(
    tmp_path: Path, meta: dict[str, object], avatar: tuple[dict[str, Any], bytes] | None = None
) -> Path:
    """The detective (or ``avatar``) rewritten as a VRM 0.x file: turned to face -Z,
    humanBones as a list."""
    doc, data = avatar or detective()
    binary = bytearray(data)
    turn_half_round(doc, binary)
    human = doc["extensions"].pop("VRMC_vrm")["humanoid"]["humanBones"]
    doc["extensions"]["VRM"] = {
        "meta": meta,
        "humanoid": {"humanBones": humanoid_0x(human)},
    }
    doc["extensionsUsed"] = ["VRM"]
    path = tmp_path / "vrm0.vrm"
    write_glb(path, doc, bytes(binary))
    return path


def test_vrm0_avatar_is_turned_to_face_the_audience(stage: Stage, tmp_path: Path) -> None:
    path = _vrm0_copy(
        tmp_path,
        {
            "title": "Old",
            "author": "A",
            "allowedUserName": "Everyone",
            "commercialUssageName": "Allow",
        },
    )
    actor = AvatarActor.load(path)
    assert actor.spec.version == "0.x"
    # The same joints as the 1.0 original, thumbs included (0.x names their segments apart).
    assert actor.spec.bones == inspect_avatar(avatars_dir() / "detective.vrm")[1].bones
    stage.place_avatar(actor, stage.pack.marks[0])
    stage.show(POSES["arms raised"])
    pos = actor.joint_positions()
    assert pos[Bone.LEFT_HAND][0] > pos[Bone.RIGHT_HAND][0]  # its left hand on the audience's right
    assert pos[Bone.LEFT_HAND][1] > pos[Bone.LEFT_UPPER_ARM][1] + 0.3  # raised


@pytest.mark.pure
def test_licence_metadata_is_respected(tmp_path: Path) -> None:
    author_only = _vrm0_copy(
        tmp_path,
        {"title": "Mine", "allowedUserName": "OnlyAuthor", "commercialUssageName": "Allow"},
        small_avatar(),
    )
    with pytest.raises(LicenceError, match="only its author"):
        AvatarActor.load(author_only)
    path = tmp_path / "vrm0.vrm"
    path.unlink()
    _vrm0_copy(
        tmp_path,
        {"title": "Hobby", "allowedUserName": "Everyone", "commercialUssageName": "Disallow"},
        small_avatar(),
    )
    with pytest.raises(LicenceError, match="up to personal-non-profit, not corporation"):
        AvatarActor.load(path)
    assert AvatarActor.load(path, use="personal-non-profit").spec.licence.title == "Hobby"


def _plain_gltf_copy(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """The detective as a plain glTF humanoid (no VRM extension) whose joints have names no
    convention knows (Mixamo's are recognised by themselves), and the bone map that names them."""
    doc, binary = _detective()
    human = doc.pop("extensions")["VRMC_vrm"]["humanoid"]["humanBones"]
    doc.pop("extensionsUsed")
    bone_map = {}
    known = {b.vrm_name for b in Bone}  # the cast's eyes and jaw are no Bones (lookAt, jawOpen)
    for k, (vrm_name, ref) in enumerate(human.items()):
        if vrm_name not in known:
            continue
        node = doc["nodes"][ref["node"]]
        node["name"] = f"joint{k:02d}"
        bone_map[vrm_name] = node["name"]
    path = tmp_path / "plain.glb"
    write_glb(path, doc, bytes(binary))
    return path, bone_map


def test_plain_gltf_humanoid_needs_and_follows_a_bone_map(stage: Stage, tmp_path: Path) -> None:
    path, bone_map = _plain_gltf_copy(tmp_path)
    with pytest.raises(
        AvatarError, match=r"plain\.glb: not a usable humanoid, missing bones: hips"
    ):
        AvatarActor.load(path)
    actor = AvatarActor.load(path, bone_map=bone_map)
    assert actor.spec.version == "gltf"
    stage.place_avatar(actor, stage.pack.marks[0])
    stage.show(POSES["arms raised"])
    pos = actor.joint_positions()
    assert pos[Bone.LEFT_HAND][1] > pos[Bone.LEFT_UPPER_ARM][1] + 0.3
    assert pos[Bone.LEFT_HAND][0] > pos[Bone.RIGHT_HAND][0]  # faces +Z like the VRM 1.0 original

    map_file = tmp_path / "map.json"
    map_file.write_text(json.dumps(bone_map))
    shown = run_cli("avatars", "show", str(path), "--bone-map", str(map_file))
    assert shown.returncode == 0, shown.stderr
    assert len(bone_map) == len(Bone)  # the cast has every humanoid Bone, fingers included
    assert f"glTF humanoid, {len(Bone)} humanoid bones" in shown.stdout
    assert "not stated" in shown.stdout
    still = tmp_path / "plain.png"
    rendered = run_cli(
        "render", "--avatar", str(path), "--bone-map", str(map_file), "--out", str(still),
        "--size", "160x90", "--quiet",
    )  # fmt: skip
    assert rendered.returncode == 0, rendered.stderr
    assert still.stat().st_size > 1000

    map_file.write_text(json.dumps({**bone_map, "leftWing": "mixamorig:Wing"}))
    bad = run_cli("avatars", "show", str(path), "--bone-map", str(map_file))
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
    assert (
        bad.stderr.strip()
        == f"immersion: error: {map_file}: 'leftWing' is not a VRM humanoid bone name"
    )


def test_a_skeleton_at_the_top_of_the_scene_loads_and_poses(stage: Stage, tmp_path: Path) -> None:
    # Once an IndexError in render while `avatars show` accepted the file.
    doc, binary = detective()
    skeleton_at_the_top(doc)
    path = tmp_path / "top.vrm"
    path.write_bytes(glb(doc, binary))
    actor = AvatarActor.load(path)
    stage.place_avatar(actor, stage.pack.marks[0])
    stage.show(POSES["arms raised"])
    pos = actor.joint_positions()
    assert pos[Bone.LEFT_HAND][1] > pos[Bone.LEFT_UPPER_ARM][1] + 0.3
    assert pos[Bone.LEFT_HAND][0] > pos[Bone.RIGHT_HAND][0]


def test_shipped_avatars_are_vrm1_humanoids(tmp_path: Path) -> None:
    """The cast the set-up builds (so not pure): each passes the asset check."""
    for name in AVATARS:
        path = avatars_dir() / f"{name}.vrm"
        inspect_glb_bytes(path.read_bytes(), path, tmp_path)
        doc, _ = split_glb(path.read_bytes())
        spec = read_spec(doc, name)
        assert spec.version == "1.0" and set(BODY_BONES) <= set(spec.bones)
        assert spec.licence.performers == "everyone" and spec.licence.commercial == "corporation"


def test_render_cli_turns_a_take_into_a_video_and_refuses_overwrites(tmp_path: Path) -> None:
    from capture.take import TakeWriter

    take = tmp_path / "wave.jsonl"
    with TakeWriter(take, {"fps": 10.0}) as w:
        for k in range(8):
            p = _pose(left_upper_arm=([0, 0, 1], 10.0 * k))
            w.write(k / 10, Pose(k / 10, p.hips, p.rotations, p.confidence))
    out = tmp_path / "wave.mp4"
    result = run_cli(
        "render",
        "--scene",
        "enchanted-forest",
        "--avatar",
        "captain",
        "--take",
        str(take),
        "--out",
        str(out),
        "--size",
        "320x180",
        "--quiet",
    )
    assert result.returncode == 0, result.stderr
    import av

    with av.open(str(out)) as container:
        frames = list(container.decode(video=0))
    assert len(frames) == 8 and frames[0].width == 320
    again = run_cli("render", "--take", str(take), "--out", str(out), "--quiet")
    assert (
        again.returncode == 1
        and "already exists" in again.stderr
        and "Traceback" not in again.stderr
    )
    missing = run_cli(
        "render", "--take", str(tmp_path / "nope.jsonl"), "--out", str(tmp_path / "x.png")
    )
    assert missing.returncode == 1 and len(missing.stderr.strip().splitlines()) == 1


_CRATE_OBJ = """# a 0.6 m crate, no material, no normals
v -0.3 0 -0.3\nv 0.3 0 -0.3\nv 0.3 0.6 -0.3\nv -0.3 0.6 -0.3
v -0.3 0 0.3\nv 0.3 0 0.3\nv 0.3 0.6 0.3\nv -0.3 0.6 0.3
f 1 4 3 2\nf 5 6 7 8\nf 1 5 8 4\nf 2 3 7 6\nf 4 8 7 3\nf 1 2 6 5
"""


def test_obj_props_and_an_image_backdrop_render(tmp_path: Path) -> None:
    from PIL import Image

    folder = tmp_path / "designs" / "props"  # a pack anywhere, by its path
    made = run_cli("scenes", "new", str(folder))
    assert made.returncode == 0, made.stderr
    assert (folder / "scene.toml").is_file() and (folder / "set.glb").is_file()
    again = run_cli("scenes", "new", str(folder))
    assert again.returncode != 0 and "already exists" in again.stderr
    assert "Traceback" not in again.stderr
    Image.new("RGB", (64, 32), (200, 30, 160)).save(folder / "sky.png")
    toml = folder / "scene.toml"
    toml.write_text(
        toml.read_text().replace('type = "gradient"', 'type = "image"\nimage = "sky.png"')
    )
    frames = []
    for props in ("", '[[props]]\nname = "crate"\nfile = "crate.obj"\nposition = [1.2, 0, 1]\n'):
        (folder / "crate.obj").write_text(_CRATE_OBJ)
        toml.write_text(toml.read_text() + props)
        stage = Stage.open(load_pack(folder), None, width=320, height=180)
        stage.show(None)
        frames.append(stage.target.rgb().astype(int))
        stage.close()
    without, frame = frames
    # The backdrop shows above the back wall in the image's colour.
    assert np.abs(frame[2, 160] - [200, 30, 160]).max() <= 6, frame[2, 160]
    # The crate changed the picture in front of the stage, right of centre, and only there.
    ys, xs = np.nonzero(np.abs(frame - without).sum(axis=2) > 30)
    assert len(xs) > 200 and xs.min() > 160 and ys.min() > 60, "no crate, front right"
    assert frame[ys, xs].mean() > 60, "the crate (an OBJ without normals) is unlit"

    Image.new("RGB", (9000, 2), 0).save(folder / "sky.png")
    with pytest.raises(PackError, match=r"sky\.png: 9000x2 pixels, over the 8192"):
        load_pack(folder)


def test_rich_shading_casts_the_key_light_shadow_from_the_avatar_and_the_set() -> None:
    # What a GPU gets by default ("auto"), forced here on llvmpipe at a small size. In the noir
    # office the window light shines towards the audience, so the shadow falls in view.
    pack = load_pack(find_pack("noir-office"))
    detective = avatars_dir() / "detective.vrm"
    rich = Stage.open(pack, detective, width=320, height=180, shading="rich")
    fast = Stage.open(pack, detective, width=320, height=180, shading="fast")
    try:
        assert rich.shading == "rich" and rich.root.find("avatar-shadow").isEmpty()
        fast.root.find("avatar-shadow").hide()
        fast.show(POSES["t-pose"])
        fast_avatar = fast.target.rgb().astype(int)
        fast.avatar.node.hide()  # type: ignore[union-attr]
        fast.show(None)
        fast_empty = fast.target.rgb().astype(int)
        body = np.abs(fast_avatar - fast_empty).max(axis=2) > 8  # the avatar's own pixels
        rich.show(POSES["t-pose"])
        with_avatar = rich.target.rgb().astype(int)
        rich.avatar.node.hide()  # type: ignore[union-attr]
        rich.show(None)
        empty = rich.target.rgb().astype(int)
        rich.avatar.node.show()  # type: ignore[union-attr]
        # Off its own pixels, the avatar only darkens the picture (its shadow), in a patch.
        darker = ((empty - with_avatar).min(axis=2) > 8) & ~body
        brighter = ((with_avatar - empty).max(axis=2) > 8) & ~body
        assert darker.sum() > 300 and brighter.sum() < 10, (darker.sum(), brighter.sum())
        # The set shadows itself too: the empty set is darker in places than on the fast path,
        # which has no shadow map, and nowhere brighter.
        diff = fast_empty.sum(axis=2) - empty.sum(axis=2)
        assert (diff > 24).mean() > 0.03 and (diff < -24).mean() < 0.002, (
            (diff > 24).mean(),
            (diff < -24).mean(),
        )
    finally:
        rich.close()
        fast.close()


def _drawn_by(node: Any) -> list[str]:
    """The fragment shader text each Geom under ``node`` is drawn with (net of its parents)."""
    from panda3d.core import Shader, ShaderAttrib

    out = []
    for path in node.findAllMatches("**/+GeomNode"):
        net = path.getNetState()
        for g in range(path.node().getNumGeoms()):
            attrib = net.compose(path.node().getGeomState(g)).getAttrib(ShaderAttrib)
            out.append(attrib.getShader().getText(Shader.ST_fragment))
    return out


def test_an_avatar_moved_to_another_set_is_lit_by_that_set_and_keeps_its_shadow() -> None:
    first, second = (load_pack(p) for p in shipped_packs()[:2])
    direct = Stage.open(second, avatars_dir() / "detective.vrm", width=160, height=90)
    direct.show(POSES["t-pose"])
    expected = direct.target.rgb()
    direct.close()
    moved = Stage.open(first, avatars_dir() / "detective.vrm", width=160, height=90)
    moved = moved.reopen(second)
    try:
        moved.show(POSES["t-pose"])
        # The avatar's material variants are compiled with the second set's lights.
        assert np.abs(moved.target.rgb().astype(int) - expected).max() <= 1
        assert moved.avatar is not None
        lit = _drawn_by(moved.avatar.node)
        assert lit and all(light_code(second.lights) in text for text in lit)
        assert any("#define BASE_TEX" in text for text in lit)  # its own variants, not the set's
        shadows = _drawn_by(moved.root.find("avatar-shadow"))  # the shadow's shader still wins
        assert shadows and all("u_shadow_strength" in text for text in shadows)
    finally:
        moved.close()


def _silhouette(stage: Stage, pose: Pose, empty: np.ndarray) -> np.ndarray:
    stage.show(pose)
    out: np.ndarray = np.abs(stage.target.rgb().astype(int) - empty).sum(axis=2) > 30
    return out


def test_an_avatar_follows_the_takes_hips_across_the_floor_and_up_off_it() -> None:
    """Hips that move (root motion from a camera) move the avatar from its mark on screen,
    toward the audience's right for the actor's move to the picture's right, scaled by its
    legs over the actor's; hips that rise lift it; x = z = 0 keeps it on the mark."""
    pack = load_pack(shipped_packs()[0])
    stage = Stage.open(pack, None, width=320, height=180)
    try:
        stage.show(None)
        empty = stage.target.rgb().astype(int)
        actor = AvatarActor.load(avatars_dir() / "detective.vrm")
        stage.place_avatar(actor, stage.pack.marks[0])
        stage.root.find("avatar-shadow").hide()
        rest = POSES["t-pose"]
        start = _silhouette(stage, rest, empty)
        feet_before = actor.joint_positions()[Bone.LEFT_FOOT]
        moved = Pose(1.0, np.array([0.6, 0.9, 0.0]), rest.rotations, rest.confidence)
        after = _silhouette(stage, moved, empty)
        assert start.sum() > 100 and after.sum() > 100
        shift = np.nonzero(after)[1].mean() - np.nonzero(start)[1].mean()
        assert shift > 8, f"the avatar's silhouette moved {shift:.1f} px"
        stride = actor.rig.legs / 0.9
        feet = actor.joint_positions()[Bone.LEFT_FOOT]
        assert np.linalg.norm(feet - feet_before) == pytest.approx(0.6 * stride, rel=0.05)
        assert abs(feet[1] - feet_before[1]) < 0.01  # still standing on the floor

        jump = Pose(2.0, np.array([0.6, 1.2, 0.0]), rest.rotations, rest.confidence)
        stage.show(jump)
        assert actor.joint_positions()[Bone.LEFT_FOOT][1] == pytest.approx(
            feet[1] + 0.3 * stride, abs=0.01
        )
    finally:
        stage.close()
