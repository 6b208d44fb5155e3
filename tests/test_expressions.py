"""The face track and the expressions model: reading VRM expressions/lookAt/firstPerson strictly,
and solving a Face into morph target weights and eye turns (no engine)."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pytest

from capture.face import ARKIT, Face, blend_faces
from capture.rotations import quat_to_matrix
from immersion.avatars.expressions import (
    FaceDriver,
    arkit_index,
    eye_nodes,
    read_expressions,
)
from immersion.errors import AvatarError

pytestmark = pytest.mark.pure


def _doc(names: list[str], mesh_level: bool = True) -> dict[str, Any]:
    """A document with one mesh of len(names) targets on node 1, eyes on nodes 2 and 3."""
    prim: dict[str, Any] = {"attributes": {}, "targets": [{} for _ in names]}
    mesh: dict[str, Any] = {"primitives": [prim]}
    (mesh if mesh_level else prim)["extras"] = {"targetNames": names}
    return {
        "nodes": [
            {"name": "root"},
            {"name": "face", "mesh": 0},
            {"name": "eyeL"},
            {"name": "eyeR"},
        ],
        "meshes": [mesh],
        "extensions": {
            "VRMC_vrm": {
                "humanoid": {"humanBones": {"leftEye": {"node": 2}, "rightEye": {"node": 3}}},
                "expressions": {"preset": {}, "custom": {}},
            }
        },
    }


def _preset(doc: dict[str, Any], name: str, index: int, **extra: Any) -> None:
    binds = [{"node": 1, "index": index, "weight": 1.0}]
    doc["extensions"]["VRMC_vrm"]["expressions"]["preset"][name] = {
        "morphTargetBinds": binds,
        **extra,
    }


def test_arkit_is_the_52_names_in_order() -> None:
    assert len(ARKIT) == len(set(ARKIT)) == 52 and list(ARKIT) == sorted(ARKIT)
    assert ARKIT[0] == "browDownLeft" and ARKIT[-1] == "tongueOut"


def test_a_face_copies_its_inputs_and_is_read_only() -> None:
    weights = np.zeros(52)
    face = Face(weights, np.zeros(2))
    weights[0] = 1.0
    assert face.weights[0] == 0.0 and weights.flags.writeable
    with pytest.raises(ValueError):
        face.weights[1] = 1.0
    with pytest.raises(ValueError, match="52 weights"):
        Face(np.zeros(51), np.zeros(2))
    half = blend_faces(Face.neutral(), Face.from_named({"jawOpen": 1.0}), 0.5)
    assert half is not None and half.weight("jawOpen") == 0.5
    assert blend_faces(Face.neutral(), None, 0.2) is not None


def test_targets_are_named_from_the_mesh_or_its_primitives() -> None:
    model = read_expressions(_doc(["A", "B"]), "x.vrm")
    assert model.targets == (("A", "B"),) and model.loader_names == (("A", "B"),)
    prim = read_expressions(_doc(["A", "B"], mesh_level=False), "x.vrm")
    # The loader reads mesh-level names only: its sliders are called by index.
    assert prim.targets == (("A", "B"),) and prim.loader_names == (("0", "1"),)
    assert arkit_index("blendShape1.EyeBlinkLeft") == ARKIT.index("eyeBlinkLeft")
    assert arkit_index("Fcl_EYE_Close") is None
    assert eye_nodes(_doc([]), "x.vrm") == ("eyeL", "eyeR")


def test_arkit_targets_are_driven_directly_and_presets_are_left_alone() -> None:
    doc = _doc(["jawOpen", "eyeBlinkLeft", "eyeLookInLeft", "other"])
    _preset(doc, "aa", 0)
    driver = FaceDriver(read_expressions(doc, "x.vrm"), eye_bones=True)
    assert driver.mode == "arkit" and driver.eye_mode == "bone"
    # eyeLookInLeft is left to the eye bones: gaze turns the eyes once.
    assert driver.targets == ((0, 0), (0, 1))
    weights, eyes = driver.solve(Face.from_named({"jawOpen": 0.6, "eyeBlinkLeft": 1.0}))
    np.testing.assert_allclose(weights, [0.6, 1.0])
    assert eyes is not None
    # Without eye bones or lookAt, eyeLook* targets are the only way the eyes move.
    plain = FaceDriver(read_expressions(_doc(["eyeLookInLeft"]), "x.vrm"), eye_bones=False)
    assert plain.targets == ((0, 0),) and plain.eye_mode is None


def test_presets_are_mapped_from_the_52_weights() -> None:
    doc = _doc(["mouth", "lidL", "lidR", "lids", "smile", "shout"])
    _preset(doc, "aa", 0)
    _preset(doc, "blinkLeft", 1)
    _preset(doc, "blinkRight", 2)
    _preset(doc, "blink", 3)
    _preset(doc, "happy", 4, isBinary=True)
    _preset(doc, "angry", 5, overrideMouth="block")
    driver = FaceDriver(read_expressions(doc, "x.vrm"), eye_bones=False)
    assert driver.mode == "presets"
    solve = dict(
        zip(
            driver.targets,
            driver.solve(Face.from_named({"jawOpen": 0.8, "eyeBlinkLeft": 1.0}))[0],
            strict=True,
        )
    )
    assert solve[(0, 0)] == pytest.approx(0.8) and solve[(0, 1)] == 1.0 and solve[(0, 2)] == 0.0
    assert solve[(0, 3)] == 0.0  # blink is not driven when both eyes have their own
    smile = dict(
        zip(
            driver.targets,
            driver.solve(Face.from_named({"mouthSmileLeft": 0.7, "mouthSmileRight": 0.5}))[0],
            strict=True,
        )
    )
    assert smile[(0, 4)] == 1.0  # isBinary: 0.6 rounds up
    # angry blocks the mouth presets while it shows.
    cross = Face.from_named({"jawOpen": 1.0, "browDownLeft": 1.0, "browDownRight": 1.0})
    blocked = dict(zip(driver.targets, driver.solve(cross)[0], strict=True))
    assert blocked[(0, 5)] == pytest.approx(0.5) and blocked[(0, 0)] == 0.0


def test_talking_is_no_surprise() -> None:
    """An open jaw alone drives aa and nothing else: were it part of surprised, a surprised
    preset that blocks the mouth (as the cast's does) would take aa away whenever the jaw
    opens. Wide eyes and raised brows are surprise, and block the mouth."""
    doc = _doc(["mouth", "wow"])
    _preset(doc, "aa", 0)
    _preset(doc, "surprised", 1, overrideMouth="block")
    driver = FaceDriver(read_expressions(doc, "x.vrm"), eye_bones=False)
    talk = driver.solve(Face.from_named({"jawOpen": 1.0}))[0]
    talking = dict(zip(driver.targets, talk, strict=True))
    assert talking == {(0, 0): 1.0, (0, 1): 0.0}
    wow = Face.from_named(
        {"jawOpen": 1.0, **{f"{k}{side}": 1.0 for k in ("browOuterUp", "eyeWide")
                            for side in ("Left", "Right")}}
    )  # fmt: skip
    surprised = dict(zip(driver.targets, driver.solve(wow)[0], strict=True))
    assert surprised == {(0, 0): 0.0, (0, 1): 1.0}


def test_an_avatar_without_expressions_is_still() -> None:
    driver = FaceDriver(read_expressions({"nodes": [], "meshes": []}, "x.glb"), eye_bones=False)
    weights, eyes = driver.solve(Face.from_named({"jawOpen": 1.0}))
    assert driver.mode == "still" and weights.size == 0 and eyes is None


def test_gaze_turns_the_eyes_through_the_range_maps() -> None:
    doc = _doc(["jawOpen"])
    doc["extensions"]["VRMC_vrm"]["lookAt"] = {
        "type": "bone",
        "rangeMapHorizontalOuter": {"inputMaxValue": 90, "outputScale": 30},
        "rangeMapHorizontalInner": {"inputMaxValue": 90, "outputScale": 15},
        "rangeMapVerticalUp": {"inputMaxValue": 90, "outputScale": 20},
    }
    driver = FaceDriver(read_expressions(doc, "x.vrm"), eye_bones=True)
    _, eyes = driver.solve(Face(np.zeros(52), np.radians([45.0, 0.0])))
    assert eyes is not None
    forward = quat_to_matrix(eyes) @ np.array([0.0, 0.0, 1.0])
    yaw = np.degrees(np.arctan2(forward[:, 0], forward[:, 2]))
    # Toward the avatar's left (+X): outward for the left eye (15°), inward for the right (7.5°).
    np.testing.assert_allclose(yaw, [15.0, 7.5], atol=1e-6)
    _, up = driver.solve(Face(np.zeros(52), np.radians([0.0, 45.0])))
    assert up is not None and (quat_to_matrix(up) @ [0.0, 0.0, 1.0])[0, 1] > 0.15


def test_expression_look_at_sets_look_presets() -> None:
    doc = _doc(["up", "left"])
    doc["extensions"]["VRMC_vrm"]["lookAt"] = {"type": "expression"}
    _preset(doc, "lookUp", 0)
    _preset(doc, "lookLeft", 1)
    driver = FaceDriver(read_expressions(doc, "x.vrm"), eye_bones=True)
    assert driver.eye_mode == "expression"
    weights, eyes = driver.solve(Face(np.zeros(52), np.radians([45.0, -10.0])))
    assert eyes is None
    np.testing.assert_allclose(weights, [0.0, 0.5])


def _vrm0() -> dict[str, Any]:
    doc = _doc(["MTH_A", "EYE_L"])
    del doc["extensions"]["VRMC_vrm"]
    doc["extensions"]["VRM"] = {
        "blendShapeMaster": {
            "blendShapeGroups": [
                {"name": "A", "presetName": "a", "binds": [{"mesh": 0, "index": 0, "weight": 100}]},
                {
                    "name": "Blink_L",
                    "presetName": "blink_l",
                    "binds": [{"mesh": 0, "index": 1, "weight": 50}],
                },
                {"name": "Smirk", "presetName": "unknown", "binds": []},
            ]
        },
        "firstPerson": {
            "firstPersonBone": 0,
            "meshAnnotations": [{"mesh": 0, "firstPersonFlag": "ThirdPersonOnly"}],
            "lookAtTypeName": "BlendShape",
            "lookAtHorizontalOuter": {"curve": [], "xRange": 60, "yRange": 1},
        },
    }
    return doc


def test_vrm0_groups_read_as_presets() -> None:
    model = read_expressions(_vrm0(), "old.vrm")
    assert set(model.expressions) == {"aa", "blinkLeft", "Smirk"}
    assert model.expressions["blinkLeft"].binds[0].weight == 0.5
    assert not model.expressions["Smirk"].preset
    assert model.look_at is not None and model.look_at.kind == "expression"
    assert model.look_at.horizontal_outer.input_max == 60
    assert model.first_person[0].kind == "thirdPersonOnly" and model.first_person_bone == 0
    driver = FaceDriver(model, eye_bones=False)
    weights, _ = driver.solve(Face.from_named({"jawOpen": 1.0, "eyeBlinkLeft": 1.0}))
    np.testing.assert_allclose(weights, [1.0, 0.5])


BAD: dict[str, tuple[list[Any], Any, str]] = {
    # where in the document, new value, what the message names
    "targetNames not a list": (["meshes", 0, "extras", "targetNames"], "A", "extras.targetNames"),
    "target name not a string": (["meshes", 0, "extras", "targetNames"], [1], "extras.targetNames"),
    "bind to a missing node": (
        ["extensions", "VRMC_vrm", "expressions", "preset", "aa", "morphTargetBinds", 0, "node"],
        9,
        "morphTargetBinds[0].node",
    ),
    "bind to a node without mesh": (
        ["extensions", "VRMC_vrm", "expressions", "preset", "aa", "morphTargetBinds", 0, "node"],
        2,
        "morphTargetBinds[0].node",
    ),
    "bind to a missing target": (
        ["extensions", "VRMC_vrm", "expressions", "preset", "aa", "morphTargetBinds", 0, "index"],
        5,
        "morphTargetBinds[0].index",
    ),
    "bind weight above 1": (
        ["extensions", "VRMC_vrm", "expressions", "preset", "aa", "morphTargetBinds", 0, "weight"],
        2.0,
        "morphTargetBinds[0].weight",
    ),
    "bind weight a string": (
        ["extensions", "VRMC_vrm", "expressions", "preset", "aa", "morphTargetBinds", 0, "weight"],
        "1",
        "morphTargetBinds[0].weight",
    ),
    "isBinary a number": (
        ["extensions", "VRMC_vrm", "expressions", "preset", "aa", "isBinary"],
        1,
        "aa.isBinary",
    ),
    "override unknown": (
        ["extensions", "VRMC_vrm", "expressions", "preset", "aa", "overrideMouth"],
        "mute",
        "aa.overrideMouth",
    ),
    "expressions a list": (["extensions", "VRMC_vrm", "expressions"], [], "VRMC_vrm.expressions"),
    "lookAt type unknown": (["extensions", "VRMC_vrm", "lookAt"], {"type": "laser"}, "lookAt.type"),
    "lookAt offset short": (
        ["extensions", "VRMC_vrm", "lookAt"],
        {"offsetFromHeadBone": [0, 1]},
        "lookAt.offsetFromHeadBone",
    ),
    "range map NaN": (
        ["extensions", "VRMC_vrm", "lookAt"],
        {"rangeMapVerticalUp": {"inputMaxValue": float("nan")}},
        "rangeMapVerticalUp",
    ),
    "firstPerson type unknown": (
        ["extensions", "VRMC_vrm", "firstPerson"],
        {"meshAnnotations": [{"node": 1, "type": "x"}]},
        "meshAnnotations[0].type",
    ),
}


@pytest.mark.parametrize("case", list(BAD), ids=list(BAD))
def test_a_bad_field_is_refused_naming_it(case: str) -> None:
    doc = _doc(["A", "B"])
    _preset(doc, "aa", 0)
    place, value, named = BAD[case]
    target: Any = doc
    for key in place[:-1]:
        target = target[key]
    target[place[-1]] = value
    with pytest.raises(AvatarError) as caught:
        read_expressions(copy.deepcopy(doc), "bad.vrm")
    message = str(caught.value)
    assert message.startswith("bad.vrm: ") and named in message and "\n" not in message


@pytest.mark.parametrize(
    ("field", "value"),
    [("mesh", 3), ("weight", "100"), ("index", -1)],
)
def test_a_bad_vrm0_bind_is_refused_naming_it(field: str, value: Any) -> None:
    doc = _vrm0()
    doc["extensions"]["VRM"]["blendShapeMaster"]["blendShapeGroups"][0]["binds"][0][field] = value
    with pytest.raises(AvatarError, match=rf"blendShapeGroups\[0\]\.binds\[0\]\.{field}"):
        read_expressions(doc, "old.vrm")
