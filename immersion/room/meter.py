"""Rates and medians for status, kept by the one thread whose work they measure."""

from __future__ import annotations

import statistics
from collections import deque

from immersion.room.messages import MeterSnapshot


class Meter:
    """Tick times and per-stage milliseconds over the last few seconds. Not thread-safe: its
    owner ticks it and hands :meth:`snapshot` (immutable) to whoever reads."""

    __slots__ = ("_ms", "_times", "window_s")

    def __init__(self, window_s: float = 2.0, keep: int = 240) -> None:
        self.window_s = window_s
        self._times: deque[float] = deque(maxlen=keep)
        self._ms: dict[str, deque[float]] = {}

    def tick(self, now: float, **stages_ms: float) -> None:
        self._times.append(now)
        for stage, ms in stages_ms.items():
            self._ms.setdefault(stage, deque(maxlen=90)).append(ms)

    def snapshot(self, now: float) -> MeterSnapshot:
        times = tuple(t for t in self._times if t > now - self.window_s)
        medians = {k: statistics.median(v) for k, v in self._ms.items() if v}
        return MeterSnapshot(times, medians, self.window_s)
