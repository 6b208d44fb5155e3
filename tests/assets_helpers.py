"""Valid documents for the asset tests to break: a pack made by ``scenes new``, GLB packing."""

from __future__ import annotations

import argparse
import contextlib
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
