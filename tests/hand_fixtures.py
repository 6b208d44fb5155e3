"""Synthetic hands: MediaPipe hand world landmarks built from finger rotations by forward
kinematics, with the proportions of an adult hand, in the rest convention of capture.hands."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from capture.hands import FINGER_SEGMENTS, curl_axes, rest_directions
from capture.landmarks import HandLandmark as H
from capture.landmarks import HandLandmarks, Side
from capture.rotations import axis_angle_quat, quat_multiply, quat_to_matrix

FloatArray = NDArray[np.float64]

IDENTITY = np.tile([0.0, 0.0, 0.0, 1.0], (FINGER_SEGMENTS, 1))
# Left hand at rest, avatar space, wrist at the origin: each finger's first joint (thumb CMC,
# then the knuckles) and its three segment lengths in metres.
_ROOTS = np.array(
    [[0.025, -0.01, 0.02], [0.09, 0.0, 0.03], [0.092, 0.0, 0.01], [0.088, 0.0, -0.01],
     [0.08, 0.0, -0.03]]
)  # fmt: skip
_LENGTHS = np.array(
    [[0.045, 0.035, 0.03], [0.045, 0.027, 0.022], [0.05, 0.031, 0.024], [0.047, 0.029, 0.023],
     [0.038, 0.021, 0.02]]
)  # fmt: skip
_JOINTS = [
    [H.THUMB_CMC, H.THUMB_MCP, H.THUMB_IP, H.THUMB_TIP],
    [H.INDEX_MCP, H.INDEX_PIP, H.INDEX_DIP, H.INDEX_TIP],
    [H.MIDDLE_MCP, H.MIDDLE_PIP, H.MIDDLE_DIP, H.MIDDLE_TIP],
    [H.RING_MCP, H.RING_PIP, H.RING_DIP, H.RING_TIP],
    [H.PINKY_MCP, H.PINKY_PIP, H.PINKY_DIP, H.PINKY_TIP],
]


def hand_points(
    local: FloatArray, side: Side, hand: FloatArray | None = None, scale: float = 1.0
) -> FloatArray:
    """(21, 3) landmarks in avatar space for finger locals (15, 4) and a hand rotation."""
    s = 1.0 if side == "left" else -1.0
    rest = rest_directions(side)
    p = np.zeros((21, 3))
    for f, joints in enumerate(_JOINTS):
        pos = _ROOTS[f] * [s, 1.0, 1.0] * scale
        p[joints[0]] = pos
        g = np.array([0.0, 0.0, 0.0, 1.0])
        for k in range(3):
            g = quat_multiply(g, local[3 * f + k])
            pos = pos + quat_to_matrix(g) @ rest[f] * _LENGTHS[f, k] * scale
            p[joints[k + 1]] = pos
    if hand is not None:
        p = p @ quat_to_matrix(hand).T
    return p


def synthetic_hand(
    local: FloatArray, side: Side, hand: FloatArray | None = None, score: float = 1.0
) -> HandLandmarks:
    """MediaPipe's form of :func:`hand_points`: camera axes, origin at the hand's centre."""
    p = hand_points(local, side, hand) * [1.0, -1.0, -1.0]
    return HandLandmarks(p - p.mean(axis=0), score)


def curled(side: Side, degrees: float, thumb: float | None = None) -> FloatArray:
    """Every finger segment curled ``degrees`` toward the palm (thumb segments ``thumb``)."""
    axes = curl_axes(side)
    out = np.empty((FINGER_SEGMENTS, 4))
    for f in range(5):
        angle = (degrees / 2 if thumb is None else thumb) if f == 0 else degrees
        for k in range(3):
            out[3 * f + k] = axis_angle_quat(axes[f], np.radians(angle))
    return out


def mirrored(q: FloatArray) -> FloatArray:
    """Rotations mirrored through the avatar's YZ plane (left ↔ right)."""
    out: FloatArray = q * np.array([1.0, -1.0, -1.0, 1.0])
    return out
