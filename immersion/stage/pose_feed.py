"""The newest poses for the frame loop: capture pushes, rendering reads, neither waits.

Rendering runs at its own rate (a headset's 90 Hz) and capture at its own (a camera's 30 fps).
:meth:`LatestPose.for_frame` shows a frame one capture period late (later still by how late
poses arrive after their capture time: an actor's page stamps its own), so the frame nearly
always falls between two captured poses and is interpolated between them: bones by slerp, hips
linearly, face weights by :func:`~capture.face.blend_faces`. A frame past the newest pose holds
it (capture is late; it never extrapolates: a guessed limb is worse than a held one). Only the
last few poses are kept. Thread-safe: capture may push from another thread.
"""

from __future__ import annotations

import bisect
import statistics
import threading
from collections import deque
from collections.abc import Sequence

import numpy as np

from capture.face import blend_faces
from capture.pose import Pose
from capture.rotations import quat_conjugate, quat_multiply, quat_power

KEEP = 8  # poses: a period's jitter either side of the delay, and the spacing's median
MAX_PERIOD_S = 0.25  # a longer delay than this is a capture gap, not a frame rate
LAG_GAIN, LAG_DEV_GAIN = 1 / 16, 1 / 8  # per pose


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


def pose_at(poses: Sequence[Pose], times: Sequence[float], t: float) -> Pose:
    """The pose at time ``t`` among ``poses`` (their ``times``, ascending): blended between
    the two around it, else the nearest end (held: never extrapolated)."""
    k = bisect.bisect_right(times, t)
    if k == len(times):
        return poses[-1]
    if k == 0:
        return poses[0]
    older, newer = poses[k - 1], poses[k]
    span = newer.t - older.t
    return blend(older, newer, (t - older.t) / span) if span > 0 else newer


class LatestPose:
    """Holds the ``keep`` newest poses, oldest first (times in the capture clock, seconds)."""

    __slots__ = ("_lag", "_lag_dev", "_lock", "_poses", "_times")

    def __init__(self, keep: int = KEEP) -> None:
        if keep < 2:
            raise ValueError("keep at least two poses to interpolate between")
        self._lock = threading.Lock()
        self._poses: deque[Pose] = deque(maxlen=keep)
        self._times: deque[float] = deque(maxlen=keep)
        self._lag: float | None = None  # smoothed, as TCP smooths a round trip (RFC 6298)
        self._lag_dev = 0.0

    def push(self, pose: Pose, arrived: float | None = None) -> None:
        """Keep ``pose``; ``arrived``: when it came, on the same clock (None: as it was
        captured)."""
        with self._lock:
            if self._times and pose.t <= self._times[-1]:
                self._poses.clear()  # the clock went back (a looped take): start afresh
                self._times.clear()
            self._poses.append(pose)
            self._times.append(pose.t)
            lag = 0.0 if arrived is None else max(arrived - pose.t, 0.0)
            if self._lag is None:
                self._lag = lag
            else:  # slowly: a delay that jumps with each pose would shake the picture
                self._lag_dev += (abs(lag - self._lag) - self._lag_dev) * LAG_DEV_GAIN
                self._lag += (lag - self._lag) * LAG_GAIN

    def period(self) -> float:
        """The capture period: the median spacing of the kept poses (0 with fewer than two),
        at most :data:`MAX_PERIOD_S` so a gap in capture does not delay the picture."""
        with self._lock:
            times = list(self._times)
        if len(times) < 2:
            return 0.0
        return min(statistics.median(np.diff(times).tolist()), MAX_PERIOD_S)

    def lag(self) -> float:
        """How late poses arrive after their capture time: the smoothed lag, plus twice its
        smoothed deviation so that a pose a little later than usual has still come."""
        with self._lock:
            return 0.0 if self._lag is None else self._lag + 2 * self._lag_dev

    def frame_time(self, now: float) -> float:
        """The capture time a frame rendered at ``now`` shows: one capture period before the
        newest pose would usually have come. The one place that delay is worked out (the
        reader's picture and its voice in the headset keep to it too)."""
        return now - self.lag() - self.period()

    def for_frame(self, now: float) -> Pose | None:
        """The pose for a frame rendered at ``now`` (see :meth:`frame_time`)."""
        return self.at(self.frame_time(now))

    def at(self, t: float) -> Pose | None:
        """The pose at capture time ``t``: between the two kept poses around it, else the
        nearest end."""
        with self._lock:
            times, poses = list(self._times), list(self._poses)
        return pose_at(poses, times, t) if poses else None
