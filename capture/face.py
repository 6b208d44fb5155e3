"""The face track of the pose stream: 52 ARKit blendshape weights, eye gaze and a confidence.

``ARKIT`` names the weights in alphabetical order: the names MediaPipe's face landmarker
outputs (less its ``_neutral``), and the Face Units targets the shipped cast is built from. A
weight is 0 at rest and 1 at the full expression. Gaze is ``[yaw, pitch]`` in radians of both
eyes together, in the avatar's space: yaw + turns the eyes toward the avatar's left (+X), pitch +
turns them up. Arrays are copies, read-only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from capture import fields
from capture.errors import TakeFormatError

FloatArray = NDArray[np.float64]

ARKIT: tuple[str, ...] = (
    "browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft", "browOuterUpRight",
    "cheekPuff", "cheekSquintLeft", "cheekSquintRight", "eyeBlinkLeft", "eyeBlinkRight",
    "eyeLookDownLeft", "eyeLookDownRight", "eyeLookInLeft", "eyeLookInRight", "eyeLookOutLeft",
    "eyeLookOutRight", "eyeLookUpLeft", "eyeLookUpRight", "eyeSquintLeft", "eyeSquintRight",
    "eyeWideLeft", "eyeWideRight", "jawForward", "jawLeft", "jawOpen", "jawRight", "mouthClose",
    "mouthDimpleLeft", "mouthDimpleRight", "mouthFrownLeft", "mouthFrownRight", "mouthFunnel",
    "mouthLeft", "mouthLowerDownLeft", "mouthLowerDownRight", "mouthPressLeft",
    "mouthPressRight", "mouthPucker", "mouthRight", "mouthRollLower", "mouthRollUpper",
    "mouthShrugLower", "mouthShrugUpper", "mouthSmileLeft", "mouthSmileRight",
    "mouthStretchLeft", "mouthStretchRight", "mouthUpperUpLeft", "mouthUpperUpRight",
    "noseSneerLeft", "noseSneerRight", "tongueOut",
)  # fmt: skip
ARKIT_COUNT = len(ARKIT)
ARKIT_INDEX: dict[str, int] = {name: i for i, name in enumerate(ARKIT)}

# The farthest eyes turn (radians), a bound on a stored gaze; real eyes stop near 0.6.
MAX_GAZE = math.pi / 2


@dataclass(frozen=True, slots=True)
class Face:
    """``weights`` (52,) in [0, 1] in :data:`ARKIT` order; ``gaze`` (2,) ``[yaw, pitch]``
    radians; ``confidence`` in [0, 1]. The arrays given are copied (the caller's stay theirs)."""

    weights: FloatArray
    gaze: FloatArray
    confidence: float = 1.0

    def __post_init__(self) -> None:
        weights = np.array(self.weights, dtype=np.float64)
        gaze = np.array(self.gaze, dtype=np.float64)
        if weights.shape != (ARKIT_COUNT,) or gaze.shape != (2,):
            raise ValueError(f"a Face has {ARKIT_COUNT} weights and a 2-value gaze")
        weights.flags.writeable = False
        gaze.flags.writeable = False
        object.__setattr__(self, "weights", weights)
        object.__setattr__(self, "gaze", gaze)

    @classmethod
    def neutral(cls, confidence: float = 1.0) -> Face:
        """A resting face looking straight ahead."""
        return cls(np.zeros(ARKIT_COUNT), np.zeros(2), confidence)

    @classmethod
    def from_named(
        cls,
        weights: dict[str, float],
        gaze: tuple[float, float] = (0.0, 0.0),
        confidence: float = 1.0,
    ) -> Face:
        """A face from ``{arkitName: weight}``; names not given are 0. Unknown names: KeyError."""
        out = np.zeros(ARKIT_COUNT)
        for name, w in weights.items():
            out[ARKIT_INDEX[name]] = w
        return cls(out, np.array(gaze, dtype=np.float64), confidence)

    def weight(self, name: str) -> float:
        return float(self.weights[ARKIT_INDEX[name]])

    def to_json(self) -> dict[str, Any]:
        """The take-frame fields: ``face`` (all 52 names), ``gaze``, ``faceConfidence``."""
        return {
            "face": {name: round(float(w), 4) for name, w in zip(ARKIT, self.weights, strict=True)},
            "gaze": [round(float(v), 5) for v in self.gaze],
            "faceConfidence": round(float(self.confidence), 3),
        }

    @classmethod
    def from_json(cls, obj: dict[str, Any], where: str) -> Face | None:
        """The face fields of a take frame, strictly (see :mod:`capture.take`); None when the
        frame has no ``face``. Names left out of ``face`` are 0; no ``gaze`` is straight ahead,
        no ``faceConfidence`` is 1."""
        if "face" not in obj:
            for key in ("gaze", "faceConfidence"):
                if key in obj:
                    raise TakeFormatError(f"{where}: {key!r} without 'face'")
            return None
        named = obj["face"]
        if type(named) is not dict:
            raise TakeFormatError(f"{where}: 'face' must be an object of ARKit name: weight")
        weights = np.zeros(ARKIT_COUNT)
        for name, w in named.items():
            index = ARKIT_INDEX.get(name)
            if index is None:
                raise TakeFormatError(
                    f"{where}: 'face' names an unknown ARKit blendshape {fields.brief(name)}"
                )
            weights[index] = fields.number(w, where, f"face.{name}", 0.0, 1.0)
        gaze = (
            fields.vector(obj["gaze"], where, "gaze", 2, MAX_GAZE) if "gaze" in obj else np.zeros(2)
        )
        confidence = (
            fields.number(obj["faceConfidence"], where, "faceConfidence", 0.0, 1.0)
            if "faceConfidence" in obj
            else 1.0
        )
        return cls(weights, gaze, confidence)


def blend_faces(a: Face | None, b: Face | None, f: float) -> Face | None:
    """The face a fraction ``f`` of the way from ``a`` to ``b`` (linear: weights are linear
    in the mesh). A missing side is not invented: the nearer face is held."""
    if a is None or b is None:
        return a if f < 0.5 else b
    return Face(
        a.weights + (b.weights - a.weights) * f,
        a.gaze + (b.gaze - a.gaze) * f,
        min(a.confidence, b.confidence),
    )
