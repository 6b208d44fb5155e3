"""A glTF binary chunk grown accessor by accessor, and animations written into it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

_FLOAT = 5126
_KINDS = {1: "SCALAR", 3: "VEC3", 4: "VEC4"}


@dataclass
class BinChunk:
    """Bytes, bufferViews and accessors of buffer 0, appended to (an avatar's or a new one)."""

    data: bytearray = field(default_factory=bytearray)
    views: list[dict[str, Any]] = field(default_factory=list)
    accessors: list[dict[str, Any]] = field(default_factory=list)

    def floats(self, arr: NDArray[Any], *, bounds: bool = False) -> int:
        """A float accessor of (count, k) or (count,) values; ``bounds`` adds min/max (an
        animation's input must have them)."""
        a = np.ascontiguousarray(arr, dtype=np.float32)
        width = 1 if a.ndim == 1 else a.shape[1]
        self.data += b"\0" * (-len(self.data) % 4)
        raw = a.tobytes()
        self.views.append({"buffer": 0, "byteOffset": len(self.data), "byteLength": len(raw)})
        self.data += raw
        acc: dict[str, Any] = {
            "bufferView": len(self.views) - 1,
            "componentType": _FLOAT,
            "count": int(a.shape[0]),
            "type": _KINDS[width],
        }
        if bounds:
            flat = a.reshape(len(a), -1)
            acc["min"] = [float(v) for v in flat.min(axis=0)]
            acc["max"] = [float(v) for v in flat.max(axis=0)]
        self.accessors.append(acc)
        return len(self.accessors) - 1


def animation(
    chunk: BinChunk, name: str, times: NDArray[Any], tracks: list[tuple[int, str, NDArray[Any]]]
) -> dict[str, Any]:
    """A glTF animation: one LINEAR sampler per (node, path, values) track, sharing the input
    ``times``. Values are (T, 4) for rotation, (T, 3) translation, (T·k,) weights."""
    inp = chunk.floats(times, bounds=True)
    samplers: list[dict[str, Any]] = []
    channels: list[dict[str, Any]] = []
    for node, path, values in tracks:
        if path == "rotation":
            values = values / np.linalg.norm(values, axis=-1, keepdims=True)
        samplers.append({"input": inp, "output": chunk.floats(values), "interpolation": "LINEAR"})
        channels.append({"sampler": len(samplers) - 1, "target": {"node": node, "path": path}})
    return {"name": name, "samplers": samplers, "channels": channels}
