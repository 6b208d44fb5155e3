"""VMC protocol out (immersion.vmc): the pure core, the sender on a real UDP socket, and a
served room sending a take's performance to a python-osc server on loopback."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pythonosc.dispatcher import Dispatcher
from pythonosc.osc_bundle import OscBundle
from pythonosc.osc_message import OscMessage
from pythonosc.osc_server import ThreadingOSCUDPServer
from scipy.spatial.transform import Rotation

from capture.face import ARKIT, Face
from capture.pose import Pose
from capture.rotations import axis_angle_quat
from capture.skeleton import BONE_COUNT, Bone
from capture.take import TakeWriter
from immersion.avatars.rig import Rig
from immersion.config import RoomSettings
from immersion.vmc.protocol import (
    APPLY,
    BLEND,
    BLEND_NAMES,
    BONE,
    DATAGRAM_BYTES,
    OK,
    ROOT,
    TIME,
    UNITY_BONES,
    Body,
    Message,
    VmcError,
    datagrams,
    frame_messages,
    parse_target,
)
from immersion.vmc.sender import VmcSender
from tests.bring_helpers import a_pose_positions, t_pose_positions
from tests.support import run_cli, served_room

# Unity's HumanBodyBones names (UnityEngine.HumanBodyBones, less LastBone): what receivers parse.
HUMAN_BODY_BONES = set(
    [
        "Hips",
        "LeftUpperLeg",
        "RightUpperLeg",
        "LeftLowerLeg",
        "RightLowerLeg",
        "LeftFoot",
        "RightFoot",
        "Spine",
        "Chest",
        "UpperChest",
        "Neck",
        "Head",
        "LeftShoulder",
        "RightShoulder",
        "LeftUpperArm",
        "RightUpperArm",
        "LeftLowerArm",
        "RightLowerArm",
        "LeftHand",
        "RightHand",
        "LeftToes",
        "RightToes",
        "LeftEye",
        "RightEye",
        "Jaw",
    ]
) | {
    f"{side}{finger}{seg}"
    for side in ("Left", "Right")
    for finger in ("Thumb", "Index", "Middle", "Ring", "Little")
    for seg in ("Proximal", "Intermediate", "Distal")
}


def _rig(positions: dict[Bone, np.ndarray]) -> Rig:
    """A rig whose joint frames are the normalized space's (as UniVRM normalizes an avatar)."""
    bones = tuple(b for b in Bone if b in positions)
    eye = np.tile(np.eye(3), (len(bones), 1, 1))
    pos = np.array([positions[b] for b in bones])
    return Rig(bones, eye, eye.copy(), pos, np.eye(3), pos[0].copy(), name="test.vrm")


def _raised_left_arm(t: float = 0.0, hips: float = 0.9) -> Pose:
    """The left upper arm raised from the T-pose's level (+X) to straight up (+Y)."""
    rest = Pose.rest(t, hips)
    rotations = rest.rotations.copy()
    rotations[Bone.LEFT_UPPER_ARM] = axis_angle_quat([0.0, 0.0, 1.0], np.pi / 2)
    return replace(rest, rotations=rotations, confidence=np.ones(BONE_COUNT))


def _by_name(messages: list[Message], address: str) -> dict[str, tuple[Any, ...]]:
    return {str(args[0]): args[1:] for a, args in messages if a == address}


# The pure core ---------------------------------------------------------------------------------


@pytest.mark.pure
def test_every_bone_goes_out_once_under_its_unity_name() -> None:
    assert set(UNITY_BONES) <= HUMAN_BODY_BONES
    assert len(set(UNITY_BONES)) == BONE_COUNT
    # VRM 1.0's thumb metacarpal is the segment Unity calls the thumb's proximal one.
    assert UNITY_BONES[Bone.LEFT_THUMB_METACARPAL] == "LeftThumbProximal"
    assert UNITY_BONES[Bone.RIGHT_THUMB_DISTAL] == "RightThumbDistal"
    body = Body.of(_rig(t_pose_positions()))
    messages = frame_messages(Pose.rest(0.0, 0.9), body, 1.5)
    bones = [args[0] for a, args in messages if a == BONE]
    assert bones == list(UNITY_BONES)  # no face: no eyes, no blendshapes
    assert messages[0][0] == ROOT and messages[0][1][0] == "root"
    assert [a for a, _ in messages[-2:]] == [OK, TIME]
    assert messages[-1][1] == (1.5,)
    assert not any(a in (BLEND, APPLY) for a, _ in messages)
    for _, args in messages[:-2]:  # a name, then 7 floats: what receivers check for
        assert isinstance(args[0], str) and len(args) == 8
        assert all(type(v) is float for v in args[1:])


@pytest.mark.pure
def test_a_raised_left_arm_is_the_rotation_unity_expects() -> None:
    """In Unity (left-handed, Y up, facing +Z) the left arm rests along -X; raised, it points
    up: the quaternion sent must turn -X onto +Y, as Unity's Quaternion * Vector3 does."""
    pose = _raised_left_arm()
    # In the capture contract the same rotation turns the left arm's +X onto +Y.
    q = pose.rotation(Bone.LEFT_UPPER_ARM)
    np.testing.assert_allclose(Rotation.from_quat(q).apply([1.0, 0.0, 0.0]), [0, 1, 0], atol=1e-12)
    sent = _by_name(frame_messages(pose, Body.of(_rig(t_pose_positions())), 0.0), BONE)
    q_unity = np.array(sent["LeftUpperArm"][3:])
    up = Rotation.from_quat(q_unity).apply([-1.0, 0.0, 0.0])
    np.testing.assert_allclose(up, [0.0, 1.0, 0.0], atol=1e-6)
    # About Unity's Z by -90°: the right arm, not sent raised, stays at rest.
    np.testing.assert_allclose(q_unity, [0, 0, -np.sqrt(0.5), np.sqrt(0.5)], atol=1e-6)
    np.testing.assert_allclose(sent["RightUpperArm"][3:], [0, 0, 0, 1], atol=1e-12)


@pytest.mark.pure
def test_the_conversion_is_the_mirror_image_of_any_rotation() -> None:
    """Mirroring X maps a rotated vector to the mirrored rotation of the mirrored vector, for
    random rotations of every bone: handedness right whatever the pose."""
    rng = np.random.default_rng(5)
    q = rng.normal(size=(BONE_COUNT, 4))
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    pose = replace(Pose.rest(0.0, 0.9), rotations=q)
    sent = _by_name(frame_messages(pose, Body.of(_rig(t_pose_positions())), 0.0), BONE)
    mirror = np.array([-1.0, 1.0, 1.0])
    v = rng.normal(size=(BONE_COUNT, 3))
    turned = Rotation.from_quat(q).apply(v)
    unity = Rotation.from_quat([sent[name][3:] for name in UNITY_BONES]).apply(v * mirror)
    np.testing.assert_allclose(unity, turned * mirror, atol=1e-6)


@pytest.mark.pure
def test_positions_are_the_avatars_t_posed_offsets_in_unity_axes() -> None:
    t_pose, a_pose = (Body.of(_rig(p())) for p in (t_pose_positions, a_pose_positions))
    # An A-pose avatar's arms go out level, as a receiver's normalized T-pose has them.
    np.testing.assert_allclose(a_pose.offsets, t_pose.offsets, atol=1e-9)
    positions = t_pose_positions()
    sent = _by_name(frame_messages(Pose.rest(0.0, 0.9), t_pose, 0.0), BONE)
    arm = positions[Bone.LEFT_LOWER_ARM] - positions[Bone.LEFT_UPPER_ARM]
    assert arm[0] > 0.1  # the contract's left is +X ...
    np.testing.assert_allclose(sent["LeftLowerArm"][:3], arm * [-1, 1, 1], atol=1e-6)  # Unity's -X
    # The hips stand at the avatar's own height (its floor is at 0), whatever the actor's ...
    for actor in (0.9, 1.3):
        hips = _by_name(frame_messages(Pose.rest(0.0, actor), t_pose, 0.0), BONE)["Hips"]
        assert hips[:3] == pytest.approx((0.0, positions[Bone.HIPS][1], 0.0), abs=1e-6)
    # ... and lower where the knees bend back under them: the feet stay on the floor.
    kneel = Pose.rest(0.0, 0.9).rotations.copy()
    for b in (Bone.LEFT_LOWER_LEG, Bone.RIGHT_LOWER_LEG):
        kneel[b] = axis_angle_quat([1.0, 0.0, 0.0], np.pi / 2)
    pose = replace(Pose.rest(0.0, 0.9), rotations=kneel)
    shin = positions[Bone.LEFT_LOWER_LEG][1] - positions[Bone.LEFT_FOOT][1]
    hips = _by_name(frame_messages(pose, t_pose, 0.0), BONE)["Hips"]
    assert hips[1] < positions[Bone.HIPS][1] - 0.8 * shin


@pytest.mark.pure
def test_the_root_follows_the_actor_across_the_floor_in_unity_axes() -> None:
    body = Body.of(_rig(t_pose_positions()))
    pose = replace(Pose.rest(0.0, 0.9), hips=np.array([0.5, 0.9, 0.25]))
    root = _by_name(frame_messages(pose, body, 0.0, stride=2.0), ROOT)["root"]
    np.testing.assert_allclose(root, [-1.0, 0.0, 0.5, 0, 0, 0, 1])  # the avatar's left is -X
    on_mark = _by_name(frame_messages(pose, body, 0.0), ROOT)["root"]
    np.testing.assert_allclose(on_mark, [0, 0, 0, 0, 0, 0, 1])


@pytest.mark.pure
def test_blendshapes_are_weights_then_apply_then_ok() -> None:
    rng = np.random.default_rng(7)
    face = Face(rng.uniform(0.0, 1.0, len(ARKIT)), np.array([0.3, -0.1]))
    pose = replace(Pose.rest(0.0, 0.9), face=face)
    messages = frame_messages(pose, Body.of(_rig(t_pose_positions())), 2.0)
    addresses = [a for a, _ in messages]
    apply = addresses.index(APPLY)
    blends = [i for i, a in enumerate(addresses) if a == BLEND]
    assert blends and max(blends) < apply and addresses[apply + 1 :] == [OK, TIME]
    values = dict(_by_name(messages, BLEND))
    assert list(values) == list(BLEND_NAMES)
    assert all(0.0 <= v[0] <= 1.0 for v in values.values())
    assert values["JawOpen"][0] == pytest.approx(face.weight("jawOpen"))
    assert values["A"][0] == pytest.approx(face.weight("jawOpen"))  # A is an open jaw
    # Eyes: looking to the avatar's left (+yaw) turns the eyes' +Z toward Unity's -X.
    eye = _by_name(messages, BONE)["LeftEye"]
    look = Rotation.from_quat(eye[3:]).apply([0.0, 0.0, 1.0])
    assert look[0] < -0.25 and look[1] < 0.0  # left, and down (pitch -0.1)


@pytest.mark.pure
def test_a_wink_is_blink_plus_one_eyes_extra() -> None:
    face = Face.from_named({"eyeBlinkLeft": 0.8, "eyeBlinkRight": 0.6})
    pose = replace(Pose.rest(0.0, 0.9), face=face)
    values = _by_name(frame_messages(pose, Body.of(_rig(t_pose_positions())), 0.0), BLEND)
    assert values["Blink"][0] == pytest.approx(0.6)
    assert values["Blink_L"][0] + values["Blink"][0] == pytest.approx(0.8)
    assert values["Blink_R"][0] == pytest.approx(0.0)


@pytest.mark.pure
def test_datagrams_decode_with_another_osc_reader_in_order_and_fit_a_lan_packet() -> None:
    face = Face.from_named({"jawOpen": 0.5, "mouthSmileLeft": 1.0})
    pose = replace(_raised_left_arm(), face=face)
    messages = frame_messages(pose, Body.of(_rig(t_pose_positions())), 3.25)
    packets = datagrams(messages)
    assert len(packets) > 1 and all(len(p) <= DATAGRAM_BYTES for p in packets)
    decoded = []
    for packet in packets:
        assert OscBundle.dgram_is_bundle(packet)
        for item in OscBundle(packet):
            assert isinstance(item, OscMessage)
            decoded.append((item.address, tuple(item.params)))
    assert [a for a, _ in decoded] == [a for a, _ in messages]
    for (_, got), (_, want) in zip(decoded, messages, strict=True):
        assert len(got) == len(want)
        for g, w in zip(got, want, strict=True):
            assert type(g) is type(w)
            assert g == (pytest.approx(w, abs=1e-6) if isinstance(w, float) else w)


@pytest.mark.pure
@pytest.mark.parametrize(
    ("text", "want"),
    [("127.0.0.1:39539", ("127.0.0.1", 39539)), ("studio.local:9000", ("studio.local", 9000)),
     ("[::1]:39539", ("::1", 39539))],
)  # fmt: skip
def test_a_vmc_target_is_host_and_port(text: str, want: tuple[str, int]) -> None:
    assert parse_target(text) == want


@pytest.mark.pure
@pytest.mark.parametrize("text", ["", "127.0.0.1", ":39539", "host:0", "host:70000", "a b:1"])
def test_a_bad_vmc_target_is_refused_in_one_line_naming_the_option(text: str) -> None:
    with pytest.raises(VmcError, match=r"^--vmc ") as err:
        parse_target(text)
    assert "\n" not in str(err.value)


@pytest.mark.pure
def test_nothing_is_sent_unless_asked() -> None:
    from immersion.cli import _parser

    assert _parser().parse_args(["serve"]).vmc is None
    assert RoomSettings(source="0", scene="s", avatar="a").vmc is None
    assert _parser().parse_args(["serve", "--vmc", "127.0.0.1:39539"]).vmc == "127.0.0.1:39539"


@pytest.mark.pure
@given(st.text(max_size=40))
def test_any_vmc_target_text_is_parsed_or_refused_in_one_line(text: str) -> None:
    try:
        host, port = parse_target(text)
    except VmcError as exc:
        assert "\n" not in str(exc) and str(exc).startswith("--vmc ")
    else:
        assert host and 1 <= port <= 65535


# The sender, on a real socket ------------------------------------------------------------------


@contextmanager
def _receiver() -> Iterator[tuple[int, list[tuple[float, str, tuple[Any, ...]]]]]:
    """A python-osc server on loopback: (its port, every message as (arrival, address, args))."""
    got: list[tuple[float, str, tuple[Any, ...]]] = []
    dispatcher = Dispatcher()
    dispatcher.set_default_handler(
        lambda address, *args: got.append((time.monotonic(), address, args))
    )
    server = ThreadingOSCUDPServer(("127.0.0.1", 0), dispatcher)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], got
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def _wait(condition: Any, seconds: float) -> None:
    end = time.monotonic() + seconds
    while not condition() and time.monotonic() < end:
        time.sleep(0.01)


def test_the_sender_sends_the_newest_pose_once_the_avatar_is_known() -> None:
    with _receiver() as (port, got):
        sender = VmcSender(("127.0.0.1", port), time.monotonic)
        thread = threading.Thread(target=sender.run, daemon=True)
        thread.start()
        try:
            sender.offer(_raised_left_arm())
            time.sleep(0.2)
            assert got == []  # no avatar yet: nothing a receiver could place
            sender.use_avatar(_rig(t_pose_positions()))
            for k in range(5):
                sender.offer(_raised_left_arm(t=k / 30))
                time.sleep(0.05)
            _wait(lambda: sum(a == TIME for _, a, _ in got) >= 5, 5.0)
        finally:
            sender.stop()
            thread.join(5)
        assert not thread.is_alive()
    frames = sum(a == TIME for _, a, _ in got)
    assert frames == sender.sent == 5
    arm = [args for _, a, args in got if a == BONE and args[0] == "LeftUpperArm"]
    np.testing.assert_allclose(arm[-1][4:], [0, 0, -np.sqrt(0.5), np.sqrt(0.5)], atol=1e-6)


def test_a_slow_sender_drops_poses_rather_than_queue_them() -> None:
    """Poses offered faster than they go out replace each other in the slot: the last one is
    sent, and far fewer frames than poses."""
    with _receiver() as (port, got):
        sender = VmcSender(("127.0.0.1", port), time.monotonic)
        sender.use_avatar(_rig(t_pose_positions()))
        for k in range(200):  # before the thread runs: all but the last are replaced
            sender.offer(replace(Pose.rest(k, 0.9), hips=np.array([0.0, 0.9, k / 1000])))
        thread = threading.Thread(target=sender.run, daemon=True)
        thread.start()
        _wait(lambda: any(a == TIME for _, a, _ in got), 5.0)
        time.sleep(0.2)
        sender.stop()
        thread.join(5)
    assert sender.sent == 1
    hips = [args for _, a, args in got if a == BONE and args[0] == "Hips"]
    assert len(hips) == 1


# A served room ---------------------------------------------------------------------------------


def test_a_served_room_sends_its_takes_bones_at_the_capture_rate(tmp_path: Path) -> None:
    take = tmp_path / "raised.jsonl"
    with TakeWriter(take, {"fps": 30.0}) as w:
        for k in range(60):
            w.write(k / 30, _raised_left_arm(k / 30))
    with _receiver() as (port, got):
        args = ["--source", str(take), "--size", "320x180", "--vmc", f"127.0.0.1:{port}"]
        with served_room(tmp_path / "room", args):
            _wait(lambda: any(a == TIME for _, a, _ in got), 60.0)
            start = len(got)
            time.sleep(3.0)
            window = got[start:]
    times = [t for t, a, _ in window if a == TIME]
    rate = (len(times) - 1) / (times[-1] - times[0])
    assert 20.0 <= rate <= 36.0, rate  # the take's 30 fps, less what a busy machine drops
    names = {args[0] for _, a, args in window if a == BONE}
    assert names == set(UNITY_BONES)
    arm = [args for _, a, args in window if a == BONE and args[0] == "LeftUpperArm"]
    np.testing.assert_allclose(arm[-1][4:], [0, 0, -np.sqrt(0.5), np.sqrt(0.5)], atol=1e-4)
    assert [args for _, a, args in window if a == OK][-1] == (1,)


def test_serve_refuses_a_bad_vmc_target_in_one_line(tmp_path: Path) -> None:
    done = run_cli("serve", "--vmc", "39539", "--takes", str(tmp_path / "takes"))
    assert done.returncode != 0
    assert done.stderr.strip().splitlines() == [
        "immersion: error: --vmc '39539': give HOST:PORT, e.g. 127.0.0.1:39539 (VSeeFace's "
        "default port)"
    ]


def test_a_replay_goes_out_as_vmc_instead_of_the_live_source(tmp_path: Path) -> None:
    """While a replay holds the avatar, VMC carries the replay's pose (the live source's is
    held back), at the capture rate; after its stop, the live source's again."""
    from immersion.room.room import Room

    live = tmp_path / "raised.jsonl"
    with TakeWriter(live, {"fps": 30.0}) as w:
        for k in range(60):
            w.write(k / 30, _raised_left_arm(k / 30))
    takes = tmp_path / "takes"
    takes.mkdir()
    with TakeWriter(takes / "rest.jsonl", {"fps": 30.0}) as w:  # arms at the T-pose's level
        for k in range(150):
            w.write(k / 30, replace(Pose.rest(k / 30, 0.9), confidence=np.ones(BONE_COUNT)))

    def upper_arm(got: list[tuple[float, str, tuple[Any, ...]]], start: int) -> Any:
        return [args[4:] for _, a, args in got[start:] if a == BONE and args[0] == "LeftUpperArm"]

    with _receiver() as (port, got):
        settings = RoomSettings(
            str(live), "noir-office", "detective", takes_dir=takes, width=320, height=180,
            vmc=("127.0.0.1", port),
        )  # fmt: skip
        room = Room(settings)
        room.start()
        try:
            _wait(lambda: len(upper_arm(got, 0)) >= 5, 60.0)
            raised = [0, 0, -np.sqrt(0.5), np.sqrt(0.5)]
            np.testing.assert_allclose(upper_arm(got, 0)[-1], raised, atol=1e-4)
            assert room.replay_control("start", ("rest.jsonl",)).result(30) is None
            time.sleep(0.3)  # what was on its way has gone
            start = len(got)
            time.sleep(2.0)
            during = [t for t, a, _ in got[start:] if a == TIME]
            arms = upper_arm(got, start)
            assert arms and all(np.allclose(q, [0, 0, 0, 1], atol=1e-4) for q in arms)
            rate = (len(during) - 1) / (during[-1] - during[0])
            assert 20.0 <= rate <= 36.0, rate  # the room's capture rate (30), not the tick's
            assert room.replay_control("stop").result(5) is None
            time.sleep(0.3)
            start = len(got)
            _wait(lambda: len(upper_arm(got, start)) >= 3, 10.0)
            np.testing.assert_allclose(upper_arm(got, start)[-1], raised, atol=1e-4)
        finally:
            room.stop()
