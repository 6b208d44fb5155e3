"""The actor's neutral: "relax, look at the camera" for one second, automatic from the first
second of a stream or started again on demand. The face's resting weights and the head's
resting tilt are each the median over that second, so a resting actor drives a resting avatar.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]

CALIBRATION_S = 1.0  # seconds of samples the neutral is the median of
# Times in take files are rounded to the microsecond: a second measured between two stored
# times must come out the same as between the times they were rounded from.
_TIME_SLACK = 1e-5


class NeutralWindow:
    """Collects samples for :data:`CALIBRATION_S` from the first one at or after a start time
    (the stream's first, until :meth:`start` says otherwise); :attr:`value` is their median
    once the second is complete (``initial`` before). Samples are copied; time is explicit."""

    __slots__ = ("_samples", "_since", "_start", "value")

    def __init__(self, initial: FloatArray | None = None) -> None:
        self.value: FloatArray | None = initial
        self._start: float | None = -math.inf
        self._since: float | None = None
        self._samples: list[FloatArray] = []

    def start(self, t: float) -> None:
        """Calibrate again from ``t``; the current value stays until the new one is ready."""
        self._start, self._since, self._samples = t, None, []

    @property
    def running(self) -> bool:
        return self._start is not None

    def add(self, t: float, sample: FloatArray) -> bool:
        """Offer one sample taken at ``t``; True when it completed the window."""
        if self._start is None or t < self._start:
            return False
        if self._since is None:
            self._since = t
        if t - self._since < CALIBRATION_S - _TIME_SLACK:
            self._samples.append(np.array(sample, dtype=np.float64))
            return False
        if self._samples:
            value = np.median(np.stack(self._samples), axis=0)
            value.flags.writeable = False
            self.value = value
        self._start, self._since, self._samples = None, None, []
        return True
