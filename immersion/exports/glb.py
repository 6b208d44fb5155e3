"""GLB export: the avatar itself with the take added as a glTF animation.

The avatar's glTF (VRM is glTF) is kept whole — meshes, skin, materials, VRM extensions — its
buffers merged into one binary chunk that the animation's data is appended to. Channels:
each humanoid joint's local rotation and the hips' translation, from :meth:`Rig.solve` on the
avatar's own rest frames (what the room's :class:`AvatarActor` sets on the engine's joints);
with a face track, the morph target weights of every mesh node the room's
:class:`~immersion.avatars.expressions.FaceDriver` moves, and the eye joints where its gaze
turns bones.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
from numpy.typing import NDArray

from capture.face import Face
from capture.rotations import matrix_to_quat, quat_to_matrix
from capture.skeleton import Bone
from immersion.avatars.expressions import FaceDriver, eye_nodes, read_expressions
from immersion.avatars.glb_writer import glb_bytes
from immersion.avatars.rig import Rig
from immersion.exports.gltf_anim import BinChunk, animation
from immersion.exports.motion import Motion
from immersion.exports.rigs import node_globals, orthonormal
from immersion.gltf_guard import GltfDocument

F = NDArray[np.float64]


def merged_chunk(doc: dict[str, Any], buffers: list[bytes]) -> BinChunk:
    """All of ``doc``'s buffers as one binary chunk (buffer 0, no uri); ``doc``'s views and
    accessors are rewritten to point into it and become the chunk's lists."""
    data = bytearray()
    base = []
    for b in buffers:
        data += b"\0" * (-len(data) % 16)
        base.append(len(data))
        data += b
    views = doc.setdefault("bufferViews", [])
    for view in views:
        view["byteOffset"] = view.get("byteOffset", 0) + base[view["buffer"]]
        view["buffer"] = 0
    doc["buffers"] = [{"byteLength": 0}]
    return BinChunk(data, views, doc.setdefault("accessors", []))


def avatar_glb(
    avatar: GltfDocument,
    rig: Rig,
    nodes: list[int],
    motion: Motion,
    rotations: F,
    hips: F,
) -> tuple[bytes, int]:
    """The avatar's GLB with the animation ``take``; and how many morph weight channels."""
    doc = copy.deepcopy(avatar.json)
    chunk = merged_chunk(doc, avatar.buffers)
    hip = nodes[rig.bones.index(Bone.HIPS)]
    tracks: list[tuple[int, str, F]] = [
        (node, "rotation", rotations[:, i]) for i, node in enumerate(nodes)
    ]
    tracks.append((hip, "translation", hips))
    morphs = 0
    if motion.has_face:
        face_tracks = _face_tracks(doc, avatar.path.name, rig, motion)
        morphs = sum(1 for _, path, _ in face_tracks if path == "weights")
        tracks += face_tracks
    doc.setdefault("animations", []).append(animation(chunk, "take", motion.times, tracks))
    doc["buffers"][0]["byteLength"] = len(chunk.data)
    return glb_bytes(doc, bytes(chunk.data)), morphs


def _face_tracks(doc: dict[str, Any], name: str, rig: Rig, motion: Motion) -> list[Any]:
    """Morph weights per mesh node, and eye rotations, as the room's FaceDriver sets them."""
    model = read_expressions(doc, name)
    eyes = eye_nodes(doc, name)
    driver = FaceDriver(model, eyes is not None)
    neutral = Face.neutral()
    solved = [driver.solve(p.face if p.face is not None else neutral) for p in motion.poses]
    count = len(solved)
    out: list[Any] = []
    meshes = doc.get("meshes", [])
    for m in sorted({m for m, _ in driver.targets}):
        prims = meshes[m].get("primitives", [])
        k = max((len(p.get("targets", [])) for p in prims), default=0)
        weights = np.zeros((count, k))
        for j, (mesh, index) in enumerate(driver.targets):
            if mesh == m and index < k:
                weights[:, index] = [w[j] for w, _ in solved]
        for n, node in enumerate(doc.get("nodes", [])):
            if node.get("mesh") == m and k:
                out.append((n, "weights", weights.reshape(-1)))
    if eyes is not None and driver.eye_mode == "bone":
        by_name = {n.get("name"): i for i, n in enumerate(doc.get("nodes", []))}
        world, local = node_globals(doc)
        turns = np.array([e for _, e in solved])  # (T, 2, 4), normalized convention
        turns = rig.basis @ quat_to_matrix(turns) @ rig.basis.T
        for side, node_name in enumerate(eyes):
            n = by_name[node_name]
            rest_global = orthonormal(world[n][:3, :3])
            parent_frame = rest_global @ orthonormal(local[n][:3, :3]).T
            r = parent_frame.T @ turns[:, side] @ rest_global
            out.append((n, "rotation", matrix_to_quat(r)))
    return out
