"""Temporal smoothing of landmarks: the One Euro filter (Casiez, Roussel & Vogel, CHI 2012).

A low-pass filter whose cutoff rises with speed: at rest a low cutoff removes jitter, in fast
moves a high cutoff keeps lag small. Time is explicit (seconds, from the source), so dropped
or uneven frames are handled correctly.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import TypeVar

import numpy as np

from capture.landmarks import FloatArray, LandmarkFrame

_Cutoff = TypeVar("_Cutoff", float, FloatArray)


class OneEuroFilter:
    """One Euro filter over arrays of points ``(..., D)``; speed is the norm over the last axis.

    Parameters (units matter):

    - ``min_cutoff`` (Hz): cutoff at rest. Lower removes more jitter, adds lag when slow.
    - ``beta`` (Hz per m/s, i.e. 1/m for positions in metres): how fast the cutoff grows with
      speed. Higher keeps up with fast moves, lets more jitter through while moving.
    - ``d_cutoff`` (Hz): cutoff of the low-pass on the speed estimate itself.
    - ``max_gap`` (s): a longer gap between samples (or time going backwards) restarts the filter
      from the new sample rather than smoothing across it.
    """

    __slots__ = ("_dx", "_t", "_x", "beta", "d_cutoff", "max_gap", "min_cutoff")

    def __init__(
        self,
        min_cutoff: float = 1.0,
        beta: float = 6.0,
        d_cutoff: float = 1.0,
        max_gap: float = 0.5,
    ) -> None:
        finite = all(map(math.isfinite, (min_cutoff, beta, d_cutoff, max_gap)))
        if not finite or min_cutoff <= 0 or d_cutoff <= 0 or beta < 0 or max_gap <= 0:
            raise ValueError("cutoffs and max_gap must be positive, beta non-negative, all finite")
        self.min_cutoff = min_cutoff
        self.beta = beta
        self.d_cutoff = d_cutoff
        self.max_gap = max_gap
        self._t: float | None = None
        self._x: FloatArray | None = None
        self._dx: FloatArray | None = None

    def reset(self) -> None:
        self._t = self._x = self._dx = None

    def __call__(self, t: float, x: FloatArray) -> FloatArray:
        """Filtered value of sample ``x`` taken at time ``t`` seconds. ``x`` is not modified."""
        if (
            self._t is None
            or self._x is None
            or self._dx is None
            or not (0.0 < t - self._t <= self.max_gap)
        ):
            self._t, self._x, self._dx = t, np.array(x, dtype=np.float64), np.zeros(x.shape[:-1])
            return self._x.copy()
        dt = t - self._t
        speed = np.sqrt(np.einsum("...i,...i->...", x - self._x, x - self._x)) / dt
        dx = self._dx + smoothing_factor(dt, self.d_cutoff) * (speed - self._dx)
        cutoff = self.min_cutoff + self.beta * dx
        out: FloatArray = self._x + smoothing_factor(dt, cutoff)[..., None] * (x - self._x)
        self._t, self._x, self._dx = t, out, dx
        return out.copy()


def smoothing_factor(dt: float, cutoff: _Cutoff) -> _Cutoff:
    """One Euro's smoothing factor 1 / (1 + tau/dt), tau = 1 / (2π·cutoff); elementwise for
    arrays (filters of other values, such as rotations, use it too)."""
    return 1.0 / (1.0 + 1.0 / (2.0 * math.pi * cutoff * dt))


class LandmarkSmoother:
    """Applies a :class:`OneEuroFilter` to each landmark of a stream of frames."""

    __slots__ = ("filter",)

    def __init__(self, filter: OneEuroFilter | None = None) -> None:
        self.filter = filter or OneEuroFilter()

    def __call__(self, frame: LandmarkFrame) -> LandmarkFrame:
        xyz = self.filter(frame.t, frame.xyz)
        xyz.flags.writeable = False
        return replace(frame, xyz=xyz)
