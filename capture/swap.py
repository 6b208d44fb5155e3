"""Left/right swap correction: MediaPipe sometimes trades the actor's left and right.

A swap shows as every left landmark jumping to where its right twin was a frame ago and back
again later (measured: the full model on one pose2sim view, a quarter of the frames). Real
motion is continuous, so each frame is compared with the previous output twice, as it is and
with its left/right labels exchanged; when the exchanged labels fit the recent past far
better, the frame is relabelled. A real turn-around moves a little each frame and is kept.
The picture decides (u, v only: the model's swapped guess flips depth too, in its image z and
its world landmarks alike, and the correction mirrors it back). Without image landmarks nothing is changed: judged by world
landmarks, the full model's swaps on that view latched the wrong way (29 frames wrong after,
27 before; by the picture, 1 after).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from capture.landmarks import FloatArray, HandLandmarks, LandmarkFrame
from capture.landmarks import Landmark as L


def _mirror() -> list[int]:
    out = list(range(len(L)))
    for lm in L:
        name = lm.name
        for a, b in (("LEFT", "RIGHT"), ("RIGHT", "LEFT")):
            if a in name:
                out[lm] = L[name.replace(a, b)]
    return out


# Landmark index → its left/right twin (the nose is its own).
MIRROR: tuple[int, ...] = tuple(_mirror())

# The landmarks that decide: the limbs' joints, which a swap moves furthest.
_DECIDING = [
    L.LEFT_SHOULDER, L.RIGHT_SHOULDER, L.LEFT_ELBOW, L.RIGHT_ELBOW, L.LEFT_WRIST, L.RIGHT_WRIST,
    L.LEFT_HIP, L.RIGHT_HIP, L.LEFT_KNEE, L.RIGHT_KNEE, L.LEFT_ANKLE, L.RIGHT_ANKLE,
]  # fmt: skip
_DECIDING_MIRRORED = [MIRROR[i] for i in _DECIDING]


def swapped(frame: LandmarkFrame) -> LandmarkFrame:
    """``frame`` as the other reading of the same picture: every left/right pair exchanged
    (positions, visibilities, image rows, the two hands) and depth mirrored. A person whose left
    is on the picture's right faces the camera; the model's swapped guess put their left on the
    other side, so it built a person facing away, nose behind the ears and toes behind the
    heels: the labels alone would leave the head and feet turned backward. The face is the
    actor's own and stays."""

    def mirrored(values: FloatArray, depth: bool = True) -> FloatArray:
        out = values[list(MIRROR)] * (_FLIP_DEPTH if depth else 1.0)
        out.flags.writeable = False
        return out

    def hand(h: HandLandmarks | None) -> HandLandmarks | None:
        return None if h is None else replace(h, world=h.world * _FLIP_DEPTH)

    return replace(
        frame,
        xyz=mirrored(frame.xyz),
        visibility=mirrored(frame.visibility, depth=False),
        image=None if frame.image is None else mirrored(frame.image),
        left_hand=hand(frame.right_hand),
        right_hand=hand(frame.left_hand),
    )


_FLIP_DEPTH = np.array([1.0, 1.0, -1.0])


class SwapGuard:
    """Relabels frames whose left and right MediaPipe swapped, judged against the last output
    (frames without image landmarks pass unchanged).

    ``ratio``: a frame is relabelled when the exchanged labels are this much closer to the last
    output than its own (sum of the deciding landmarks' distances). ``memory``: seconds after
    which the last output is too old to judge by (a person lost and found again), and the
    frame is taken as it is. Frames must come in increasing time; inputs are never modified.
    """

    __slots__ = ("_last", "memory", "ratio", "swaps")

    def __init__(self, *, ratio: float = 0.7, memory: float = 0.5) -> None:
        self.ratio = ratio
        self.memory = memory
        self.swaps = 0  # frames relabelled so far
        self._last: LandmarkFrame | None = None

    def reset(self) -> None:
        self._last = None

    def __call__(self, frame: LandmarkFrame) -> LandmarkFrame:
        last = self._last
        out = frame
        if (
            last is not None
            and frame.image is not None
            and last.image is not None
            and 0.0 <= frame.t - last.t <= self.memory
            and self._exchanged(frame.image[:, :2], last.image[:, :2])
        ):
            out = swapped(frame)
            self.swaps += 1
        self._last = out
        return out

    def _exchanged(self, now: FloatArray, before: FloatArray) -> bool:
        ref = before[_DECIDING]
        keep = np.linalg.norm(now[_DECIDING] - ref, axis=1).sum()
        exchange = np.linalg.norm(now[_DECIDING_MIRRORED] - ref, axis=1).sum()
        return bool(exchange < self.ratio * keep)
