"""Avatars and assets of the kinds people bring, built in the tests: a humanoid whose rest is an
A-pose (joints with non-identity rest rotations, as a DCC exports them)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from capture.rotations import axis_angle_quat, quat_to_matrix
from capture.skeleton import Bone
from immersion.avatars.glb_writer import Material, Primitive, SkinJoint, skinned_glb

# A T-pose body (normalized space: Y up, facing +Z, its left on +X), joint positions in metres.
_T_POSE = {
    "HIPS": (0.0, 0.95, 0.0), "SPINE": (0.0, 1.05, 0.0), "CHEST": (0.0, 1.18, 0.0),
    "UPPER_CHEST": (0.0, 1.3, 0.0), "NECK": (0.0, 1.45, 0.0), "HEAD": (0.0, 1.55, 0.0),
    "SHOULDER": (0.04, 1.4, 0.0), "UPPER_ARM": (0.18, 1.4, 0.0), "LOWER_ARM": (0.45, 1.4, 0.0),
    "HAND": (0.7, 1.4, 0.0), "UPPER_LEG": (0.1, 0.9, 0.0), "LOWER_LEG": (0.1, 0.5, 0.0),
    "FOOT": (0.1, 0.09, 0.0), "TOES": (0.1, 0.02, 0.13),
}  # fmt: skip
_ARM = ("LOWER_ARM", "HAND")
A_POSE_DEGREES = 45.0


def t_pose_positions() -> dict[Bone, np.ndarray]:
    out = {}
    for key, p in _T_POSE.items():
        if key in ("HIPS", "SPINE", "CHEST", "UPPER_CHEST", "NECK", "HEAD"):
            out[Bone[key]] = np.array(p)
            continue
        for side, x in (("LEFT", 1.0), ("RIGHT", -1.0)):
            out[Bone[f"{side}_{key}"]] = np.array([p[0] * x, p[1], p[2]])
    return out


def _arm_turn(x: float) -> np.ndarray:
    """The rest rotation that lowers an arm (its left on +X) by ``A_POSE_DEGREES``."""
    q = axis_angle_quat(np.array([0.0, 0.0, 1.0]), -x * np.radians(A_POSE_DEGREES))
    return q


def a_pose_positions() -> dict[Bone, np.ndarray]:
    """The same body with each arm lowered 45° at the upper-arm joint."""
    out = t_pose_positions()
    for side, x in (("LEFT", 1.0), ("RIGHT", -1.0)):
        pivot = out[Bone[f"{side}_UPPER_ARM"]]
        turn = quat_to_matrix(_arm_turn(x))
        for part in _ARM:
            b = Bone[f"{side}_{part}"]
            out[b] = pivot + turn @ (out[b] - pivot)
    return out


def _box(a: np.ndarray, b: np.ndarray, width: float) -> tuple[np.ndarray, np.ndarray]:
    """Corners (8, 3) and triangles (12, 3) of a box from ``a`` to ``b``."""
    axis = b - a
    u = np.cross(axis, [0.0, 0.0, 1.0] if abs(axis[2]) < 0.9 * np.linalg.norm(axis) else [1, 0, 0])
    u = u / np.linalg.norm(u) * width
    v = np.cross(axis / np.linalg.norm(axis), u)
    corners = np.array([p + su * u + sv * v for p in (a, b) for su in (-1, 1) for sv in (-1, 1)])
    quads = [(0, 1, 3, 2), (4, 6, 7, 5), (0, 4, 5, 1), (2, 3, 7, 6), (0, 2, 6, 4), (1, 5, 7, 3)]
    tris = np.array([t for q in quads for t in ((q[0], q[1], q[2]), (q[0], q[2], q[3]))])
    return corners, tris


def write_a_pose_avatar(path: Path, *, rest: str = "a-pose") -> Path:
    """A plain glTF humanoid (joints named with VRM names, no licence meta): boxes skinned
    rigidly to their bones. ``rest`` "a-pose": the upper-arm joints carry a 45° rest rotation
    and the mesh is bound with the arms down; "t-pose": the same body bound in a T-pose."""
    pos = a_pose_positions() if rest == "a-pose" else t_pose_positions()
    bones = list(t_pose_positions())
    order = [b for b in Bone if b in bones]
    index = {b: i for i, b in enumerate(order)}
    rot = {b: np.array([0.0, 0.0, 0.0, 1.0]) for b in order}
    if rest == "a-pose":
        for side, x in (("LEFT", 1.0), ("RIGHT", -1.0)):
            rot[Bone[f"{side}_UPPER_ARM"]] = _arm_turn(x)
    glob = {}
    joints = []
    for b in order:
        p = b.parent
        r = quat_to_matrix(rot[b])
        if p is None:
            glob[b] = r
            t = pos[b]
        else:
            glob[b] = glob[p] @ r
            t = glob[p].T @ (pos[b] - pos[p])
        joints.append(
            SkinJoint(
                b.vrm_name,
                None if p is None else index[p],
                (float(t[0]), float(t[1]), float(t[2])),
                tuple(float(v) for v in rot[b]),  # type: ignore[arg-type]
            )
        )
    child = {
        b: c
        for c in order
        for b in [c.parent]
        if b is not None and c.name.split("_")[-1] != "SHOULDER"
    }
    verts: list[np.ndarray] = []
    tris: list[np.ndarray] = []
    owner: list[int] = []
    for b in order:
        end = pos[child[b]] if b in child else pos[b] + (glob[b] @ np.array([0.0, 0.12, 0.0]))
        if b.name.endswith("HAND"):
            end = pos[b] + (pos[b] - pos[b.parent]) * 0.4  # type: ignore[index]
        corners, t = _box(pos[b], end, 0.045 if "ARM" in b.name or "HAND" in b.name else 0.07)
        tris.append(t + len(verts) * 8)
        verts.append(corners)
        owner += [index[b]] * 8
    positions = np.concatenate(verts).astype(np.float32)
    centre = positions - positions.mean(axis=0)
    normals = (centre / np.linalg.norm(centre, axis=1, keepdims=True)).astype(np.float32)
    n = len(positions)
    joints_arr = np.zeros((n, 4), np.uint16)
    joints_arr[:, 0] = owner
    weights = np.zeros((n, 4), np.float32)
    weights[:, 0] = 1.0
    mesh = Primitive(
        0,
        positions,
        normals,
        joints_arr,
        weights,
        np.concatenate(tris).astype(np.uint32),
        colors=np.tile(np.array([0.8, 0.7, 0.6, 1.0], np.float32), (n, 1)),
    )
    path.write_bytes(skinned_glb([mesh], [Material("skin")], joints, name="apose"))
    return path


def png(rgba: np.ndarray) -> bytes:
    """An (h, w, 4) uint8 image as PNG bytes."""
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.fromarray(rgba.astype(np.uint8), "RGBA").save(out, format="PNG")
    return out.getvalue()


def card_glb(material: dict[str, Any], image: np.ndarray | None = None, **top: Any) -> bytes:
    """A 1.6 m square card facing +Z, centred on its origin, with ``material`` and, if given,
    ``image`` as texture 0 (nearest filtering, repeat). glTF UV (0, 0) is its top-left corner.
    ``top``: more top-level glTF fields (``extensions``...)."""
    from tests.assets_helpers import glb

    h = 0.8
    pos = np.array([[-h, -h, 0], [h, -h, 0], [h, h, 0], [-h, h, 0]], np.float32)
    nrm = np.tile(np.array([0, 0, 1], np.float32), (4, 1))
    uv = np.array([[0, 1], [1, 1], [1, 0], [0, 0]], np.float32)
    idx = np.array([0, 1, 2, 0, 2, 3], np.uint16)
    blobs = [pos.tobytes(), nrm.tobytes(), uv.tobytes(), idx.tobytes()]
    if image is not None:
        blobs.append(png(image))
    binary, views = b"", []
    for blob in blobs:
        binary += b"\0" * (-len(binary) % 4)
        views.append({"buffer": 0, "byteOffset": len(binary), "byteLength": len(blob)})
        binary += blob
    doc: dict[str, Any] = {
        "asset": {"version": "2.0"},
        "scene": 0,
        "scenes": [{"nodes": [0]}],
        "nodes": [{"name": "card", "mesh": 0}],
        "meshes": [
            {
                "primitives": [
                    {
                        "attributes": {"POSITION": 0, "NORMAL": 1, "TEXCOORD_0": 2},
                        "indices": 3,
                        "material": 0,
                    }
                ]
            }
        ],
        "materials": [material],
        "accessors": [
            {
                "bufferView": 0,
                "componentType": 5126,
                "count": 4,
                "type": "VEC3",
                "min": [-h, -h, 0],
                "max": [h, h, 0],
            },
            {"bufferView": 1, "componentType": 5126, "count": 4, "type": "VEC3"},
            {"bufferView": 2, "componentType": 5126, "count": 4, "type": "VEC2"},
            {"bufferView": 3, "componentType": 5123, "count": 6, "type": "SCALAR"},
        ],
        "bufferViews": views,
        "buffers": [{"byteLength": len(binary)}],
        **top,
    }
    if image is not None:
        doc["images"] = [{"bufferView": 4, "mimeType": "image/png"}]
        doc["samplers"] = [{"magFilter": 9728, "minFilter": 9728}]
        doc["textures"] = [{"source": 0, "sampler": 0}]
    return glb(doc, binary)


def draco_glb(data: bytes) -> bytes:
    """The same GLB with every triangle primitive's POSITION, NORMAL, TEXCOORD_0 and COLOR_0
    and its indices compressed with KHR_draco_mesh_compression (the plain copies dropped from
    the accessors, which then hold no bufferView, as the extension has it)."""
    import DracoPy

    from tests.assets_helpers import glb, split_glb

    doc, plain = split_glb(data)
    binary = bytearray(plain)
    accessors, views = doc["accessors"], doc["bufferViews"]
    kinds = {"POSITION": 0, "NORMAL": 1, "COLOR_0": 2, "TEXCOORD_0": 3}

    def read(a: int) -> np.ndarray:
        acc = accessors[a]
        view = views[acc["bufferView"]]
        dtype = {5126: np.float32, 5121: np.uint8, 5123: np.uint16, 5125: np.uint32}
        width = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4}[acc["type"]]
        start = view.get("byteOffset", 0) + acc.get("byteOffset", 0)
        arr = np.frombuffer(bytes(binary), dtype[acc["componentType"]], acc["count"] * width, start)
        return arr.reshape(acc["count"], width)

    for mesh in doc["meshes"]:
        for prim in mesh["primitives"]:
            attrs = prim["attributes"]
            faces = read(prim["indices"]).reshape(-1, 3)
            encoded = DracoPy.encode(
                read(attrs["POSITION"]),
                faces,
                quantization_bits=16,
                preserve_order=True,
                normals=read(attrs["NORMAL"]).astype(np.float64) if "NORMAL" in attrs else None,
                tex_coord=read(attrs["TEXCOORD_0"]).astype(np.float64)
                if "TEXCOORD_0" in attrs
                else None,
                colors=read(attrs["COLOR_0"]) if "COLOR_0" in attrs else None,
            )
            ids = {a["attribute_type"]: a["unique_id"] for a in DracoPy.decode(encoded).attributes}
            binary += b"\0" * (-len(binary) % 4)
            views.append({"buffer": 0, "byteOffset": len(binary), "byteLength": len(encoded)})
            binary += encoded
            compressed = {k: ids[t] for k, t in kinds.items() if k in attrs}
            prim.setdefault("extensions", {})["KHR_draco_mesh_compression"] = {
                "bufferView": len(views) - 1,
                "attributes": compressed,
            }
            for a in [*(attrs[k] for k in compressed), prim["indices"]]:
                accessors[a].pop("bufferView", None)
                accessors[a].pop("byteOffset", None)
    doc["buffers"][0]["byteLength"] = len(binary)
    doc["extensionsUsed"] = ["KHR_draco_mesh_compression"]
    doc["extensionsRequired"] = ["KHR_draco_mesh_compression"]
    return glb(doc, bytes(binary))
