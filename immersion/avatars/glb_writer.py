"""Write a skinned glTF 2.0 binary (GLB): one mesh, one skin, a joint hierarchy.

trimesh exports static meshes only (it drops skins), so the cast builder and the tests that
build VRM files use this. The layout is the one panda3d-gltf needs to keep the skin: the mesh
node and the skeleton's root joint are siblings under one scene root node.
:func:`skinned_glb` writes the primitives, each with its material (colour, optional embedded
texture, vertex colours) and morph targets.

panda3d-gltf reads every accessor through its own bufferView and refuses sparse accessors
(so does :mod:`immersion.gltf_guard`): a primitive that no morph target moves gets, per target,
a view onto one shared block of zeros, which costs its bytes once.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from capture.rotations import quat_to_matrix

_FLOAT, _USHORT, _UINT = 5126, 5123, 5125
_ARRAY_BUFFER, _ELEMENT_ARRAY_BUFFER = 34962, 34963


@dataclass(frozen=True)
class SkinJoint:
    """A joint: ``translation`` (metres) and ``rotation`` ``[x, y, z, w]`` relative to its parent."""

    name: str
    parent: int | None
    translation: tuple[float, float, float]
    rotation: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 1.0)


@dataclass
class _Bin:
    data: bytearray = field(default_factory=bytearray)
    views: list[dict[str, Any]] = field(default_factory=list)
    accessors: list[dict[str, Any]] = field(default_factory=list)

    def add(self, arr: NDArray[Any], kind: str, ctype: int, target: int | None = None) -> int:
        while len(self.data) % 4:
            self.data.append(0)
        raw = np.ascontiguousarray(arr).tobytes()
        view: dict[str, Any] = {"buffer": 0, "byteOffset": len(self.data), "byteLength": len(raw)}
        if target is not None:
            view["target"] = target
        self.data += raw
        self.views.append(view)
        acc: dict[str, Any] = {
            "bufferView": len(self.views) - 1,
            "componentType": ctype,
            "count": int(arr.shape[0]),
            "type": kind,
        }
        if kind == "VEC3" and ctype == _FLOAT and target == _ARRAY_BUFFER:
            acc["min"] = [float(v) for v in arr.min(axis=0)]
            acc["max"] = [float(v) for v in arr.max(axis=0)]
        self.accessors.append(acc)
        return len(self.accessors) - 1

    def add_view(self, arr: NDArray[Any]) -> int:
        """A bufferView of raw bytes (an image, or the zeros :meth:`alias` points into)."""
        while len(self.data) % 4:
            self.data.append(0)
        raw = np.ascontiguousarray(arr).tobytes()
        self.views.append({"buffer": 0, "byteOffset": len(self.data), "byteLength": len(raw)})
        self.data += raw
        return len(self.views) - 1

    def alias(self, zero_view: int, count: int) -> int:
        """A VEC3 float accessor of ``count`` zeros: its own view over the shared zero bytes."""
        base = self.views[zero_view]
        self.views.append({"buffer": 0, "byteOffset": base["byteOffset"], "byteLength": count * 12})
        self.accessors.append(
            {
                "bufferView": len(self.views) - 1,
                "componentType": _FLOAT,
                "count": count,
                "type": "VEC3",
                "min": [0.0, 0.0, 0.0],
                "max": [0.0, 0.0, 0.0],
            }
        )
        return len(self.accessors) - 1


def joint_globals(joints: list[SkinJoint]) -> NDArray[np.float64]:
    """(J, 4, 4) bind-pose world matrices of the joints (parents listed before children)."""
    out = np.empty((len(joints), 4, 4))
    for i, j in enumerate(joints):
        local = _trs(j.translation, j.rotation)
        out[i] = local if j.parent is None else out[j.parent] @ local
    return out


@dataclass(frozen=True)
class Material:
    """A metallic-roughness material; ``texture`` is PNG or JPEG bytes (base colour);
    ``alpha`` is glTF's alphaMode ("MASK": the texture's alpha below ``cutoff`` is a hole)."""

    name: str
    color: tuple[float, float, float, float] = (1.0, 1.0, 1.0, 1.0)
    texture: bytes | None = None
    roughness: float = 0.8
    double_sided: bool = False
    alpha: str = "OPAQUE"
    cutoff: float = 0.5


@dataclass(frozen=True)
class Primitive:
    """Triangles of one material. ``morphs`` (T, n, 3) position offsets or ``None`` (none move)."""

    material: int
    positions: NDArray[np.float32]
    normals: NDArray[np.float32]
    joints: NDArray[np.uint16]
    weights: NDArray[np.float32]
    triangles: NDArray[np.uint32]
    uvs: NDArray[np.float32] | None = None
    colors: NDArray[np.float32] | None = None
    morphs: NDArray[np.float32] | None = None


def skinned_glb(
    primitives: list[Primitive],
    materials: list[Material],
    joints: list[SkinJoint],
    *,
    name: str,
    target_names: tuple[str, ...] = (),
    extensions: dict[str, Any] | None = None,
) -> bytes:
    """A GLB with one skinned mesh (node 1, named "body") of ``primitives``; node 0 is the
    root, joint ``i`` is node ``i + 2`` (for ``extensions`` such as ``VRMC_vrm``)."""
    if [j.parent for j in joints].count(None) != 1 or joints[0].parent is not None:
        raise ValueError("the first joint must be the single root")
    b = _Bin()
    n_targets = len(target_names)
    most = max(len(p.positions) for p in primitives)
    zero_view: int | None = None
    if n_targets and any(p.morphs is None for p in primitives):
        zero_view = b.add_view(np.zeros((most, 3), np.float32))
    gltf_prims: list[dict[str, Any]] = []
    for p in primitives:
        used = np.where(p.weights > 0, p.joints, 0)
        attrs = {
            "POSITION": b.add(p.positions.astype(np.float32), "VEC3", _FLOAT, _ARRAY_BUFFER),
            "NORMAL": b.add(p.normals.astype(np.float32), "VEC3", _FLOAT, _ARRAY_BUFFER),
        }
        if p.uvs is not None:
            attrs["TEXCOORD_0"] = b.add(p.uvs.astype(np.float32), "VEC2", _FLOAT, _ARRAY_BUFFER)
        if p.colors is not None:
            attrs["COLOR_0"] = b.add(p.colors.astype(np.float32), "VEC4", _FLOAT, _ARRAY_BUFFER)
        attrs["JOINTS_0"] = b.add(used.astype(np.uint16), "VEC4", _USHORT, _ARRAY_BUFFER)
        attrs["WEIGHTS_0"] = b.add(p.weights.astype(np.float32), "VEC4", _FLOAT, _ARRAY_BUFFER)
        prim: dict[str, Any] = {
            "attributes": attrs,
            "indices": b.add(
                p.triangles.astype(np.uint32).reshape(-1), "SCALAR", _UINT, _ELEMENT_ARRAY_BUFFER
            ),
            "material": p.material,
        }
        if n_targets:
            targets = []
            for t in range(n_targets):
                if p.morphs is None:
                    assert zero_view is not None
                    acc = b.alias(zero_view, len(p.positions))
                else:
                    acc = b.add(p.morphs[t].astype(np.float32), "VEC3", _FLOAT, _ARRAY_BUFFER)
                targets.append({"POSITION": acc})
            prim["targets"] = targets
        gltf_prims.append(prim)
    inverse_bind = np.linalg.inv(joint_globals(joints))
    ibm = b.add(inverse_bind.transpose(0, 2, 1).reshape(-1, 16).astype(np.float32), "MAT4", _FLOAT)

    gltf_mats: list[dict[str, Any]] = []
    textures: list[dict[str, Any]] = []
    images: list[dict[str, Any]] = []
    for m in materials:
        pbr: dict[str, Any] = {
            "baseColorFactor": [float(c) for c in m.color],
            "metallicFactor": 0.0,
            "roughnessFactor": m.roughness,
        }
        if m.texture is not None:
            view = b.add_view(np.frombuffer(m.texture, np.uint8))
            jpeg = m.texture[:2] == b"\xff\xd8"
            images.append({"bufferView": view, "mimeType": "image/jpeg" if jpeg else "image/png"})
            textures.append({"source": len(images) - 1, "sampler": 0})
            pbr["baseColorTexture"] = {"index": len(textures) - 1}
        mat: dict[str, Any] = {"name": m.name, "pbrMetallicRoughness": pbr}
        if m.double_sided:
            mat["doubleSided"] = True
        if m.alpha != "OPAQUE":
            mat["alphaMode"] = m.alpha
            if m.alpha == "MASK":
                mat["alphaCutoff"] = m.cutoff
        gltf_mats.append(mat)

    first_joint = 2
    nodes: list[dict[str, Any]] = [
        {"name": name, "children": [1, first_joint]},
        {"name": "body", "mesh": 0, "skin": 0},
    ]
    for i, j in enumerate(joints):
        node: dict[str, Any] = {"name": j.name, "translation": [float(v) for v in j.translation]}
        if j.rotation != (0.0, 0.0, 0.0, 1.0):
            node["rotation"] = [float(v) for v in j.rotation]
        children = [first_joint + k for k, c in enumerate(joints) if c.parent == i]
        if children:
            node["children"] = children
        nodes.append(node)
    mesh: dict[str, Any] = {"name": "body", "primitives": gltf_prims}
    if n_targets:
        mesh["weights"] = [0.0] * n_targets
        mesh["extras"] = {"targetNames": list(target_names)}
    doc: dict[str, Any] = {
        "asset": {"version": "2.0", "generator": "immersion avatar builder"},
        "scene": 0,
        "scenes": [{"nodes": [0]}],
        "nodes": nodes,
        "meshes": [mesh],
        "materials": gltf_mats,
        "skins": [
            {
                "inverseBindMatrices": ibm,
                "joints": [first_joint + i for i in range(len(joints))],
                "skeleton": first_joint,
            }
        ],
        "accessors": b.accessors,
        "bufferViews": b.views,
        "buffers": [{"byteLength": len(b.data)}],
    }
    if images:
        doc["images"] = images
        doc["textures"] = textures
        # Linear filtering with mipmaps, repeat wrapping: glTF's defaults, stated.
        doc["samplers"] = [{"magFilter": 9729, "minFilter": 9987}]
    if extensions:
        doc["extensions"] = extensions
        doc["extensionsUsed"] = sorted(extensions)
    return glb_bytes(doc, bytes(b.data))


def glb_bytes(doc: dict[str, Any], binary: bytes) -> bytes:
    """A glTF JSON document and its binary chunk packed as GLB (4-byte aligned chunks)."""
    js = json.dumps(doc, separators=(",", ":")).encode()
    js += b" " * (-len(js) % 4)
    binary += b"\0" * (-len(binary) % 4)
    total = 12 + 8 + len(js) + (8 + len(binary) if binary else 0)
    out = struct.pack("<4sII", b"glTF", 2, total) + struct.pack("<I4s", len(js), b"JSON") + js
    if binary:
        out += struct.pack("<I4s", len(binary), b"BIN\0") + binary
    return out


def write_glb(path: Path, doc: dict[str, Any], binary: bytes) -> None:
    """Pack a glTF JSON document and its binary chunk as GLB (4-byte aligned chunks)."""
    path.write_bytes(glb_bytes(doc, binary))


def _trs(
    t: tuple[float, float, float], q: tuple[float, float, float, float]
) -> NDArray[np.float64]:
    m = np.eye(4)
    m[:3, :3] = quat_to_matrix(np.array(q, dtype=np.float64))
    m[:3, 3] = t
    return m
