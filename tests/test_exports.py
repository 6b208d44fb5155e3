"""`immersion takes export`: BVH read back by bvhio (a parser made by others), VRMA and GLB read
back from their accessors and checked by the Khronos glTF Validator, and the GLB's joints
against the room's own avatar posed by the engine."""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from capture.face import Face
from capture.pose import Pose
from capture.rotations import axis_angle_quat, quat_angle, quat_to_matrix
from capture.skeleton import BONE_COUNT, BONE_NAMES, Bone
from capture.take import TakeWriter, read_take
from immersion import cli
from immersion.errors import ExportError
from immersion.exports import export_take
from immersion.exports.bvh import euler_zxy
from immersion.exports.motion import Motion, frame_time, solve_motion, take_motion
from immersion.exports.rigs import node_globals, normalized_rig
from immersion.exports.vrma import VRMA_PRESETS
from tests.assets_helpers import glb, small_avatar, split_glb

with warnings.catch_warnings():
    # bvhio imports PyGLM as `glm`, a spelling PyGLM 2.8 warns it will deprecate: not ours.
    warnings.simplefilter("ignore", PendingDeprecationWarning)
    import bvhio

GAP = 5  # the frame written without a pose


def _arm(k: int) -> np.ndarray:
    """The left upper arm's rotation at frame k: k degrees down about -Z."""
    return axis_angle_quat([0.0, 0.0, 1.0], -math.radians(k))


def _write_take(
    path: Path, frames: int = 60, fps: float | None = 30.0, *, face: bool = False
) -> Path:
    """Arm lowering a degree a frame, head turning, hips walking forward 1 cm a frame; frame
    GAP has no pose; with ``face``, jaw opening and the left eye closing over the take."""
    header = {} if fps is None else {"fps": fps}
    with TakeWriter(path, header) as w:
        for k in range(frames):
            t = k / (fps or 25.0)
            rot = Pose.rest().rotations.copy()
            rot[Bone.LEFT_UPPER_ARM] = _arm(k)
            rot[Bone.HEAD] = axis_angle_quat([0.0, 1.0, 0.0], math.radians(k / 2))
            f = None
            if face:
                f = Face.from_named(
                    {"jawOpen": k / frames, "eyeBlinkLeft": 1 - k / frames}, (0.2, -0.1)
                )
            pose = Pose(t, np.array([0.0, 0.93, 0.01 * k]), rot, np.ones(BONE_COUNT), f)
            w.write(t, None if k == GAP else pose)
    return path


def _accessor(doc: dict[str, Any], binary: bytes, index: int) -> np.ndarray:
    acc = doc["accessors"][index]
    view = doc["bufferViews"][acc["bufferView"]]
    width = {"SCALAR": 1, "VEC3": 3, "VEC4": 4}[acc["type"]]
    start = view.get("byteOffset", 0) + acc.get("byteOffset", 0)
    data = np.frombuffer(binary, np.float32, acc["count"] * width, start)
    return data.reshape(acc["count"], width) if width > 1 else data


def _tracks(doc: dict[str, Any], binary: bytes) -> dict[tuple[int, str], np.ndarray]:
    (anim,) = [a for a in doc["animations"] if a["name"] == "take"]
    out = {}
    for ch in anim["channels"]:
        s = anim["samplers"][ch["sampler"]]
        out[(ch["target"]["node"], ch["target"]["path"])] = _accessor(doc, binary, s["output"])
    return out


def _small_avatar_file(tmp_path: Path) -> Path:
    path = tmp_path / "small.vrm"
    path.write_bytes(glb(*small_avatar()))
    return path


# --- Pure maths and the take as frames -----------------------------------------------------


@pytest.mark.pure
def test_zxy_euler_angles_rebuild_the_rotation() -> None:
    rng = np.random.default_rng(3)
    q = rng.normal(size=(200, 4))
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    z, x, y = np.radians(euler_zxy(q)).T

    def rot(axis: list[float], a: np.ndarray) -> np.ndarray:
        return quat_to_matrix(np.array([axis_angle_quat(axis, float(v)) for v in a]))

    rebuilt = rot([0, 0, 1], z) @ rot([1, 0, 0], x) @ rot([0, 1, 0], y)
    np.testing.assert_allclose(rebuilt, quat_to_matrix(q), atol=1e-9)


@pytest.mark.pure
def test_frame_time_is_the_headers_else_the_median_spacing_and_gaps_hold(tmp_path: Path) -> None:
    with_fps = read_take(_write_take(tmp_path / "a.jsonl", 10, fps=50.0))
    assert frame_time(with_fps) == pytest.approx(1 / 50)
    jitter = tmp_path / "b.jsonl"
    with TakeWriter(jitter, {}) as w:
        for k, t in enumerate([0.0, 0.04, 0.079, 0.12, 0.16, 0.2, 0.3]):
            w.write(t, Pose.rest(t, 0.9) if k != 3 else None)
    assert frame_time(read_take(jitter)) == pytest.approx(0.04)
    motion = take_motion(with_fps, tmp_path / "a.jsonl")
    assert len(motion.poses) == 10
    assert motion.poses[GAP] is motion.poses[GAP - 1]


@pytest.mark.pure
def test_a_take_with_no_pose_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl"
    with TakeWriter(path, {"fps": 30.0}) as w:
        w.write(0.0, None)
    with pytest.raises(ExportError, match=r"empty\.jsonl: the take has no frame with a pose"):
        export_take(path, "bvh", tmp_path / "out.bvh")


@pytest.mark.pure
def test_the_normalized_skeleton_rests_in_the_t_pose_on_the_floor() -> None:
    rig = normalized_rig()
    np.testing.assert_allclose(rig.correction, np.tile(np.eye(3), (BONE_COUNT, 1, 1)), atol=1e-9)
    local, hips = rig.solve(Pose.rest(0.0, 0.93))
    np.testing.assert_allclose(local, np.tile(np.eye(3), (BONE_COUNT, 1, 1)), atol=1e-9)
    assert hips == pytest.approx([0.0, 0.95, 0.0])  # the reference adult's legs, feet down


# --- BVH -----------------------------------------------------------------------------------


@pytest.mark.pure
def test_bvh_reads_back_in_bvhio(tmp_path: Path) -> None:
    take = _write_take(tmp_path / "t.jsonl")
    out = tmp_path / "t.bvh"
    result = export_take(take, "bvh", out)
    bvh = bvhio.readAsBvh(str(out))
    assert bvh.FrameCount == result.frames == 60
    assert bvh.FrameTime == pytest.approx(1 / 30, abs=1e-7)
    joints = {j.Name: j for j, _, _ in bvh.Root.layout()}
    assert set(joints) == set(BONE_NAMES) and bvh.Root.Name == "hips"
    assert len(bvh.Root.Channels) == 6 and joints["leftUpperArm"].Channels == [
        "Zrotation",
        "Xrotation",
        "Yrotation",
    ]
    arm = joints["leftUpperArm"]
    for k in (0, 30, 59, GAP):
        held = GAP - 1 if k == GAP else k
        rot = arm.Keyframes[k].Rotation  # glm quaternion (w, x, y, z)
        got = np.array([rot.x, rot.y, rot.z, rot.w])
        assert float(quat_angle(got, _arm(held))) < 1e-3, k
    # Centimetres: the T-posed upper arm is 28 cm, the hips walk 1 cm a frame scaled to the
    # skeleton's legs over the actor's (0.95 m / 0.93 m), feet on the floor.
    assert tuple(joints["leftLowerArm"].Offset) == pytest.approx((28.0, 0.0, 0.0), abs=1e-4)
    for k in (0, 40):
        p = bvh.Root.Keyframes[k].Position
        assert (p.x, p.y, p.z) == pytest.approx((0.0, 95.0, k * 0.95 / 0.93), abs=2e-3)


@pytest.mark.pure
def test_bvh_on_an_avatar_has_its_proportions(tmp_path: Path) -> None:
    avatar = _small_avatar_file(tmp_path)
    out = tmp_path / "t.bvh"
    export_take(_write_take(tmp_path / "t.jsonl", 10), "bvh", out, str(avatar))
    joints = {j.Name: j for j, _, _ in bvhio.readAsBvh(str(out)).Root.layout()}
    doc, _ = small_avatar()
    nodes = {n["name"]: n for n in doc["nodes"]}
    # The small avatar is T-posed: its lower arm's offset is the node's own translation.
    want = np.array(nodes["leftLowerArm"]["translation"]) * 100.0
    np.testing.assert_allclose(tuple(joints["leftLowerArm"].Offset), want, atol=1e-3)
    assert len(joints) == BONE_COUNT


# --- VRMA ----------------------------------------------------------------------------------


@pytest.mark.pure
def test_vrma_maps_bones_and_carries_the_face(tmp_path: Path) -> None:
    take = _write_take(tmp_path / "t.jsonl", 40, fps=None, face=True)
    out = tmp_path / "t.vrma"
    result = export_take(take, "vrma", out)
    doc, binary = split_glb(out.read_bytes())
    ext = doc["extensions"]["VRMC_vrm_animation"]
    assert ext["specVersion"] == "1.0" and doc["extensionsUsed"] == ["VRMC_vrm_animation"]
    bones = ext["humanoid"]["humanBones"]
    assert set(bones) == set(BONE_NAMES)
    for name, ref in bones.items():
        node = doc["nodes"][ref["node"]]
        assert node["name"] == name and "rotation" not in node and "scale" not in node
    tracks = _tracks(doc, binary)
    assert {p for _, p in tracks} == {"rotation", "translation"}
    assert [n for n, p in tracks if p == "translation" and n in
            {r["node"] for r in bones.values()}] == [bones["hips"]["node"]]  # fmt: skip
    poses = take_motion(read_take(take), take).poses  # the gap holds the frame before
    head = tracks[(bones["head"]["node"], "rotation")]
    for k in (0, 39):
        assert float(quat_angle(head[k].astype(float), poses[k].rotation(Bone.HEAD))) < 1e-3
    preset = ext["expressions"]["preset"]
    assert set(preset) == set(VRMA_PRESETS) and "blink" not in preset
    assert result.expressions == len(preset)
    aa = tracks[(preset["aa"]["node"], "translation")]
    blink = tracks[(preset["blinkLeft"]["node"], "translation")]
    jaw = [p.face.weight("jawOpen") if p.face else 0.0 for p in poses]
    eye = [p.face.weight("eyeBlinkLeft") if p.face else 0.0 for p in poses]
    np.testing.assert_allclose(aa[:, 0], jaw, atol=1e-6)
    np.testing.assert_allclose(blink[:, 0], eye, atol=1e-6)
    assert np.all(aa[:, 1:] == 0.0)
    look = tracks[(ext["lookAt"]["node"], "rotation")][0].astype(float)
    forward = quat_to_matrix(look) @ np.array([0.0, 0.0, 1.0])
    assert forward[0] > 0.0 and forward[1] < 0.0  # yaw 0.2 toward +X, pitch -0.1 down
    (anim,) = doc["animations"]
    times = _accessor(doc, binary, anim["samplers"][0]["input"])
    assert times[1] == pytest.approx(0.04) and len(times) == 40  # no fps: the median spacing


@pytest.mark.pure
def test_vrma_without_a_face_track_has_no_expressions(tmp_path: Path) -> None:
    out = tmp_path / "t.vrma"
    export_take(_write_take(tmp_path / "t.jsonl", 5), "vrma", out)
    ext = split_glb(out.read_bytes())[0]["extensions"]["VRMC_vrm_animation"]
    assert "expressions" not in ext and "lookAt" not in ext


# --- GLB -----------------------------------------------------------------------------------


@pytest.mark.pure
def test_glb_animates_the_avatars_joints_and_face(tmp_path: Path) -> None:
    avatar = _small_avatar_file(tmp_path)
    take = _write_take(tmp_path / "t.jsonl", 20, face=True)
    out = tmp_path / "t.glb"
    result = export_take(take, "glb", out, str(avatar))
    before, before_bin = small_avatar()
    doc, binary = split_glb(out.read_bytes())
    # The avatar is whole: its nodes, meshes, skins and VRM extension, its data unchanged.
    assert doc["nodes"] == before["nodes"] and doc["meshes"] == before["meshes"]
    assert doc["skins"] == before["skins"] and "VRMC_vrm" in doc["extensions"]
    for i in range(len(before["accessors"])):
        a = doc["accessors"][i]
        if a["componentType"] == 5126 and a["type"] in ("SCALAR", "VEC3", "VEC4"):
            np.testing.assert_array_equal(
                _accessor(doc, binary, i), _accessor(before, before_bin, i)
            )
    names = {n["name"]: i for i, n in enumerate(doc["nodes"])}
    tracks = _tracks(doc, binary)
    assert {n for n, p in tracks if p == "rotation"} >= {names[b] for b in BONE_NAMES}
    # Its joints rest as the normalized skeleton does: local rotations are the take's.
    arm = tracks[(names["leftUpperArm"], "rotation")]
    assert float(quat_angle(arm[12].astype(float), _arm(12))) < 1e-3
    weights = [(n, v) for (n, p), v in tracks.items() if p == "weights"]
    assert len(weights) == result.expressions == 1
    node, values = weights[0]
    targets = doc["meshes"][doc["nodes"][node]["mesh"]]["extras"]["targetNames"]
    per_frame = values.reshape(20, len(targets))
    poses = take_motion(read_take(take), take).poses
    jaw = [p.face.weight("jawOpen") if p.face else 0.0 for p in poses]
    np.testing.assert_allclose(per_frame[:, targets.index("jawOpen")], jaw, atol=1e-6)


@pytest.mark.pure
def test_glb_needs_an_avatar(tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="--format glb needs --avatar"):
        export_take(_write_take(tmp_path / "t.jsonl", 3), "glb", tmp_path / "t.glb")


# --- The command line ----------------------------------------------------------------------


def _corrupt(tmp_path: Path) -> Path:
    path = tmp_path / "corrupt.jsonl"
    path.write_text('{"format": "immersion-take", "version": 2}\n{"t": "soon"}\n')
    return path


@pytest.mark.pure
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.jsonl", "--format", "bvh"], "missing.jsonl: cannot open"),
        (["CORRUPT", "--format", "bvh"], "corrupt.jsonl:2: "),
        (["TAKE", "--format", "fbx"], "unknown export format 'fbx'"),
        (["TAKE", "--format", "bvh", "--avatar", "nobody"], "no avatar 'nobody'"),
        (["TAKE", "--format", "glb"], "--format glb needs --avatar"),
        (["TAKE", "--format", "bvh", "--out", "TAKE"], "is the take itself"),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    take = _write_take(tmp_path / "t.jsonl", 3)
    names = {"TAKE": str(take), "CORRUPT": str(_corrupt(tmp_path))}
    args = [names.get(a, str(tmp_path / a) if a.endswith(".jsonl") else a) for a in args]
    out = tmp_path / "out.file"
    before = [(p, p.read_bytes()) for p in sorted(tmp_path.iterdir())]
    if "--out" not in args:
        args += ["--out", str(out)]
    assert cli.main(["takes", "export", *args]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("immersion: error: ") and message in err
    assert not out.exists()
    assert [(p, p.read_bytes()) for p in sorted(tmp_path.iterdir())] == before


@pytest.mark.pure
def test_export_prints_json_and_help_explains(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    take = _write_take(tmp_path / "t.jsonl", 10)
    out = tmp_path / "sub" / "t.bvh"
    assert cli.main(["takes", "export", str(take), "--format", "BVH", "--out", str(out), "--json"]) == 0  # fmt: skip
    summary = json.loads(capsys.readouterr().out)
    assert summary["frames"] == 10 and summary["format"] == "bvh" and out.is_file()
    assert summary["joints"] == BONE_COUNT and summary["avatar"] is None
    with pytest.raises(SystemExit):
        cli.main(["takes", "export", "--help"])
    text = capsys.readouterr().out
    assert "Zrotation Xrotation" in text and "examples:" in text and "VRMC_vrm_animation" in text


# --- Checked by others' tools, and against the room's own avatar ---------------------------


def test_vrma_and_glb_pass_the_khronos_validator(tmp_path: Path) -> None:
    from tests.test_gltf_validator import EXPECTED, INFO, _validate

    face = _write_take(tmp_path / "face.jsonl", 30, face=True)
    body = _write_take(tmp_path / "body.jsonl", 30)
    files = []
    for take, fmt, avatar in (
        (face, "vrma", None), (body, "vrma", "detective"), (face, "glb", "detective"),
        (body, "glb", "captain"),
    ):  # fmt: skip
        files.append(tmp_path / f"{take.stem}-{avatar}.{fmt}")
        export_take(take, fmt, files[-1], avatar, progress=False)
    # NODE_EMPTY: a VRMA's bone and expression nodes are nodes and nothing else, by design.
    allowed = EXPECTED | {"NODE_EMPTY"}
    for report in _validate(files):
        problems = [
            f"{m['code']} at {m['pointer']}: {m['message']}"
            for m in report["messages"]
            if m["severity"] <= INFO and m["code"] not in allowed
        ]
        assert report["errors"] == 0 and not problems, (report["file"], problems)


@pytest.fixture(scope="module")
def stage() -> Any:
    from immersion.catalogue import shipped_packs
    from immersion.scenes.manifest import load_pack
    from immersion.stage.stage import Stage

    return Stage.open(load_pack(shipped_packs()[0]), None, width=160, height=90)


@pytest.mark.parametrize("kind", ["detective", "vrm0", "presets"])
def test_glb_matches_the_room_avatar_posed_by_the_engine(
    tmp_path: Path, stage: Any, kind: str
) -> None:
    """Joints and morph weights of the GLB at a frame, against the room's AvatarActor after
    the same poses: the cast's VRM 1.0, a VRM 0.x facing -Z, presets-only morphs."""
    from immersion.catalogue import avatars_dir
    from immersion.stage.avatar_actor import AvatarActor
    from tests.face_fixtures import write_face_avatar
    from tests.support import need

    if kind == "detective":
        path = need(avatars_dir() / "detective.vrm")
    else:
        path = write_face_avatar(tmp_path, kind)
    take = _write_take(tmp_path / "t.jsonl", 30, face=True)
    out = tmp_path / "t.glb"
    export_take(take, "glb", out, str(path), progress=False)
    doc, binary = split_glb(out.read_bytes())
    tracks = _tracks(doc, binary)
    names = {n.get("name"): i for i, n in enumerate(doc["nodes"])}
    actor = AvatarActor.load(path)
    assert actor.face is not None and actor.face.targets
    for k, pose in enumerate(take_motion(read_take(take), take).poses):
        actor.apply(pose)
        if k not in (10, 29):
            continue
        posed = json.loads(json.dumps(doc["nodes"]))
        for (node, p), values in tracks.items():
            if p in ("rotation", "translation"):
                posed[node][p] = [float(v) for v in values[k]]
        world, _ = node_globals({"nodes": posed})
        for bone, at in actor.joint_positions().items():
            got = world[names[actor.spec.bones[bone]]][:3, 3]
            if actor.spec.faces_minus_z:  # the room turns a 0.x avatar round to face +Z
                got = got * np.array([-1.0, 1.0, -1.0])
            np.testing.assert_allclose(got, at, atol=2e-3, err_msg=f"{bone.vrm_name} @ {k}")
        for j, (mesh, index) in enumerate(actor.face.targets):
            node = next(n for n, p in tracks if p == "weights" and doc["nodes"][n]["mesh"] == mesh)
            per_frame = tracks[(node, "weights")].reshape(30, -1)
            assert per_frame[k, index] == pytest.approx(actor.weights[j], abs=1e-6)


@pytest.mark.pure
def test_solve_motion_keeps_quaternion_signs_continuous() -> None:
    # Past 180° matrix_to_quat's w ≥ 0 flips the sign; linear interpolation must not.
    rig = normalized_rig()
    poses = []
    for k in range(8):
        rot = Pose.rest().rotations.copy()
        rot[Bone.LEFT_UPPER_ARM] = axis_angle_quat([0.0, 1.0, 0.0], math.radians(170 + 5 * k))
        poses.append(Pose(k / 30, np.array([0.0, 0.9, 0.0]), rot, np.ones(BONE_COUNT)))
    rotations, _ = solve_motion(rig, Motion(1 / 30, poses), progress=False)
    arm = rotations[:, rig.bones.index(Bone.LEFT_UPPER_ARM)]
    assert np.all(np.sum(arm[1:] * arm[:-1], axis=1) > 0.0)


@pytest.mark.pure
def test_an_a_posed_avatar_is_straightened_into_the_t_pose(tmp_path: Path) -> None:
    doc, binary = small_avatar()
    names = {n["name"]: i for i, n in enumerate(doc["nodes"])}
    arm = doc["nodes"][names["leftUpperArm"]]
    arm["rotation"] = [float(v) for v in axis_angle_quat([0.0, 0.0, 1.0], -math.pi / 4)]
    avatar = tmp_path / "a-pose.vrm"
    avatar.write_bytes(glb(doc, binary))
    take = _write_take(tmp_path / "t.jsonl", 3)
    # BVH: the lower arm hangs 45° down in the file, straight out along +X in the export.
    export_take(take, "bvh", tmp_path / "t.bvh", str(avatar))
    joints = {j.Name: j for j, _, _ in bvhio.readAsBvh(str(tmp_path / "t.bvh")).Root.layout()}
    length = np.linalg.norm(doc["nodes"][names["leftLowerArm"]]["translation"]) * 100.0
    offset = tuple(joints["leftLowerArm"].Offset)
    assert offset == pytest.approx((length, 0.0, 0.0), abs=1e-3)
    # GLB: the take's first frame has the arm at rest, which on this avatar is the T-pose.
    export_take(take, "glb", tmp_path / "t.glb", str(avatar))
    out, out_bin = split_glb((tmp_path / "t.glb").read_bytes())
    posed = out["nodes"]
    for (node, path), values in _tracks(out, out_bin).items():
        if path in ("rotation", "translation"):
            posed[node][path] = [float(v) for v in values[0]]
    world, _ = node_globals({"nodes": posed})
    shoulder = world[names["leftUpperArm"]][:3, 3]
    hand = world[names["leftHand"]][:3, 3]
    assert hand[1] == pytest.approx(shoulder[1], abs=1e-4) and hand[0] > shoulder[0] + 0.2
