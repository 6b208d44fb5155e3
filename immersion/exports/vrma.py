"""VRM Animation (``.vrma``, ``VRMC_vrm_animation`` 1.0): a take any VRM 1.0 avatar can play.

A glTF binary with one node per humanoid bone (the T-posed skeleton: translations only, every
rotation the identity, as the spec's rest asks), one animation (rotations per bone, the hips'
translation; no scale), and the extension mapping bone names to nodes. With a face track:
expression nodes whose translation x is the weight (the spec's way), for the VRM presets
derived from the ARKit weights as the room drives an avatar's presets
(:data:`~immersion.avatars.expressions.PRESET_FROM_ARKIT`; ``blink`` is left out because
``blinkLeft``/``blinkRight`` say it per eye, and a player applying all three would close the
eyes twice), and a ``lookAt`` node turned by the gaze (yaw about Y, pitch about X: the spec's
extrinsic ZXY with no roll).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from capture.face import ARKIT_COUNT, ARKIT_INDEX
from capture.rotations import axis_angle_quat, quat_multiply
from immersion.avatars.expressions import PRESET_FROM_ARKIT
from immersion.avatars.glb_writer import glb_bytes
from immersion.avatars.rig import Rig
from immersion.exports.gltf_anim import BinChunk, animation
from immersion.exports.motion import Motion

F = NDArray[np.float64]
EXTENSION = "VRMC_vrm_animation"
VRMA_PRESETS = tuple(k for k in PRESET_FROM_ARKIT if k != "blink")


def preset_weights(motion: Motion) -> F:
    """(T, len(VRMA_PRESETS)) preset weights in [0, 1]; a frame without a face is neutral."""
    rows = np.zeros((len(VRMA_PRESETS), ARKIT_COUNT))
    for k, name in enumerate(VRMA_PRESETS):
        for arkit, w in PRESET_FROM_ARKIT[name].items():
            rows[k, ARKIT_INDEX[arkit]] = w
    faces = np.array(
        [p.face.weights if p.face is not None else np.zeros(ARKIT_COUNT) for p in motion.poses]
    )
    out: F = np.clip(faces @ rows.T, 0.0, 1.0)
    return out


def gaze_rotations(motion: Motion) -> F:
    """(T, 4) lookAt rotations: yaw (+ toward the avatar's left, +X) about Y after pitch (+ up)
    about X; a frame without a face looks ahead."""
    gaze = np.array([p.face.gaze if p.face is not None else (0.0, 0.0) for p in motion.poses])
    yaw = np.array([axis_angle_quat([0.0, 1.0, 0.0], float(a)) for a in gaze[:, 0]])
    pitch = np.array([axis_angle_quat([1.0, 0.0, 0.0], -float(a)) for a in gaze[:, 1]])
    out: F = quat_multiply(yaw, pitch)
    return out


def vrma_bytes(rig: Rig, motion: Motion, rotations: F, hips: F) -> tuple[bytes, int]:
    """The .vrma file for a T-posed ``rig`` (identity rest frames) and its solved motion;
    and how many expression tracks it has."""
    bones = rig.bones
    anchors = rig.anchors.tolist()
    pos = rig.rest_position
    nodes: list[dict[str, Any]] = []
    for i, b in enumerate(bones):
        offset = pos[i] if anchors[i] < 0 else pos[i] - pos[anchors[i]]
        node: dict[str, Any] = {"name": b.vrm_name, "translation": [float(v) for v in offset]}
        children = [c for c, a in enumerate(anchors) if a == i]
        if children:
            node["children"] = children
        nodes.append(node)
    roots = [anchors.index(-1)]
    tracks: list[tuple[int, str, F]] = [(i, "rotation", rotations[:, i]) for i in range(len(bones))]
    tracks.append((roots[0], "translation", hips))
    ext: dict[str, Any] = {
        "specVersion": "1.0",
        "humanoid": {"humanBones": {b.vrm_name: {"node": i} for i, b in enumerate(bones)}},
    }
    expressions = 0
    if motion.has_face:
        weights = preset_weights(motion)
        preset: dict[str, Any] = {}
        for k, name in enumerate(VRMA_PRESETS):
            preset[name] = {"node": len(nodes)}
            roots.append(len(nodes))
            nodes.append({"name": f"expression.{name}"})
            xyz = np.zeros((len(weights), 3))
            xyz[:, 0] = weights[:, k]
            tracks.append((preset[name]["node"], "translation", xyz))
        expressions = len(preset)
        ext["expressions"] = {"preset": preset}
        ext["lookAt"] = {"node": len(nodes)}
        roots.append(len(nodes))
        nodes.append({"name": "lookAt"})
        tracks.append((len(nodes) - 1, "rotation", gaze_rotations(motion)))
    chunk = BinChunk()
    anim = animation(chunk, "take", motion.times, tracks)
    doc: dict[str, Any] = {
        "asset": {"version": "2.0", "generator": "immersion takes export"},
        "scene": 0,
        "scenes": [{"nodes": roots}],
        "nodes": nodes,
        "animations": [anim],
        "buffers": [{"byteLength": len(chunk.data)}],
        "bufferViews": chunk.views,
        "accessors": chunk.accessors,
        "extensionsUsed": [EXTENSION],
        "extensions": {EXTENSION: ext},
    }
    return glb_bytes(doc, bytes(chunk.data)), expressions
