"""Square crops of a picture around a few of the body's image landmarks, for the face and hand
landmarkers: on a whole frame a face or hand is often too small for their detectors (a person
a few metres away), so they run on a crop located by the body pose, upscaled.

Pure numpy maths: a :class:`Box` from landmarks (with a margin, never smaller than a floor,
kept inside the picture), the crop itself, and the mapping of crop fractions back to the
picture's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Box:
    """A square of ``side`` pixels whose top-left corner is pixel (``x``, ``y``), inside a
    picture ``width`` × ``height``."""

    x: int
    y: int
    side: int
    width: int
    height: int

    def to_picture(self, uv: FloatArray) -> FloatArray:
        """Points (N, 2+) in fractions of the crop → fractions of the picture (extra columns,
        such as depth, are kept as they are)."""
        out = np.array(uv, dtype=np.float64)
        out[..., 0] = (self.x + out[..., 0] * self.side) / self.width
        out[..., 1] = (self.y + out[..., 1] * self.side) / self.height
        return out


def square_box(
    uv: FloatArray,
    width: int,
    height: int,
    *,
    scale: float,
    min_side: float = 0.0,
) -> Box | None:
    """The square around ``uv`` ((N, 2) picture fractions, as MediaPipe's image landmarks):
    centred on their bounding box, ``scale`` times its longer side (at least ``min_side``
    pixels), shifted to lie inside the picture (shrunk to the picture's shorter side if it
    must). None when the points give nothing to crop (not finite, or the box is under 2 px)."""
    points = np.asarray(uv, dtype=np.float64)[:, :2] * (width, height)
    if points.size == 0 or not np.all(np.isfinite(points)) or width < 2 or height < 2:
        return None
    low, high = points.min(axis=0), points.max(axis=0)
    centre = (low + high) / 2.0
    side = max(float(np.max(high - low)) * scale, min_side)
    side = min(side, float(width), float(height))
    if side < 2.0:
        return None
    x = float(np.clip(centre[0] - side / 2.0, 0.0, width - side))
    y = float(np.clip(centre[1] - side / 2.0, 0.0, height - side))
    return Box(round(x), round(y), int(side), width, height)


def crop(rgb: NDArray[np.uint8], box: Box, size: int) -> NDArray[np.uint8]:
    """The box's pixels as a contiguous ``size`` × ``size`` RGB picture (bilinear; a box
    smaller than ``size`` is upscaled, as the landmarkers find small faces and hands badly)."""
    import cv2

    patch = rgb[box.y : box.y + box.side, box.x : box.x + box.side]
    if patch.shape[:2] == (size, size):
        return np.ascontiguousarray(patch)
    interpolation = cv2.INTER_LINEAR if box.side < size else cv2.INTER_AREA
    out = np.asarray(cv2.resize(patch, (size, size), interpolation=interpolation), np.uint8)
    return out
