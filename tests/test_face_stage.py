"""Faces and fingers on the stage (offscreen engine): a take in format 2 with a neutral face, a
blink, an open jaw and two fists renders each change, seen in the pixels and the posed joints.

The avatars: every shipped avatar (the cast: ARKit morph targets, finger bones, a bone lookAt),
and test avatars made from the detective (tests.face_fixtures) whose faces move through VRM 1.0
presets, VRM 0.x blend shape groups, or not at all.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from capture.face import ARKIT_INDEX, Face
from capture.pose import Pose
from capture.skeleton import FINGER_BONES, Bone
from capture.take import TakeWriter, read_take
from immersion.avatars.expressions import read_expressions
from immersion.avatars.vrm import inspect_avatar
from immersion.catalogue import avatars_dir, shipped_packs
from immersion.scenes.manifest import load_pack
from immersion.stage import space
from immersion.stage.avatar_actor import AvatarActor
from immersion.stage.stage import Stage
from tests.face_fixtures import FIXTURES, fist, write_face_avatar

FINGER_TIPS = [b for b in FINGER_BONES if b.name.endswith("DISTAL")]


def _cast() -> list[Path]:
    """Every shipped avatar: each must perform (ARKit targets and finger bones)."""
    out = sorted(avatars_dir().glob("*.vrm"))
    assert out, f"no avatars in {avatars_dir()}: build the cast (scripts/build_cast.py)"
    for path in out:
        _, spec = inspect_avatar(path)
        missing = [b.vrm_name for b in FINGER_BONES if b not in spec.bones]
        assert not missing, f"{path.name}: no finger bones {missing}"
    return out


@pytest.fixture(scope="module")
def fixtures(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("face-avatars")
    return {kind: write_face_avatar(folder, kind) for kind in FIXTURES}


@pytest.fixture(scope="module")
def stage() -> Stage:
    return Stage.open(load_pack(shipped_packs()[0]), None, width=320, height=240)


@pytest.fixture(scope="module")
def take(tmp_path_factory: pytest.TempPathFactory) -> list[Pose]:
    """The proof take, written in format 2 and read back: neutral, blink, jaw, fists."""
    rest = Pose.rest(hips_height=0.95)
    ones = np.ones(len(rest.confidence))
    frames = [
        Face.neutral(),
        Face.from_named({"eyeBlinkLeft": 1.0, "eyeBlinkRight": 1.0}),
        Face.from_named({"jawOpen": 1.0}),
        Face.neutral(),
    ]
    path = tmp_path_factory.mktemp("take") / "face.jsonl"
    with TakeWriter(path, {"source": "face test", "fps": 30.0}) as w:
        for k, face in enumerate(frames):
            rotations = fist(rest.rotations) if k == 3 else rest.rotations
            w.write(k / 30, Pose(k / 30, rest.hips, rotations, ones, face))
    poses = read_take(path).poses
    assert all(p is not None and p.face is not None for p in poses)
    return [p for p in poses if p is not None]


def _close_up(stage: Stage, actor: AvatarActor, bone: Bone, distance: float) -> None:
    """Point the camera at ``bone`` from ``distance`` metres in front of the avatar."""
    from panda3d.core import LPoint3f

    target = actor.joint_positions()[bone]
    yaw = np.radians(stage.mark.facing)
    front = np.array([np.sin(yaw), 0.0, np.cos(yaw)])
    stage.target.camera.setPos(stage.root, *space.point(target + front * distance))
    stage.target.camera.lookAt(stage.root, LPoint3f(*space.point(target)))


def _frames(stage: Stage, actor: AvatarActor, poses: list[Pose], bone: Bone) -> list[Any]:
    stage.place_avatar(actor, stage.pack.marks[0])
    stage.show(poses[0])
    _close_up(stage, actor, bone, 0.5)
    out = []
    for pose in poses:
        stage.show(pose)
        out.append(stage.target.rgb().astype(int))
    return out


def _changed(a: Any, b: Any) -> Any:
    return np.abs(a - b).sum(axis=2) > 40


def test_blink_and_jaw_show_in_the_face(stage: Stage, take: list[Pose]) -> None:
    for path in _cast():
        actor = AvatarActor.load(path)
        assert actor.face is not None and actor.face.mode == "arkit", path.name
        _eyes_then_mouth(path.name, *_frames(stage, actor, take, Bone.HEAD)[:3])


def _eyes_then_mouth(name: str, neutral: Any, blink: Any, jaw: Any) -> None:
    """A blink changes the eyes, jawOpen the mouth, each alone: between the outer corners of
    the eyes, every pixel the jaw changed lies below every pixel the blink changed (image rows
    grow downward). Beside the eyes the jaw's hinge, by the ears, may move at eye height."""
    eyes, mouth = _changed(neutral, blink), _changed(neutral, jaw)
    assert eyes.sum() > 60, f"{name}: a blink changed {eyes.sum()} pixels"
    assert mouth.sum() > 60, f"{name}: jawOpen changed {mouth.sum()} pixels"
    eye_cols = np.nonzero(eyes)[1]
    mouth[:, : eye_cols.min()] = False
    mouth[:, eye_cols.max() + 1 :] = False
    assert mouth.sum() > 60, f"{name}: jawOpen changed {mouth.sum()} pixels below the eyes"
    eye_rows, mouth_rows = np.nonzero(eyes)[0], np.nonzero(mouth)[0]
    assert eye_rows.max() < mouth_rows.min(), (name, eye_rows.max(), mouth_rows.min())


def test_a_fist_curls_every_finger(stage: Stage, take: list[Pose]) -> None:
    for path in _cast():
        actor = AvatarActor.load(path)
        stage.place_avatar(actor, stage.pack.marks[0])
        stage.show(take[0])
        open_hand = actor.joint_positions()
        stage.show(take[3])
        closed = actor.joint_positions()
        for tip in FINGER_TIPS:
            hand = Bone.LEFT_HAND if tip.name.startswith("LEFT") else Bone.RIGHT_HAND
            before = np.linalg.norm(open_hand[tip] - open_hand[hand])
            after = np.linalg.norm(closed[tip] - closed[hand])
            # Toward the palm: nearer the wrist, and below it (palms face down in the T-pose).
            assert after < before - 0.01, f"{path.name}: {tip.vrm_name} {before:.3f} → {after:.3f}"
            assert closed[tip][1] < closed[hand][1] - 0.01, f"{path.name}: {tip.vrm_name}"
        for hand in (Bone.LEFT_HAND, Bone.RIGHT_HAND):
            frames = _frames(stage, actor, [take[0], take[3]], hand)
            changed = _changed(*frames).sum()
            assert changed > 150, f"{path.name}: a fist changed {changed} pixels at {hand.vrm_name}"


@pytest.mark.parametrize("kind", ["presets", "vrm0"])
def test_an_avatar_without_arkit_targets_moves_by_its_presets(
    stage: Stage, fixtures: dict[str, Path], take: list[Pose], kind: str
) -> None:
    """The VRM 0.x file's blendShapeMaster (A, Blink_L, Blink_R) and the 1.0 presets: jawOpen
    reaches the mouth through ``aa``, the blink through blinkLeft/blinkRight."""
    actor = AvatarActor.load(fixtures[kind])
    assert actor.face is not None and actor.face.mode == "presets"
    assert actor.spec.version == ("0.x" if kind == "vrm0" else "1.0")
    # Through aa: the jaw opens by as much as aa binds it (jawOpen 0.7 on the cast).
    assert take[2].face is not None
    weights, _ = actor.face.solve(take[2].face)
    aa = actor.face.targets.index((0, ARKIT_INDEX["jawOpen"]))
    assert weights[aa] >= 0.7 - 1e-6, weights[aa]
    _eyes_then_mouth(kind, *_frames(stage, actor, take, Bone.HEAD)[:3])


def test_an_avatar_without_expressions_keeps_a_still_face(
    stage: Stage, fixtures: dict[str, Path], take: list[Pose]
) -> None:
    actor = AvatarActor.load(fixtures["none"])
    assert actor.face is not None and actor.face.mode == "still"
    neutral, blink, jaw, _ = _frames(stage, actor, take, Bone.HEAD)
    assert not _changed(neutral, blink).any() and not _changed(neutral, jaw).any()


def test_only_changed_weights_touch_the_sliders(fixtures: dict[str, Path]) -> None:
    """A held face sets nothing again; a new weight sets only its own slider."""
    actor = AvatarActor.load(fixtures["arkit"])

    class Counting:
        def __init__(self) -> None:
            self.calls: list[float] = []

        def setX(self, value: float) -> None:
            self.calls.append(value)

    assert actor.face is not None and None not in actor.sliders
    names = read_expressions(inspect_avatar(fixtures["arkit"])[0].json, "arkit").targets
    jaw = [names[m][i] for m, i in actor.face.targets].index("jawOpen")
    counters = [Counting() for _ in actor.sliders]
    actor.sliders = list(counters)
    actor.apply_face(Face.neutral())
    assert all(len(c.calls) == 1 for c in counters)  # the first face sets every slider
    actor.apply_face(Face.neutral())
    assert all(len(c.calls) == 1 for c in counters)
    actor.apply_face(Face.from_named({"jawOpen": 0.7}))
    moved = [k for k, c in enumerate(counters) if len(c.calls) > 1]
    assert moved == [jaw] and counters[jaw].calls == [0.0, 0.7]


@pytest.mark.parametrize("which", ["one-to-one", "shipped"])
def test_gaze_turns_the_eye_joints(stage: Stage, fixtures: dict[str, Path], which: str) -> None:
    """A bone lookAt: gaze toward the avatar's left turns both eyes that way, and up turns
    them up, by the angles the range maps give (the shipped detective's: a few degrees, the
    outer map for the eye turning outward; the fixture's: the gaze as it is, and the eyeballs
    are skinned to the eye joints, so the pixels move too)."""
    path = fixtures["arkit"] if which == "one-to-one" else avatars_dir() / "detective.vrm"
    actor = AvatarActor.load(path)
    assert actor.face is not None and actor.face.eye_mode == "bone" and len(actor.eyes) == 2
    look = actor.face.look_at
    assert look is not None
    rest = Pose.rest(hips_height=0.95)
    ones = np.ones(len(rest.confidence))
    ahead, aside, up = (
        Pose(0.0, rest.hips, rest.rotations, ones, Face(np.zeros(52), np.radians(gaze)))
        for gaze in ([0.0, 0.0], [25.0, 0.0], [0.0, 20.0])
    )
    frames = _frames(stage, actor, [ahead, aside], Bone.HEAD)
    if which == "one-to-one":
        assert _changed(*frames).sum() > 20
    yaw = np.radians(stage.mark.facing)
    left = np.array([np.cos(yaw), 0.0, -np.sin(yaw)])  # the avatar's +X in pack space
    # Toward the avatar's left is outward for its left eye, inward for its right.
    sideways = [look.horizontal_outer(25.0), look.horizontal_inner(25.0)]
    upward = [look.vertical_up(20.0)] * 2
    for pose, axis, degrees in (
        (aside, left, sideways),
        (up, np.array([0.0, 1.0, 0.0]), upward),
    ):
        stage.show(ahead)
        before = _eye_forward(stage, actor)
        stage.show(pose)
        after = _eye_forward(stage, actor)
        for b, a, want in zip(before, after, degrees, strict=True):
            assert want > 2.0  # the maps turn the eyes far enough to tell
            turned = np.degrees(np.arcsin(np.clip(a @ axis, -1, 1)) - np.arcsin(b @ axis))
            assert abs(turned - want) < 0.2, (turned, want)


def _eye_forward(stage: Stage, actor: AvatarActor) -> list[Any]:
    """Each eye joint's forward axis (its rest +Z in avatar space) in pack space."""
    actor.actor.getPartBundle("modelRoot").forceUpdate()
    out = []
    for name in ("leftEye", "rightEye"):
        exposed = actor.actor.exposeJoint(None, "modelRoot", name)
        r, _ = space.from_panda_matrix(exposed.getMat(stage.root))
        exposed.removeNode()
        out.append(r @ actor.rig.basis @ np.array([0.0, 0.0, 1.0]))
    return out
