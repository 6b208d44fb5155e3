"""The newest pose for the frame loop: capture pushes, rendering reads, neither waits.

Rendering runs at its own rate. :meth:`LatestPose.at` interpolates between the two newest
poses when a frame falls between them, and holds the newest one when capture is late (it never
extrapolates: a guessed limb is worse than a held one). Thread-safe: capture may push from
another thread.
"""

from __future__ import annotations

import threading

import numpy as np

from capture.face import blend_faces
from capture.pose import Pose
from capture.rotations import quat_conjugate, quat_multiply, quat_power


def blend(a: Pose, b: Pose, f: float) -> Pose:
    """The pose a fraction ``f`` of the way from ``a`` to ``b`` (slerp per bone, faces
    linearly)."""
    rel = quat_multiply(quat_conjugate(a.rotations), b.rotations)
    rel = rel * np.where(rel[:, 3:] < 0.0, -1.0, 1.0)  # the short way round
    rotations = quat_multiply(a.rotations, quat_power(rel, f))
    return Pose(
        a.t + (b.t - a.t) * f,
        a.hips + (b.hips - a.hips) * f,
        rotations,
        np.minimum(a.confidence, b.confidence),
        blend_faces(a.face, b.face, f),
    )


class LatestPose:
    """Holds the two newest poses (times in the capture clock, seconds)."""

    __slots__ = ("_lock", "_newer", "_older")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._older: Pose | None = None
        self._newer: Pose | None = None

    def push(self, pose: Pose) -> None:
        with self._lock:
            if self._newer is not None and pose.t <= self._newer.t:
                self._older = None  # the clock went back (a looped take): start afresh
            else:
                self._older = self._newer
            self._newer = pose

    def at(self, t: float) -> Pose | None:
        """The pose for a frame shown at capture time ``t``."""
        with self._lock:
            older, newer = self._older, self._newer
        if newer is None:
            return None
        if older is None or t >= newer.t:
            return newer
        if t <= older.t:
            return older
        return blend(older, newer, (t - older.t) / (newer.t - older.t))
