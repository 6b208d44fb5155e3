"""Valid documents for the asset tests to break: a pack made by ``scenes new``, GLB packing."""

from __future__ import annotations

import argparse
import contextlib
import functools
import io
import json
import shutil
import struct
from pathlib import Path
from typing import Any

from immersion.catalogue import avatars_dir


def new_pack(into: Path, name: str = "test-set") -> Path:
    """The template pack ``immersion scenes new`` writes, made in-process."""
    from immersion.scenes_cmd import run_new

    with contextlib.redirect_stdout(io.StringIO()):
        run_new(argparse.Namespace(name=name, into=into))
    return into / name


def copy_pack(template: Path, into: Path) -> Path:
    return Path(shutil.copytree(template, into / template.name))


def glb(doc: dict[str, Any], binary: bytes = b"") -> bytes:
    js = json.dumps(doc).encode()
    js += b" " * (-len(js) % 4)
    body = struct.pack("<I4s", len(js), b"JSON") + js
    if binary:
        binary += b"\0" * (-len(binary) % 4)
        body += struct.pack("<I4s", len(binary), b"BIN\0") + binary
    return struct.pack("<4sII", b"glTF", 2, 12 + len(body)) + body


def split_glb(data: bytes) -> tuple[dict[str, Any], bytes]:
    """A GLB's JSON (parsed) and its binary chunk."""
    jlen = struct.unpack_from("<I", data, 12)[0]
    doc: dict[str, Any] = json.loads(data[20 : 20 + jlen])
    return doc, data[20 + jlen + 8 :]


def detective() -> tuple[dict[str, Any], bytes]:
    return split_glb((avatars_dir() / "detective.vrm").read_bytes())


def skeleton_at_the_top(doc: dict[str, Any]) -> None:
    """The skeleton's root joint (hips) a root of the scene beside the mesh, with the mesh
    node numbered after every joint: panda3d-gltf then picks the hips as the character's
    root, finds no mesh under it and drops the character (an IndexError in render once)."""
    order = [0, *range(2, len(doc["nodes"])), 1]
    new = {old: i for i, old in enumerate(order)}
    doc["nodes"][0]["children"] = []
    doc["nodes"] = [doc["nodes"][o] for o in order]
    for node in doc["nodes"]:
        if "children" in node:
            node["children"] = [new[c] for c in node["children"]]
    skin = doc["skins"][0]
    skin["joints"] = [new[j] for j in skin["joints"]]
    skin["skeleton"] = new[skin["skeleton"]]
    doc["scenes"][0]["nodes"] = [new[2], new[1]]
    vrm = doc["extensions"]["VRMC_vrm"]
    for bone in vrm["humanoid"]["humanBones"].values():
        bone["node"] = new[bone["node"]]
    # Everything else that names a node: expression binds, first-person annotations.
    for group in vrm.get("expressions", {}).values():
        for expression in group.values():
            for bind in expression.get("morphTargetBinds", []):
                bind["node"] = new[bind["node"]]
    for annotation in vrm.get("firstPerson", {}).get("meshAnnotations", []):
        annotation["node"] = new[annotation["node"]]


# A small VRM 1.0 humanoid, built in-process -------------------------------------------------

# The face's morph targets (ARKit names, as the cast's) and the presets that bind them.
_TARGETS = ("eyeBlinkLeft", "eyeBlinkRight", "jawOpen", "mouthSmileLeft", "mouthSmileRight")
_PRESETS = {
    "aa": {"jawOpen": 1.0},
    "blink": {"eyeBlinkLeft": 1.0, "eyeBlinkRight": 1.0},
    "happy": {"mouthSmileLeft": 1.0, "mouthSmileRight": 1.0},
}
_FACE_JOINTS = {"leftEye": (0.03, 0.07, 0.08), "rightEye": (-0.03, 0.07, 0.08), "jaw": (0, 0, 0.05)}


def small_avatar() -> tuple[dict[str, Any], bytes]:
    """A small skinned VRM 1.0 humanoid laid out as the cast is (node 0 the root, node 1 the
    skinned mesh "body", joint i node i + 2): every :class:`Bone`, eyes and jaw; boxes for a
    body (a few hundred triangles) with ARKit-named morph targets; presets aa/blink/happy,
    a bone lookAt, firstPerson and the cast's CC0 meta. For the pure tests, which may not read
    the cast the set-up builds. A fresh document each call: callers may change it."""
    return split_glb(_small_avatar_glb())


@functools.cache
def _small_avatar_glb() -> bytes:
    import numpy as np

    from capture.skeleton import Bone
    from immersion.avatars.cast import LICENCE_URL
    from immersion.avatars.glb_writer import Material, Primitive, SkinJoint, skinned_glb
    from tests.bring_helpers import t_pose_positions

    pos = t_pose_positions()
    for bone in Bone:  # fingers: segments along the arm, spread front to back
        if bone in pos:
            continue
        side, finger, _ = bone.name.split("_")
        x = 1.0 if side == "LEFT" else -1.0
        k = [b for b in Bone if b.name.startswith(f"{side}_{finger}_")].index(bone)
        z = {"THUMB": 0.04, "INDEX": 0.02, "MIDDLE": 0.0, "RING": -0.02, "LITTLE": -0.04}[finger]
        pos[bone] = pos[Bone[f"{side}_HAND"]] + np.array([x * (0.05 + 0.025 * k), 0.0, z])
    order = list(Bone)
    names = [b.vrm_name for b in order] + list(_FACE_JOINTS)
    world = [pos[b] for b in order] + [pos[Bone.HEAD] + np.array(o) for o in _FACE_JOINTS.values()]
    parents = [None if b.parent is None else int(b.parent) for b in order]
    parents += [int(Bone.HEAD)] * len(_FACE_JOINTS)
    joints = [
        SkinJoint(n, p, tuple(float(v) for v in (w - (0 if p is None else world[p]))))  # type: ignore[arg-type]
        for n, p, w in zip(names, parents, world, strict=True)
    ]
    # One box per body bone, from its joint to its first child's (the head and feet upward
    # and forward), each skinned rigidly to its bone.
    child = {b.parent: b for b in reversed(order[:22]) if b.parent is not None}
    unit = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], float)
    quads = [(0, 1, 3, 2), (4, 6, 7, 5), (0, 4, 5, 1), (2, 3, 7, 6), (0, 2, 6, 4), (1, 5, 7, 3)]
    box_tris = np.array([t for q in quads for t in ((q[0], q[1], q[2]), (q[0], q[2], q[3]))])
    verts: list[Any] = []
    tris: list[Any] = []
    owner: list[int] = []
    for b in order[:22]:
        end = pos[child[b]] if b in child else pos[b] + np.array([0.0, 0.1, 0.05])
        centre, half = (pos[b] + end) / 2, np.maximum(np.abs(end - pos[b]) / 2, 0.04)
        tris.append(box_tris + 8 * len(verts))
        verts.append(centre + unit * half)
        owner += [int(b)] * 8
    positions = np.concatenate(verts).astype(np.float32)
    n = len(positions)
    normals = unit[np.arange(n) % 8] / np.sqrt(3)
    joint_ids = np.zeros((n, 4), np.uint16)
    joint_ids[:, 0] = owner
    weights = np.zeros((n, 4), np.float32)
    weights[:, 0] = 1.0
    head = slice(8 * int(Bone.HEAD), 8 * int(Bone.HEAD) + 8)
    morphs = np.zeros((len(_TARGETS), n, 3), np.float32)
    for t, target in enumerate(_TARGETS):  # each moves the head box's front a little
        morphs[t, head][unit[:, 2] > 0] = [0.0, -0.01 if "Blink" in target else 0.01, 0.0]
    primitive = Primitive(
        0,
        positions,
        normals.astype(np.float32),
        joint_ids,
        weights,
        np.concatenate(tris).astype(np.uint32),
        morphs=morphs,
    )
    index = {t: i for i, t in enumerate(_TARGETS)}
    eyes = (world[names.index("leftEye")] + world[names.index("rightEye")]) / 2
    range_map = {"inputMaxValue": 90.0, "outputScale": 10.0}
    vrm = {
        "specVersion": "1.0",
        "meta": {
            "name": "Small",
            "version": "1",
            "authors": ["Immersion tests"],
            "licenseUrl": LICENCE_URL,
            "avatarPermission": "everyone",
            "commercialUsage": "corporation",
            "creditNotation": "unnecessary",
            "allowRedistribution": True,
            "modification": "allowModificationRedistribution",
        },
        "humanoid": {"humanBones": {n: {"node": i + 2} for i, n in enumerate(names)}},
        "expressions": {
            "preset": {
                name: {
                    "morphTargetBinds": [
                        {"node": 1, "index": index[t], "weight": w} for t, w in mix.items()
                    ],
                    "isBinary": False,
                }
                for name, mix in _PRESETS.items()
            }
        },
        "lookAt": {
            "type": "bone",
            "offsetFromHeadBone": [float(v) for v in eyes - pos[Bone.HEAD]],
            **{
                f"rangeMap{k}": dict(range_map)
                for k in ("HorizontalInner", "HorizontalOuter", "VerticalDown", "VerticalUp")
            },
        },
        "firstPerson": {"meshAnnotations": [{"node": 1, "type": "auto"}]},
    }
    return skinned_glb(
        [primitive],
        [Material("skin", (0.8, 0.7, 0.6, 1.0))],
        joints,
        name="small",
        target_names=_TARGETS,
        extensions={"VRMC_vrm": vrm},
    )
