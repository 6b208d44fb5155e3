"""Root motion: where the hips are on the floor, from the camera's view, with planted feet locked.

The retargeter gives the hips' height over the lowest sole only (``[0, h, 0]``): a walk is done
on the spot and the planted foot slides. Here:

1. **Root from the camera.** World landmarks are metres around the hip centre in axes that are
   (nearly) the camera's; image landmarks are where the same points fall in the picture. With a
   pinhole :class:`~capture.camera.CameraModel` each landmark ``W`` seen at normalized image
   point ``(a, b)`` (pixels from the centre over the focal length) satisfies
   ``a·(Wz + Tz) = Wx + Tx`` and ``b·(Wz + Tz) = Wy + Ty``, linear in the hip centre's camera
   position ``T``: one weighted least-squares solve (weights = visibility) per frame.
2. **The floor.** The camera is assumed level (its pitch is not estimated: a tilted camera
   makes a walk toward it climb or sink a little). The floor's height is the running median of
   the lowest sole point over the last seconds, so a jump (a minority of frames) does not lift it.
3. **Feet that stay put.** Each heel and toe has a contact state (near the floor and slow, with
   hysteresis). A point that lands is locked where it is; while locked, the hips move so it
   stays there (and on the floor). Locks blend in and out over a few frames, so the hips never
   jump; when no point is locked (a jump, a run's flight) the last correction eases to nothing
   and the hips follow the camera, rising with it. Each new lock takes back a fraction of the
   accumulated correction, so the root cannot drift from the camera's estimate.

Output ``pose.hips`` is avatar axes (``x`` = the avatar's left = the picture's right, ``y`` up,
``z`` toward the camera), x and z from the first frame's position, or the position
``settle_s`` into the stream (the avatar starts on its mark), y the hips' height above the floor. Without a camera or image landmarks the pose passes
through unchanged (x = z = 0, the retargeter's height).
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from capture.camera import CameraModel
from capture.filters import OneEuroFilter
from capture.landmarks import FloatArray, LandmarkFrame
from capture.landmarks import Landmark as L
from capture.pose import Pose

# The four contact points, in this order everywhere below.
SOLE_POINTS = (L.LEFT_HEEL, L.LEFT_FOOT_INDEX, L.RIGHT_HEEL, L.RIGHT_FOOT_INDEX)
_SOLES = list(SOLE_POINTS)
_TO_AVATAR = np.array([1.0, -1.0, -1.0])  # MediaPipe / camera axes → avatar axes
_WELL_VISIBLE = 0.5
_MIN_POINTS = 6
_MAX_GAP_S = 0.5  # a longer gap between frames drops every lock (the feet may have moved)


def solve_translation(
    xyz: FloatArray, image: FloatArray, visibility: FloatArray, camera: CameraModel
) -> FloatArray | None:
    """The hip centre's position (metres, camera axes: x right, y down, z away) that best
    projects the world landmarks ``xyz`` (33, 3) onto the image landmarks ``image`` (33, ≥2;
    fractions of the picture from its top-left). Well-visible landmarks count, weighted by
    visibility; all of them when too few are. None when the solve is degenerate."""
    f = camera.focal_px
    a = (image[:, 0] - 0.5) * (camera.width / f)
    b = (image[:, 1] - 0.5) * (camera.height / f)
    w = np.where(visibility >= _WELL_VISIBLE, visibility, 0.0)
    if np.count_nonzero(w) < _MIN_POINTS:
        w = visibility + 1e-3
    n = len(xyz)
    rows = np.zeros((2 * n, 3))
    rows[:n, 0] = 1.0
    rows[:n, 2] = -a
    rows[n:, 1] = 1.0
    rows[n:, 2] = -b
    rhs = np.concatenate([a * xyz[:, 2] - xyz[:, 0], b * xyz[:, 2] - xyz[:, 1]])
    sw = np.sqrt(np.concatenate([w, w]))[:, None]
    solution, _, rank, _ = np.linalg.lstsq(rows * sw, rhs * sw[:, 0], rcond=None)
    if rank < 3 or not np.all(np.isfinite(solution)) or solution[2] <= 0.0:
        return None
    out: FloatArray = solution
    return out


def _ramp(x: FloatArray, zero_at: float) -> FloatArray:
    """1 at 0 falling smoothly to 0 at ``zero_at`` (and beyond)."""
    s = np.clip(1.0 - x / zero_at, 0.0, 1.0)
    out: FloatArray = s * s * (3.0 - 2.0 * s)
    return out


class RootMotion:
    """Stateful root motion for one pose stream (see the module's notes); time is ``frame.t``.

    Thresholds: a sole point is in contact once it is below ``contact_height`` (m above the
    floor) and slower than ``contact_speed`` (m/s, along the floor), out of contact above
    ``release_height`` or faster than ``release_speed``. ``blend_s``: how long a lock takes to
    blend in or out. ``pull``: the fraction of the accumulated correction each new lock gives
    back to the camera's estimate. ``free_decay_s``: how fast the correction fades with no lock.
    ``floor_window_s``: how far back the floor's median looks.
    """

    __slots__ = (
        "_contact",
        "_correction",
        "_filter",
        "_first_t",
        "_floor_history",
        "_frozen",
        "_last_hips",
        "_last_raw",
        "_last_t",
        "_locks",
        "_origin",
        "_prev_points",
        "_weights",
        "blend_s",
        "contact_height",
        "contact_speed",
        "floor_window_s",
        "free_decay_s",
        "max_speed",
        "pull",
        "release_height",
        "release_speed",
        "settle_s",
    )  # fmt: skip

    def __init__(
        self,
        *,
        contact_height: float = 0.04,
        release_height: float = 0.08,
        contact_speed: float = 0.35,
        release_speed: float = 0.8,
        blend_s: float = 0.08,
        pull: float = 0.2,
        free_decay_s: float = 0.4,
        floor_window_s: float = 5.0,
        max_speed: float = 6.0,
        settle_s: float = 0.0,
        smoothing: OneEuroFilter | None = None,
    ) -> None:
        values = (contact_height, release_height, contact_speed, release_speed, blend_s)
        if not all(math.isfinite(v) and v > 0 for v in (*values, free_decay_s, floor_window_s)):
            raise ValueError("root motion thresholds and times must be positive and finite")
        if release_height < contact_height or release_speed < contact_speed:
            raise ValueError("release thresholds must not be below the contact thresholds")
        if not 0.0 <= pull <= 1.0:
            raise ValueError("pull must be in [0, 1]")
        if not (math.isfinite(max_speed) and max_speed > 0 and math.isfinite(settle_s)):
            raise ValueError("max_speed must be positive, settle_s finite")
        self.contact_height = contact_height
        self.release_height = release_height
        self.contact_speed = contact_speed
        self.release_speed = release_speed
        self.blend_s = blend_s
        self.pull = pull
        self.free_decay_s = free_decay_s
        self.floor_window_s = floor_window_s
        self.max_speed = max_speed
        self.settle_s = settle_s
        self._filter = smoothing or OneEuroFilter(min_cutoff=1.5, beta=4.0, d_cutoff=1.0)
        self.reset()

    def reset(self) -> None:
        """Forget everything: the next frame is a new first frame (the avatar back on its mark)."""
        self._filter.reset()
        self._origin: FloatArray | None = None
        self._first_t: float | None = None
        self._last_raw: tuple[float, FloatArray] | None = None
        self._last_hips: FloatArray | None = None
        self._floor_history: list[tuple[float, float]] = []
        self._drop_locks()

    def _drop_locks(self) -> None:
        n = len(SOLE_POINTS)
        self._last_t: float | None = None
        self._prev_points: FloatArray | None = None
        self._contact = np.zeros(n, dtype=bool)
        self._weights = np.zeros(n)
        self._locks = np.zeros((n, 2))  # where each locked point stays (x, z), floor frame
        self._frozen = np.zeros((n, 3))  # a released point's last correction, blending out
        self._correction = np.zeros(3)

    def __call__(self, frame: LandmarkFrame, pose: Pose, camera: CameraModel | None) -> Pose:
        """``pose`` with its hips placed on the floor (see the module's notes); inputs are not
        modified. Without a camera or image landmarks, ``pose`` itself."""
        if camera is None or frame.image is None:
            return pose
        t = frame.t
        if self._last_t is not None and t < self._last_t - 1e-9:
            self.reset()  # the source started again
        elif self._last_t is not None and t - self._last_t > _MAX_GAP_S:
            self._drop_locks()
        raw = solve_translation(frame.xyz, frame.image, frame.visibility, camera)
        if raw is None:  # nothing to place the person by: hold where they were
            if self._last_hips is None:
                return pose
            return replace(
                pose, hips=np.array([self._last_hips[0], pose.hips[1], self._last_hips[2]])
            )
        raw = raw * _TO_AVATAR
        if self._last_raw is not None and self._origin is not None:
            then, before = self._last_raw
            step = raw[[0, 2]] - before[[0, 2]]
            if float(np.hypot(*step)) > self.max_speed * max(t - then, 1.0 / 60.0):
                # Faster than anyone moves on a set: the estimate jumped (the tracker lost the
                # person and found them, or someone else). The avatar carries on from where it
                # is; the filter and the locks start again from the new estimate.
                self._origin[[0, 2]] += step
                self._filter.reset()
                self._drop_locks()
        self._last_raw = (t, raw)
        hips = self._filter(t, raw)  # hip centre, avatar axes, camera origin
        rel = frame.xyz[_SOLES] * _TO_AVATAR  # sole points relative to the hips
        points = hips + rel

        floor = self._floor(t, float(points[:, 1].min()))
        height = points[:, 1] - floor
        dt = 0.0 if self._last_t is None else t - self._last_t
        if self._prev_points is not None and dt > 0.0:
            step = points[:, [0, 2]] - self._prev_points[:, [0, 2]]
            speed = np.sqrt(np.einsum("ki,ki->k", step, step)) / dt
        else:
            speed = np.zeros(len(SOLE_POINTS))

        self._update_contacts(height, speed, points)
        correction = self._blend(dt, height, speed, points)

        if self._first_t is None:
            self._first_t = t
        if self._origin is None or t - self._first_t < self.settle_s:
            # While the tracker settles, the avatar stays on its mark.
            self._origin = hips.copy()
        x, z = hips[[0, 2]] - self._origin[[0, 2]] + correction[[0, 2]]
        y = hips[1] - floor + correction[1]
        # No sole point below the floor, and never the hips (legs guessed above them).
        y = max(y, float(-rel[:, 1].min()), 0.0)
        self._last_t, self._prev_points = t, points
        self._last_hips = np.array([x, y, z])
        return replace(pose, hips=self._last_hips.copy())

    def _floor(self, t: float, lowest: float) -> float:
        history = self._floor_history
        history.append((t, lowest))
        while history and history[0][0] < t - self.floor_window_s:
            history.pop(0)
        return float(np.median([h for _, h in history]))

    def _update_contacts(self, height: FloatArray, speed: FloatArray, points: FloatArray) -> None:
        """Contact states with hysteresis; a point that lands is locked where the output shows
        it, less ``pull`` of the correction carried so far."""
        landing = ~self._contact & (height < self.contact_height) & (speed < self.contact_speed)
        leaving = self._contact & ((height > self.release_height) | (speed > self.release_speed))
        for k in np.flatnonzero(landing).tolist():
            self._locks[k] = points[k, [0, 2]] + (1.0 - self.pull) * self._correction[[0, 2]]
        for k in np.flatnonzero(leaving).tolist():
            self._frozen[k] = self._point_correction(k, height, points)
        self._contact = (self._contact | landing) & ~leaving

    def _point_correction(self, k: int, height: FloatArray, points: FloatArray) -> FloatArray:
        """What moves the hips so point ``k`` is at its lock, on the floor."""
        d = self._locks[k] - points[k, [0, 2]]
        # Up out of the floor, never down into it: a foot rolling off its toe lifts the hips.
        return np.array([d[0], max(-height[k], 0.0), d[1]])

    def _blend(
        self, dt: float, height: FloatArray, speed: FloatArray, points: FloatArray
    ) -> FloatArray:
        # A landing point locks at once (where the output shows it, so nothing jumps); a
        # released one fades out, so the correction the others hold takes over smoothly.
        fade = self._weights - dt / self.blend_s if dt > 0.0 else np.zeros_like(self._weights)
        self._weights = np.where(self._contact, 1.0, np.clip(fade, 0.0, 1.0))
        # A point lifting off or speeding up counts less before it is released: the toe a
        # walking foot rolls over keeps the hips, not the heel rising behind it.
        trust = self._weights * np.where(
            self._contact, _ramp(np.maximum(height, 0.0), self.release_height), 1.0
        )
        total = float(trust.sum())
        free = self._correction * math.exp(-dt / self.free_decay_s)
        if total <= 1e-9:
            self._correction = free
            return free
        per_point = np.array(
            [
                self._point_correction(k, height, points) if self._contact[k] else self._frozen[k]
                for k in range(len(SOLE_POINTS))
            ]
        )
        locked = (trust[:, None] * per_point).sum(axis=0) / total
        w = min(1.0, float(trust.max()))
        self._correction = w * locked + (1.0 - w) * free
        return self._correction
