"""Test avatars whose faces move in other ways than the cast's, made from a cast member.

The shipped detective (a VRM 1.0 human: 52 ARKit morph targets on its "body" mesh, presets bound
to them, a bone lookAt, finger bones at identity rest) is edited in its glTF JSON (and, for
VRM 0.x, in its binary) to make the kinds of avatar people bring. Variants (:data:`FIXTURES`):

- ``arkit``: the detective as shipped but for its lookAt range maps, made one-to-one up to 30°
  so that a gaze test can see the eyes turn by whole degrees (the cast's own maps turn them by
  a few degrees only);
- ``presets``: VRM 1.0 whose morph targets have a tool's own names (not ARKit ones): the face
  moves only through the presets' binds, kept as the cast builder wrote them;
- ``vrm0``: the same as VRM 0.x, as UniVRM writes it: turned half round to face -Z (positions,
  normals, morph deltas, joints and inverse bind matrices), target names on the primitives, a
  humanoid list (0.x thumb names), a ``blendShapeMaster`` with a group per preset (``A`` binds
  what ``aa`` did, ``jawOpen`` first; ``Blink_L``/``Blink_R`` the ``eyeBlink*`` targets; weights
  0..100), MToon ``materialProperties`` and a ``firstPerson`` with lookAt curves;
- ``none``: no expressions, no lookAt and no target names: the morph targets are still there,
  named by their index as the loader calls them, and nothing may move them.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from capture.face import ARKIT
from capture.rotations import axis_angle_quat
from capture.skeleton import FINGER_BONES, Bone
from immersion.avatars.glb_writer import write_glb
from tests.assets_helpers import detective

FIXTURES = ("arkit", "presets", "vrm0", "none")
# A tool's own names for the 52 targets: nothing an ARKit reader recognises.
TOOL_TARGETS = tuple(f"shape{k:02d}" for k in range(len(ARKIT)))
_FLOAT = 5126


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


def fist(rotations: NDArray[np.float64], degrees: float = 80.0) -> NDArray[np.float64]:
    """``rotations`` with every finger segment curled ``degrees`` (thumbs half as far)."""
    out = rotations.copy()
    for bone in FINGER_BONES:
        angle = degrees / 2 if "THUMB" in bone.name else degrees
        out[bone] = axis_angle_quat(curl_axis(bone), np.radians(angle))
    return out


def write_face_avatar(folder: Path, kind: str) -> Path:
    """Write one of :data:`FIXTURES` as ``folder/face-<kind>.vrm``."""
    doc, binary = detective()
    doc = copy.deepcopy(doc)
    data = bytearray(binary)
    vrm = doc["extensions"]["VRMC_vrm"]
    body = _body_mesh(doc)
    assert list(body["extras"]["targetNames"]) == list(ARKIT), "the cast's targets moved"
    if kind == "arkit":
        one_to_one = {"inputMaxValue": 30.0, "outputScale": 30.0}
        for key in ("HorizontalInner", "HorizontalOuter", "VerticalDown", "VerticalUp"):
            vrm["lookAt"][f"rangeMap{key}"] = dict(one_to_one)
    elif kind == "presets":
        body["extras"]["targetNames"] = list(TOOL_TARGETS)
    elif kind == "none":
        del body["extras"]
        vrm.pop("expressions")
        vrm.pop("lookAt")
    elif kind == "vrm0":
        del body["extras"]
        for prim in body["primitives"]:
            prim["extras"] = {"targetNames": list(TOOL_TARGETS)}
        _as_vrm0(doc, data)
    else:
        raise ValueError(f"no face fixture {kind!r}")
    path = folder / f"face-{kind}.vrm"
    write_glb(path, doc, bytes(data))
    return path


def _body_mesh(doc: dict[str, Any]) -> dict[str, Any]:
    (node,) = (n for n in doc["nodes"] if n.get("name") == "body")
    mesh: dict[str, Any] = doc["meshes"][node["mesh"]]
    return mesh


# --- VRM 0.x ------------------------------------------------------------------------------------

_HALF_TURN = np.array([-1.0, 1.0, -1.0])
# VRM 1.0 preset → VRM 0.x group name and presetName.
_PRESETS_0X = {
    "aa": ("A", "a"), "ih": ("I", "i"), "ou": ("U", "u"), "ee": ("E", "e"), "oh": ("O", "o"),
    "happy": ("Joy", "joy"), "angry": ("Angry", "angry"), "sad": ("Sorrow", "sorrow"),
    "relaxed": ("Fun", "fun"), "surprised": ("Surprised", "surprised"),
    "blink": ("Blink", "blink"), "blinkLeft": ("Blink_L", "blink_l"),
    "blinkRight": ("Blink_R", "blink_r"), "lookUp": ("LookUp", "lookup"),
    "lookDown": ("LookDown", "lookdown"), "lookLeft": ("LookLeft", "lookleft"),
    "lookRight": ("LookRight", "lookright"),
}  # fmt: skip


def _as_vrm0(doc: dict[str, Any], data: bytearray) -> None:
    """Rewrite the detective as VRM 0.x: turned to face -Z, ``extensions.VRM`` instead of
    ``VRMC_vrm`` (humanoid, meta, blendShapeMaster, firstPerson, materialProperties)."""
    turn_half_round(doc, data)
    vrm1 = doc["extensions"].pop("VRMC_vrm")
    nodes = doc["nodes"]
    body_node = next(i for i, n in enumerate(nodes) if n.get("name") == "body")
    body_mesh = nodes[body_node]["mesh"]
    human = vrm1["humanoid"]["humanBones"]
    bones = humanoid_0x(human)
    groups = []
    for preset, e in vrm1["expressions"]["preset"].items():
        group, preset_0x = _PRESETS_0X[preset]
        binds = [
            {"mesh": body_mesh, "index": b["index"], "weight": 100.0 * b["weight"]}
            for b in e["morphTargetBinds"]
        ]
        groups.append(
            {"name": group, "presetName": preset_0x, "isBinary": e.get("isBinary", False),
             "binds": binds, "materialValues": []}
        )  # fmt: skip
    look = vrm1["lookAt"]
    ox, oy, oz = look["offsetFromHeadBone"]

    def curve(key: str) -> dict[str, Any]:
        m = look[f"rangeMap{key}"]
        return {"curve": [0, 0, 0, 1, 1, 1, 1, 0], "xRange": m["inputMaxValue"],
                "yRange": m["outputScale"]}  # fmt: skip

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
        "blendShapeMaster": {"blendShapeGroups": groups},
        "firstPerson": {
            "firstPersonBone": human["head"]["node"],
            # Unity's axes: x mirrored from glTF's, forward is +z on a model facing -Z.
            "firstPersonBoneOffset": {"x": -ox, "y": oy, "z": oz},
            "meshAnnotations": [{"mesh": body_mesh, "firstPersonFlag": "Auto"}],
            "lookAtTypeName": "Bone",
            "lookAtHorizontalInner": curve("HorizontalInner"),
            "lookAtHorizontalOuter": curve("HorizontalOuter"),
            "lookAtVerticalDown": curve("VerticalDown"),
            "lookAtVerticalUp": curve("VerticalUp"),
        },
        "materialProperties": [_mtoon(m) for m in doc["materials"]],
    }  # fmt: skip
    doc["extensionsUsed"] = ["VRM"]


def humanoid_0x(human: dict[str, Any]) -> list[dict[str, Any]]:
    """A VRM 1.0 ``humanBones`` object as VRM 0.x's list."""
    out = []
    for name, entry in human.items():
        # VRM 0.x calls the thumb's three segments proximal, intermediate, distal.
        name = name.replace("ThumbProximal", "ThumbIntermediate").replace(
            "ThumbMetacarpal", "ThumbProximal"
        )
        out.append({"bone": name, "node": entry["node"], "useDefaultValues": True})
    return out


def _mtoon(material: dict[str, Any]) -> dict[str, Any]:
    """MToon properties carrying the material's own colour and texture (outline off)."""
    pbr = material.get("pbrMetallicRoughness", {})
    color = [float(c) for c in pbr.get("baseColorFactor", [1.0, 1.0, 1.0, 1.0])]
    textures = {"_MainTex": pbr["baseColorTexture"]["index"]} if "baseColorTexture" in pbr else {}
    return {
        "name": material.get("name", "material"), "shader": "VRM/MToon", "renderQueue": 2000,
        "floatProperties": {"_OutlineWidth": 0.0, "_BlendMode": 0.0, "_Cutoff": 0.5,
                            "_CullMode": 0.0 if material.get("doubleSided") else 2.0},
        "keywordMap": {}, "tagMap": {"RenderType": "Opaque"},
        "vectorProperties": {"_Color": color,
                             "_ShadeColor": [0.7 * c for c in color[:3]] + [1.0]},
        "textureProperties": textures,
    }  # fmt: skip


def turn_half_round(doc: dict[str, Any], data: bytearray) -> None:
    """Turn the model half round about Y: vertex positions, normals and morph deltas negated in
    X and Z, node translations (and any rotations) likewise, inverse bind matrices conjugated."""
    done: set[int] = set()

    def view(accessor: int, width: int) -> NDArray[np.float32]:
        acc = doc["accessors"][accessor]
        bv = doc["bufferViews"][acc["bufferView"]]
        assert acc["componentType"] == _FLOAT and "byteStride" not in bv and "sparse" not in acc
        start = bv.get("byteOffset", 0) + acc.get("byteOffset", 0)
        return np.frombuffer(data, np.float32, acc["count"] * width, start).reshape(-1, width)

    def write(accessor: int, arr: NDArray[Any]) -> None:
        acc = doc["accessors"][accessor]
        bv = doc["bufferViews"][acc["bufferView"]]
        start = bv.get("byteOffset", 0) + acc.get("byteOffset", 0)
        raw = np.ascontiguousarray(arr, dtype=np.float32).tobytes()
        data[start : start + len(raw)] = raw

    def turn(accessor: int) -> None:
        if accessor in done:
            return
        done.add(accessor)
        arr = view(accessor, 3) * _HALF_TURN
        write(accessor, arr)
        acc = doc["accessors"][accessor]
        if "min" in acc:
            acc["min"] = [float(v) for v in arr.min(axis=0)]
            acc["max"] = [float(v) for v in arr.max(axis=0)]

    for mesh in doc["meshes"]:
        for prim in mesh["primitives"]:
            for key in ("POSITION", "NORMAL"):
                if key in prim["attributes"]:
                    turn(prim["attributes"][key])
            for target in prim.get("targets", []):
                for key in ("POSITION", "NORMAL"):
                    if key in target:
                        turn(target[key])
            assert "TANGENT" not in prim["attributes"], "tangents would need turning too"
    for node in doc["nodes"]:
        if "translation" in node:
            node["translation"] = [float(v) for v in np.array(node["translation"]) * _HALF_TURN]
        if "rotation" in node:
            x, y, z, w = node["rotation"]
            node["rotation"] = [-x, y, -z, w]
        assert "matrix" not in node
    ibm_accessor = doc["skins"][0]["inverseBindMatrices"]
    h = np.diag([*_HALF_TURN, 1.0])
    # Column-major storage reads as each matrix transposed; H M H is symmetric in that.
    write(ibm_accessor, h @ view(ibm_accessor, 16).reshape(-1, 4, 4) @ h)
