"""Test avatars with fingers and a face that moves, made from the shipped detective.

The primitive detective has neither, so this adds them by editing its glTF JSON and binary:
30 finger joints (identity rest, translation only, as the normalized convention has them) with
a small box per segment, and a face plate with eye whites, eyelids and a mouth whose morph
targets close the lids and open the mouth. Variants:

- ``arkit``: VRM 1.0, targets named eyeBlinkLeft, eyeBlinkRight, jawOpen (as the cast has them),
  plus presets bound to them and a bone lookAt;
- ``presets``: VRM 1.0, targets with a tool's own names, reachable only through presets;
- ``vrm0``: the same as VRM 0.x: facing -Z, a humanoid list (0.x thumb names), a
  blendShapeMaster whose ``A`` and ``Blink_L``/``Blink_R`` groups bind the targets, MToon-ish
  materialProperties;
- ``none``: the fingers and face geometry but no morph targets and no expressions.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from capture.rotations import axis_angle_quat
from capture.skeleton import FINGER_BONES, Bone
from immersion.avatars.glb_writer import write_glb
from tests.assets_helpers import detective

F32 = NDArray[np.float32]
_FLOAT, _USHORT, _UINT = 5126, 5123, 5125

# Face layout on the detective's head (metres, avatar space at rest): the nose reaches
# z = 0.125, so the plate stands just in front of it.
PLATE_Z = 0.13
EYE_Y, EYE_X, MOUTH_Y = 1.655, 0.04, 1.575
# Where the fingers start beyond the hand joint (the detective's mitten is 0.15 m long).
_FINGER_ROOT = {"THUMB": (0.05, 0.0, 0.085), "INDEX": (0.15, 0.0, 0.06),
                "MIDDLE": (0.15, 0.0, 0.025), "RING": (0.15, 0.0, -0.01),
                "LITTLE": (0.15, 0.0, -0.04)}  # fmt: skip
_SEGMENT = (0.035, 0.028, 0.022)
ARKIT_TARGETS = ("eyeBlinkLeft", "eyeBlinkRight", "jawOpen")
TOOL_TARGETS = ("EYE_Close_L", "EYE_Close_R", "MTH_A")
FIXTURES = ("arkit", "presets", "vrm0", "none")


def finger_direction(bone: Bone) -> NDArray[np.float64]:
    """A finger segment's rest direction: along ±X, the thumbs 45° toward +Z."""
    sign = 1.0 if bone.name.startswith("LEFT") else -1.0
    out = (
        np.array([sign, 0.0, 1.0]) * np.sqrt(0.5)
        if "THUMB" in bone.name
        else np.array([sign, 0.0, 0.0])
    )
    return out.astype(np.float64)


def curl_axis(bone: Bone) -> NDArray[np.float64]:
    """The axis a positive turn about which curls a finger segment toward the palm (-Y)."""
    d = finger_direction(bone)
    return np.array([d[2], 0.0, -d[0]])  # d × (0, -1, 0)


def write_face_avatar(folder: Path, kind: str) -> Path:
    """Write one of :data:`FIXTURES` as ``folder/face-<kind>.vrm``."""
    doc, binary = detective()
    doc = copy.deepcopy(doc)
    data = bytearray(binary)
    nodes: list[dict[str, Any]] = doc["nodes"]
    names = {n["name"]: i for i, n in enumerate(nodes)}
    world = _world_positions(nodes)
    skin = doc["skins"][0]

    # Finger joints, children of the hands (or of the previous segment).
    for bone in FINGER_BONES:
        parent = bone.parent
        assert parent is not None
        if parent.name.endswith("_HAND"):
            finger = bone.name.split("_")[1]
            offset = np.array(_FINGER_ROOT[finger]) * [1.0 if bone.name[0] == "L" else -1.0, 1, 1]
        else:
            segment = 0 if parent.name.endswith(("METACARPAL", "PROXIMAL")) else 1
            offset = finger_direction(bone) * _SEGMENT[segment]
        pi = names[parent.vrm_name]
        nodes.append({"name": bone.vrm_name, "translation": [float(v) for v in offset]})
        nodes[pi].setdefault("children", []).append(len(nodes) - 1)
        names[bone.vrm_name] = len(nodes) - 1
        world[len(nodes) - 1] = world[pi] + offset
    # Eye joints (no Bone: gaze turns them through the lookAt), at the eye whites' centres.
    for eye, side in (("leftEye", 1.0), ("rightEye", -1.0)):
        offset = np.array([side * EYE_X, EYE_Y, PLATE_Z]) - world[names["head"]]
        nodes.append({"name": eye, "translation": [float(v) for v in offset]})
        nodes[names["head"]].setdefault("children", []).append(len(nodes) - 1)
        names[eye] = len(nodes) - 1
        world[len(nodes) - 1] = world[names["head"]] + offset
    extra = [*(names[b.vrm_name] for b in FINGER_BONES), names["leftEye"], names["rightEye"]]
    joints = [*skin["joints"], *extra]
    ibm = np.tile(np.eye(4, dtype=np.float32), (len(joints), 1, 1))
    for k, j in enumerate(joints):
        ibm[k, :3, 3] = -world[j]
    skin["joints"] = joints
    skin["inverseBindMatrices"] = _add(doc, data, ibm.transpose(0, 2, 1).reshape(-1, 16), "MAT4")

    # The face and finger mesh: skinned, vertex-coloured, with morph targets.
    head = joints.index(names["head"])
    parts: list[tuple[F32, tuple[float, float, float], int]] = []
    parts.append((_quad(0.0, 1.615, 0.075, 0.07, PLATE_Z), (0.85, 0.65, 0.55), head))
    for side, eye in ((1, "leftEye"), (-1, "rightEye")):
        white = _quad(side * EYE_X, EYE_Y + 0.0055, 0.018, 0.011, PLATE_Z + 0.002)
        parts.append((white, (1, 1, 1), joints.index(names[eye])))
        lid = _quad(side * EYE_X, EYE_Y + 0.011, 0.02, 0.0, PLATE_Z + 0.004)
        parts.append((lid, (0.1, 0.05, 0.05), head))
    parts.append((_quad(0.0, MOUTH_Y, 0.03, 0.0, PLATE_Z + 0.002), (0.1, 0.0, 0.0), head))
    for bone in FINGER_BONES:
        j = names[bone.vrm_name]
        box = _segment_box(world[j], finger_direction(bone), 0.8 * _segment_length(bone))
        parts.append((box, (0.9, 0.7, 0.6), joints.index(j)))
    positions = np.concatenate([p for p, _, _ in parts]).astype(np.float32)
    colors = np.concatenate([np.tile([*c, 1.0], (len(p), 1)) for p, c, _ in parts])
    jnt = np.concatenate([np.tile([j, 0, 0, 0], (len(p), 1)) for p, _, j in parts])
    wgt = np.tile(np.array([1.0, 0, 0, 0], dtype=np.float32), (len(positions), 1))
    starts = np.cumsum([0] + [len(p) for p, _, _ in parts])
    tris = np.concatenate(
        [
            s + _BOX_TRIS if len(p) == 8 else s + _QUAD_TRIS
            for s, (p, _, _) in zip(starts[:-1], parts, strict=True)
        ]
    )
    normals = np.tile(np.array([0.0, 0.0, 1.0], dtype=np.float32), (len(positions), 1))

    # Targets: each eyelid's lower edge (vertices 0, 1 of its quad) drops over the eye; the
    # mouth's lower edge drops to open it.
    deltas = np.zeros((3, len(positions), 3), dtype=np.float32)
    for t, part in ((0, 2), (1, 4), (2, 5)):
        drop = 0.026 if t < 2 else 0.03
        deltas[t, starts[part] : starts[part] + 2, 1] = -drop
    prim: dict[str, Any] = {
        "attributes": {
            "POSITION": _add(doc, data, positions, "VEC3", minmax=True),
            "NORMAL": _add(doc, data, normals, "VEC3"),
            "COLOR_0": _add(doc, data, colors.astype(np.float32), "VEC4"),
            "JOINTS_0": _add(doc, data, jnt.astype(np.uint16), "VEC4", _USHORT),
            "WEIGHTS_0": _add(doc, data, wgt, "VEC4"),
        },
        "indices": _add(doc, data, tris.astype(np.uint32).reshape(-1), "SCALAR", _UINT),
        "material": 0,
    }
    mesh: dict[str, Any] = {"name": "face", "primitives": [prim]}
    if kind != "none":
        prim["targets"] = [
            {"POSITION": _add(doc, data, deltas[t], "VEC3", minmax=True)} for t in range(3)
        ]
        mesh["extras"] = {"targetNames": list(ARKIT_TARGETS if kind == "arkit" else TOOL_TARGETS)}
    doc["meshes"].append(mesh)
    nodes.append({"name": "face", "mesh": len(doc["meshes"]) - 1, "skin": 0})
    nodes[0]["children"].append(len(nodes) - 1)
    face_node, face_mesh = len(nodes) - 1, len(doc["meshes"]) - 1

    vrm = doc["extensions"]["VRMC_vrm"]
    human = vrm["humanoid"]["humanBones"]
    for bone in FINGER_BONES:
        human[bone.vrm_name] = {"node": names[bone.vrm_name]}
    human["leftEye"], human["rightEye"] = {"node": names["leftEye"]}, {"node": names["rightEye"]}
    if kind in ("arkit", "presets"):
        vrm["expressions"] = {
            "preset": {
                name: {"morphTargetBinds": [{"node": face_node, "index": t, "weight": 1.0}]}
                for name, t in (("blinkLeft", 0), ("blinkRight", 1), ("aa", 2))
            }
        }
        one_to_one = {"inputMaxValue": 30.0, "outputScale": 30.0}  # gaze as it is, up to 30°
        vrm["lookAt"] = {
            "type": "bone",
            "offsetFromHeadBone": [0.0, 0.12, 0.08],
            **{f"rangeMap{k}": one_to_one for k in ("HorizontalInner", "HorizontalOuter")},
            **{f"rangeMap{k}": one_to_one for k in ("VerticalDown", "VerticalUp")},
        }
    doc["buffers"][0]["byteLength"] = len(data)
    if kind == "vrm0":
        _as_vrm0(doc, data, face_mesh, names["head"])
    path = folder / f"face-{kind}.vrm"
    write_glb(path, doc, bytes(data))
    return path


def fist(rotations: NDArray[np.float64], degrees: float = 80.0) -> NDArray[np.float64]:
    """``rotations`` with every finger segment curled ``degrees`` (thumbs half as far)."""
    out = rotations.copy()
    for bone in FINGER_BONES:
        angle = degrees / 2 if "THUMB" in bone.name else degrees
        out[bone] = axis_angle_quat(curl_axis(bone), np.radians(angle))
    return out


# --- Geometry and buffers ---------------------------------------------------------------------

_QUAD_TRIS = np.array([[0, 1, 2], [0, 2, 3]])
_BOX_TRIS = np.array(
    [[0, 1, 2], [0, 2, 3], [4, 6, 5], [4, 7, 6], [0, 4, 5], [0, 5, 1],
     [1, 5, 6], [1, 6, 2], [2, 6, 7], [2, 7, 3], [3, 7, 4], [3, 4, 0]]
)  # fmt: skip


def _quad(x: float, top: float, half_width: float, height: float, z: float) -> F32:
    """A quad facing +Z hanging from ``top``: vertices 0, 1 along its lower edge."""
    bottom = top - height
    return np.array(
        [[x - half_width, bottom, z], [x + half_width, bottom, z],
         [x + half_width, top, z], [x - half_width, top, z]], dtype=np.float32
    )  # fmt: skip


def _segment_box(start: NDArray[np.float64], d: NDArray[np.float64], length: float) -> F32:
    side = np.cross(d, [0.0, 1.0, 0.0])
    side /= np.linalg.norm(side)
    up = np.array([0.0, 1.0, 0.0])
    r = 0.008
    ring = [side * r + up * r, -side * r + up * r, -side * r - up * r, side * r - up * r]
    return np.array([start + c for c in ring] + [start + d * length + c for c in ring], np.float32)


def _segment_length(bone: Bone) -> float:
    if bone.name.endswith("DISTAL"):
        return _SEGMENT[2]
    return _SEGMENT[0] if bone.name.endswith(("METACARPAL", "PROXIMAL")) else _SEGMENT[1]


def _world_positions(nodes: list[dict[str, Any]]) -> dict[int, NDArray[np.float64]]:
    """Rest positions of translation-only nodes (the detective has no rotations)."""
    out: dict[int, NDArray[np.float64]] = {}

    def walk(i: int, base: NDArray[np.float64]) -> None:
        out[i] = base + np.array(nodes[i].get("translation", [0.0, 0.0, 0.0]))
        for c in nodes[i].get("children", []):
            walk(c, out[i])

    walk(0, np.zeros(3))
    return out


def _add(
    doc: dict[str, Any],
    data: bytearray,
    arr: NDArray[Any],
    kind: str,
    ctype: int = _FLOAT,
    minmax: bool = False,
) -> int:
    while len(data) % 4:
        data.append(0)
    raw = np.ascontiguousarray(arr).tobytes()
    doc["bufferViews"].append({"buffer": 0, "byteOffset": len(data), "byteLength": len(raw)})
    data += raw
    acc: dict[str, Any] = {
        "bufferView": len(doc["bufferViews"]) - 1,
        "componentType": ctype,
        "count": int(arr.shape[0]),
        "type": kind,
    }
    if minmax:
        acc["min"] = [float(v) for v in arr.min(axis=0)]
        acc["max"] = [float(v) for v in arr.max(axis=0)]
    doc["accessors"].append(acc)
    return len(doc["accessors"]) - 1


_HALF_TURN = np.array([-1.0, 1.0, -1.0], dtype=np.float32)


def _as_vrm0(doc: dict[str, Any], data: bytearray, face_mesh: int, head: int) -> None:
    """Rewrite as VRM 0.x: turned to face -Z (positions, normals, morph deltas, joints and
    inverse bind matrices half-turned about Y), ``extensions.VRM`` instead of ``VRMC_vrm``."""
    done: set[int] = set()

    def turn(accessor: int) -> None:
        if accessor in done:
            return
        done.add(accessor)
        acc = doc["accessors"][accessor]
        view = doc["bufferViews"][acc["bufferView"]]
        start = view.get("byteOffset", 0) + acc.get("byteOffset", 0)
        arr = np.frombuffer(data, np.float32, acc["count"] * 3, start).reshape(-1, 3) * _HALF_TURN
        data[start : start + arr.nbytes] = arr.astype(np.float32).tobytes()
        if "min" in acc:
            acc["min"], acc["max"] = (
                [float(v) for v in arr.min(axis=0)],
                [float(v) for v in arr.max(axis=0)],
            )

    for mesh in doc["meshes"]:
        for prim in mesh["primitives"]:
            turn(prim["attributes"]["POSITION"])
            turn(prim["attributes"]["NORMAL"])
            for target in prim.get("targets", []):
                turn(target["POSITION"])
    for node in doc["nodes"]:
        if "translation" in node:
            node["translation"] = [float(v) for v in np.array(node["translation"]) * _HALF_TURN]
    skin = doc["skins"][0]
    world = _world_positions(doc["nodes"])
    ibm = np.tile(np.eye(4, dtype=np.float32), (len(skin["joints"]), 1, 1))
    for k, j in enumerate(skin["joints"]):
        ibm[k, :3, 3] = -world[j]
    acc = doc["accessors"][skin["inverseBindMatrices"]]
    view = doc["bufferViews"][acc["bufferView"]]
    start = view.get("byteOffset", 0)
    raw = ibm.transpose(0, 2, 1).reshape(-1, 16).tobytes()
    data[start : start + len(raw)] = raw

    vrm1 = doc["extensions"].pop("VRMC_vrm")
    bones = []
    for name, entry in vrm1["humanoid"]["humanBones"].items():
        # VRM 0.x calls the thumb's three segments proximal, intermediate, distal.
        name = name.replace("ThumbProximal", "ThumbIntermediate").replace(
            "ThumbMetacarpal", "ThumbProximal"
        )
        bones.append({"bone": name, "node": entry["node"], "useDefaultValues": True})
    doc["extensions"]["VRM"] = {
        "exporterVersion": "UniVRM-0.99",
        "specVersion": "0.0",
        "meta": {
            "title": "Face test (0.x)", "version": "1", "author": "Immersion tests",
            "allowedUserName": "Everyone", "violentUssageName": "Disallow",
            "sexualUssageName": "Disallow", "commercialUssageName": "Allow",
            "licenseName": "CC0",
        },
        "humanoid": {"humanBones": bones},
        "blendShapeMaster": {
            "blendShapeGroups": [
                {"name": name, "presetName": preset, "isBinary": False,
                 "binds": [{"mesh": face_mesh, "index": index, "weight": 100}],
                 "materialValues": []}
                for name, preset, index in (("A", "a", 2), ("Blink_L", "blink_l", 0),
                                            ("Blink_R", "blink_r", 1))
            ]
        },
        "firstPerson": {
            "firstPersonBone": head,
            "firstPersonBoneOffset": {"x": 0, "y": 0.06, "z": 0},
            "meshAnnotations": [{"mesh": face_mesh, "firstPersonFlag": "ThirdPersonOnly"}],
            "lookAtTypeName": "Bone",
            "lookAtHorizontalInner": {"curve": [0, 0, 0, 1, 1, 1, 1, 0], "xRange": 90, "yRange": 8},
            "lookAtHorizontalOuter": {"curve": [0, 0, 0, 1, 1, 1, 1, 0], "xRange": 90, "yRange": 12},
            "lookAtVerticalDown": {"curve": [0, 0, 0, 1, 1, 1, 1, 0], "xRange": 90, "yRange": 10},
            "lookAtVerticalUp": {"curve": [0, 0, 0, 1, 1, 1, 1, 0], "xRange": 90, "yRange": 10},
        },
        "materialProperties": [
            {"name": m.get("name", f"m{i}"), "shader": "VRM/MToon", "renderQueue": 2000,
             "floatProperties": {"_OutlineWidth": 0.0}, "keywordMap": {}, "tagMap": {},
             "vectorProperties": {"_Color": [1, 1, 1, 1], "_ShadeColor": [0.7, 0.6, 0.6, 1]},
             "textureProperties": {}}
            for i, m in enumerate(doc["materials"])
        ],
    }  # fmt: skip
    doc["extensionsUsed"] = ["VRM"]
