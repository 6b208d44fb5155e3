"""Fingers: one hand's 21 MediaPipe world landmarks → the VRM finger bones' local rotations.

Rest (every local rotation the identity) is the VRM normalized T-pose: the four fingers straight
along ±X (the avatar's left hand on +X) with the nails up, palm down (-Y); the thumb level,
pointing 45° between ±X and +Z. Landmarks move into avatar space as the body's do
((x, y, z) → (x, -y, -z)), and the sides are the actor's own, as for body landmarks: the actor's
left hand drives ``Bone.LEFT_*``.

Method (pure numpy, one batch per level of the finger chains):

1. The hand's own frame comes from the hand landmarks (wrist → knuckles' middle, and index →
   little knuckle), matched against the same two directions at rest; every segment direction is
   then expressed in that frame, so the fingers' locals do not depend on how the hand is held.
2. The first segment of each finger (the thumb's metacarpal, the others' proximal) turns from its
   rest direction by the smallest rotation onto its direction: flexion and spread, no twist.
3. The middle and end segments of the four fingers are hinges: the child direction, seen from the
   parent segment, is projected onto the plane of the parent's curl axis, so noise cannot bend a
   finger sideways. The thumb's other two segments take the smallest rotation (its flexion axis
   depends on how far it is turned toward the palm, which the rest pose does not fix).
4. A finger's confidence is the landmarker's score, zeroed by implausible segment lengths or a
   degenerate palm, and lowered as its hinge joints bend out of their plane.

:class:`HandTracker` brings this into the pose stream: smoothing with explicit time, and a lost
hand held for a moment, then relaxed to a natural curl.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from capture.filters import smoothing_factor
from capture.landmarks import SIDES, FloatArray, HandLandmarks, LandmarkFrame, Side
from capture.landmarks import HandLandmark as H
from capture.pose import Pose
from capture.rotations import (
    axis_angle_quat,
    basis,
    cross,
    matrix_to_quat,
    normalize,
    quat_conjugate,
    quat_multiply,
    quat_power,
    quat_to_matrix,
    rotation_between_bases,
)
from capture.skeleton import Bone

FINGER_SEGMENTS = 15

# MediaPipe world axes → avatar axes, as for the body's landmarks.
_TO_AVATAR = np.array([1.0, -1.0, -1.0])

# Each finger's four joints, thumb first, in the order of capture.skeleton.Bone: segment k of a
# finger runs from joint k to joint k + 1 (thumb: metacarpal, proximal, distal).
_CHAINS = np.array(
    [
        [H.THUMB_CMC, H.THUMB_MCP, H.THUMB_IP, H.THUMB_TIP],
        [H.INDEX_MCP, H.INDEX_PIP, H.INDEX_DIP, H.INDEX_TIP],
        [H.MIDDLE_MCP, H.MIDDLE_PIP, H.MIDDLE_DIP, H.MIDDLE_TIP],
        [H.RING_MCP, H.RING_PIP, H.RING_DIP, H.RING_TIP],
        [H.PINKY_MCP, H.PINKY_PIP, H.PINKY_DIP, H.PINKY_TIP],
    ]
)
_FINGERS = slice(1, 5)

# Plausible sizes in metres (an adult hand; a child's is about two thirds): outside these the
# landmarker has lost the hand or mixed up its joints.
_SEGMENT_METRES = (0.005, 0.09)
_PALM_WIDTH_METRES = (0.02, 0.15)
_PALM_LENGTH_METRES = (0.03, 0.2)
# A hinge joint bent out of its plane by sin⁻¹ of this much is still trusted fully; twice as much
# is not trusted at all.
_OUT_OF_PLANE_OK = 0.3


def _first_bone(side: Side) -> Bone:
    return Bone.LEFT_THUMB_METACARPAL if side == "left" else Bone.RIGHT_THUMB_METACARPAL


def finger_bones(side: Side) -> list[Bone]:
    """The 15 finger bones of ``side`` in the order :func:`solve_fingers` returns them."""
    first = _first_bone(side)
    return [Bone(first + k) for k in range(FINGER_SEGMENTS)]


def rest_directions(side: Side) -> FloatArray:
    """(5, 3) rest direction of each finger's segments in avatar space, thumb first."""
    s = 1.0 if side == "left" else -1.0
    out = np.tile([s, 0.0, 0.0], (5, 1))
    out[0] = np.array([s, 0.0, 1.0]) * math.sqrt(0.5)
    return out


def curl_axes(side: Side) -> FloatArray:
    """(5, 3) axes a positive turn about which curls each finger toward the palm (-Y)."""
    d = rest_directions(side)
    return cross(d, np.array([0.0, -1.0, 0.0]))


def _hand_rest(side: Side) -> FloatArray:
    # Rest: knuckles along ±X from the wrist, index → little knuckle along -Z (palm down).
    s = 1.0 if side == "left" else -1.0
    return basis(np.array([s, 0.0, 0.0]), np.array([0.0, 0.0, 1.0]))


_REST_DIRS = {side: rest_directions(side) for side in SIDES}
_CURL_AXES = {side: curl_axes(side) for side in SIDES}
_HAND_REST = {side: _hand_rest(side) for side in SIDES}


def _avatar_points(hand: HandLandmarks) -> FloatArray:
    out: FloatArray = hand.world * _TO_AVATAR
    return out


def _hand_frame(p: FloatArray, side: Side) -> tuple[FloatArray, bool]:
    """The hand's global rotation matrix (avatar space) and whether its palm is plausible."""
    knuckles = 0.5 * (p[H.INDEX_MCP] + p[H.PINKY_MCP]) - p[H.WRIST]
    across = p[H.INDEX_MCP] - p[H.PINKY_MCP]
    length = float(np.linalg.norm(knuckles))
    width = float(np.linalg.norm(across))
    ok = (
        _PALM_LENGTH_METRES[0] <= length <= _PALM_LENGTH_METRES[1]
        and _PALM_WIDTH_METRES[0] <= width <= _PALM_WIDTH_METRES[1]
        and abs(float(knuckles @ across)) < 0.8 * length * width
    )
    return rotation_between_bases(basis(knuckles, across), _HAND_REST[side]), ok


def hand_rotation(hand: HandLandmarks, side: Side) -> FloatArray:
    """The hand's global rotation ``[x, y, z, w]`` in avatar space (identity: the T-pose hand),
    from the wrist and the index and little knuckles."""
    return matrix_to_quat(_hand_frame(_avatar_points(hand), side)[0])


def _swing(src: FloatArray, dst: FloatArray) -> FloatArray:
    """Smallest rotations (k, 4) taking unit ``src`` onto unit ``dst`` (never exactly opposite
    here: a finger folded straight back has a confidence of zero anyway)."""
    q = np.concatenate([cross(src, dst), 1.0 + np.einsum("ki,ki->k", src, dst)[:, None]], -1)
    return normalize(q)


def solve_fingers(hand: HandLandmarks, side: Side) -> tuple[FloatArray, FloatArray]:
    """Local rotations (15, 4) ``[x, y, z, w]`` and confidences (15,) of ``side``'s finger bones
    in :class:`Bone` order (thumb metacarpal, proximal, distal; index, middle, ring, little
    proximal, intermediate, distal), each relative to its parent (the hand for a finger's first
    segment). ``hand`` is not modified."""
    p = _avatar_points(hand)
    hand_r, palm_ok = _hand_frame(p, side)
    rest, axes = _REST_DIRS[side], _CURL_AXES[side]

    # Segment vectors in the hand's frame: (5 fingers, 3 segments, 3).
    vectors = (p[_CHAINS[:, 1:]] - p[_CHAINS[:, :-1]]) @ hand_r
    lengths = np.sqrt(np.einsum("fsi,fsi->fs", vectors, vectors))
    dirs = vectors / np.maximum(lengths, 1e-9)[..., None]

    local = np.empty((5, 3, 4))
    local[:, 0] = _swing(rest, dirs[:, 0])
    parent = quat_to_matrix(local[:, 0])  # each first segment's frame, in the hand's frame
    out_of_plane = np.zeros((5, 2))
    for k in (1, 2):
        seen = np.einsum("fji,fj->fi", parent, dirs[:, k])  # parentᵀ · direction
        along = np.einsum("fi,fi->f", seen, axes)
        out_of_plane[:, k - 1] = np.abs(along)
        # The four fingers' hinges: keep only the part in the plane the curl axis turns.
        hinged = normalize(seen - along[:, None] * axes)
        target = np.concatenate([seen[:1], hinged[_FINGERS]])
        local[:, k] = _swing(rest, normalize(target))
        parent = parent @ quat_to_matrix(local[:, k])

    sane = np.all((lengths >= _SEGMENT_METRES[0]) & (lengths <= _SEGMENT_METRES[1]), axis=1)
    bent = np.clip(2.0 - out_of_plane.max(axis=1) / _OUT_OF_PLANE_OK, 0.0, 1.0)
    bent[0] = 1.0  # the thumb has no hinge constraint
    finger_conf = hand.score * float(palm_ok) * sane * bent
    rotations = local.reshape(FINGER_SEGMENTS, 4)
    rotations *= np.where(rotations[:, 3:] < 0.0, -1.0, 1.0)
    return rotations, np.repeat(finger_conf, 3)


def _natural_curl(side: Side) -> FloatArray:
    """A relaxed hand: each finger a little more bent than the one before, the thumb eased in."""
    degrees = [
        (10.0, 10.0, 10.0),  # thumb: metacarpal, proximal, distal
        (10.0, 20.0, 10.0),
        (15.0, 25.0, 12.0),
        (20.0, 30.0, 14.0),
        (25.0, 35.0, 16.0),
    ]
    axes = _CURL_AXES[side]
    return np.array(
        [
            axis_angle_quat(axes[f], math.radians(angle))
            for f, angles in enumerate(degrees)
            for angle in angles
        ]
    )


NATURAL_CURL: dict[Side, FloatArray] = {side: _natural_curl(side) for side in SIDES}


def _slerp(a: FloatArray, b: FloatArray, f: float) -> FloatArray:
    """Rotations ``f`` of the way from ``a`` to ``b`` (f in [0, 1])."""
    return quat_multiply(a, quat_power(quat_multiply(quat_conjugate(a), b), f))


class _Hand:
    """One side's filter and loss state."""

    __slots__ = ("held", "held_conf", "seen", "shown", "speed", "t")

    def __init__(self) -> None:
        self.shown: FloatArray | None = None  # what was output last (filtered / held / relaxed)
        self.held: FloatArray | None = None  # the last tracked (filtered) rotations
        self.held_conf = np.zeros(FINGER_SEGMENTS)
        self.seen: float | None = None  # time the hand was last seen
        self.t: float | None = None  # time of the last update
        self.speed = np.zeros(FINGER_SEGMENTS)


class HandTracker:
    """Fills the pose's 30 finger bones from a landmark frame's hands, one frame at a time.

    Each side's rotations are smoothed by a One Euro filter on the quaternions (time from the
    frame: ``min_cutoff`` Hz at rest, rising by ``beta`` Hz per radian/s of turn). A hand that
    goes missing holds its last shape for ``hold`` seconds, then relaxes over ``relax`` seconds
    to :data:`NATURAL_CURL`, its confidence falling to 0 over the whole time. A side never seen
    leaves the pose's fingers as they are (at rest, confidence 0). Inputs are never modified;
    a source that starts again (time back by more than ``restart`` seconds) starts afresh.
    """

    __slots__ = ("_hands", "beta", "hold", "min_cutoff", "relax", "restart")

    def __init__(
        self,
        *,
        hold: float = 0.4,
        relax: float = 0.5,
        min_cutoff: float = 2.0,
        beta: float = 1.5,
        restart: float = 1.0,
    ) -> None:
        values = (hold, relax, min_cutoff, beta, restart)
        if not all(map(math.isfinite, values)) or min(values) < 0 or min_cutoff == 0:
            raise ValueError("hold, relax, cutoff, beta and restart must be finite, not negative")
        self.hold, self.relax, self.min_cutoff, self.beta = hold, relax, min_cutoff, beta
        self.restart = restart
        self._hands = {side: _Hand() for side in SIDES}

    def reset(self) -> None:
        self._hands = {side: _Hand() for side in SIDES}

    def __call__(self, pose: Pose, frame: LandmarkFrame) -> Pose:
        rotations = pose.rotations.copy()
        confidence = pose.confidence.copy()
        for side in SIDES:
            hand = frame.left_hand if side == "left" else frame.right_hand
            got = self._side(side, hand, frame.t)
            if got is not None:
                first = _first_bone(side)
                rotations[first : first + FINGER_SEGMENTS] = got[0]
                confidence[first : first + FINGER_SEGMENTS] = got[1]
        return replace(pose, rotations=rotations, confidence=confidence)

    def _side(
        self, side: Side, hand: HandLandmarks | None, t: float
    ) -> tuple[FloatArray, FloatArray] | None:
        state = self._hands[side]
        if state.t is not None and t < state.t - self.restart:
            state = self._hands[side] = _Hand()
        if hand is not None:
            rotations, conf = solve_fingers(hand, side)
            shown = self._filter(state, rotations, t)
            state.held, state.held_conf, state.seen = shown, conf, t
        elif state.seen is None or state.held is None:
            return None
        else:
            lost = max(t - state.seen, 0.0)
            f = min(max(lost - self.hold, 0.0) / self.relax, 1.0) if self.relax > 0 else 1.0
            f = f * f * (3.0 - 2.0 * f)
            shown = _slerp(state.held, NATURAL_CURL[side], f)
            span = self.hold + self.relax
            conf = state.held_conf * (max(1.0 - lost / span, 0.0) if span > 0 else 0.0)
        state.shown, state.t = shown, t
        return shown, conf

    def _filter(self, state: _Hand, q: FloatArray, t: float) -> FloatArray:
        if state.shown is None or state.t is None:
            return q
        # A first frame after a loss starts from what was shown, over at most a tenth of a
        # second, so a hand found again eases in rather than jumping.
        dt = min(max(t - state.t, 1e-3), 0.1)
        q = q * np.where(np.einsum("ki,ki->k", q, state.shown) < 0.0, -1.0, 1.0)[:, None]
        # Speed in radians a second of turn (a quaternion moves half the angle).
        delta = q - state.shown
        speed = 2.0 * np.sqrt(np.einsum("ki,ki->k", delta, delta)) / dt
        state.speed = state.speed + smoothing_factor(dt, 1.0) * (speed - state.speed)
        a = smoothing_factor(dt, self.min_cutoff + self.beta * state.speed)
        out = normalize(state.shown + a[:, None] * delta)
        out *= np.where(out[:, 3:] < 0.0, -1.0, 1.0)
        return out
