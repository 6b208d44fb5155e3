"""Square crops of a picture around a few of the body's image landmarks, for the face and hand
landmarkers: on a whole frame a face or hand is often too small for their detectors (a person
a few metres away), so they run on a crop located by the body pose, upscaled.

Pure numpy maths and one OpenCV call: a :class:`Box` from landmarks, the face's kept inside the
picture (:func:`square_box`), a hand's centred on the hand even at the picture's edge
(:func:`hand_box`); the crop itself (:func:`crop`, black where a box runs off the picture); and
crop fractions back to picture pixels (:meth:`Box.to_pixels`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from capture.landmarks import Landmark as L
from capture.landmarks import Side

FloatArray = NDArray[np.float64]

# A hand's crop: side as a multiple of the forearm's length in the picture (a hand is about
# 0.75 of it, and may point any way from the wrist) and of the wrist → knuckles distance.
HAND_FOREARM_SPAN = 1.6
HAND_KNUCKLE_SPAN = 5.0
MIN_HAND_SIDE_PX = 48.0
# Body landmarks per side: wrist, index, pinky, thumb, elbow.
HAND_LANDMARKS: dict[Side, tuple[L, L, L, L, L]] = {
    "left": (L.LEFT_WRIST, L.LEFT_INDEX, L.LEFT_PINKY, L.LEFT_THUMB, L.LEFT_ELBOW),
    "right": (L.RIGHT_WRIST, L.RIGHT_INDEX, L.RIGHT_PINKY, L.RIGHT_THUMB, L.RIGHT_ELBOW),
}


@dataclass(frozen=True, slots=True)
class Box:
    """A square of ``side`` pixels whose top-left corner is pixel (``x``, ``y``); it may run
    off the picture."""

    x: float
    y: float
    side: float

    def to_pixels(self, uv: FloatArray) -> FloatArray:
        """Points (..., 2) in fractions of the crop → picture pixels."""
        out: FloatArray = np.array([self.x, self.y]) + np.asarray(uv, np.float64) * self.side
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
    return Box(float(round(x)), float(round(y)), float(int(side)))


def hand_box(image: FloatArray, side: Side, width: int, height: int) -> Box:
    """The square around ``side``'s hand from body image landmarks (33, 3) [u, v, z]: sized by
    the forearm and the knuckles' reach, centred a little past the knuckles (the fingers carry
    on beyond them), running off the picture rather than off the hand."""
    points = image[list(HAND_LANDMARKS[side]), :2] * np.array([width, height])
    wrist, index, pinky, thumb, elbow = points
    knuckles = (index + pinky) / 2.0
    reach = float(np.linalg.norm(knuckles - wrist))
    forearm = float(np.linalg.norm(wrist - elbow))
    side_px = max(HAND_FOREARM_SPAN * forearm, HAND_KNUCKLE_SPAN * reach, MIN_HAND_SIDE_PX)
    centre = (wrist + index + pinky + thumb) / 4.0 + 0.5 * (knuckles - wrist)
    return Box(float(centre[0] - side_px / 2), float(centre[1] - side_px / 2), side_px)


def crop(rgb: NDArray[np.uint8], box: Box, size: int) -> NDArray[np.uint8]:
    """The box's pixels as a contiguous ``size`` × ``size`` RGB picture, bilinear (a box smaller
    than ``size`` is upscaled: the landmarkers find small faces and hands badly), black where
    the box runs off the picture. ``rgb`` is not modified."""
    import cv2

    height, width = rgb.shape[:2]
    x, y, side = round(box.x), round(box.y), round(box.side)
    inside = x >= 0 and y >= 0 and x + side <= width and y + side <= height
    if inside and (x, y, side) == (box.x, box.y, box.side):
        patch = rgb[y : y + side, x : x + side]
        if patch.shape[:2] == (size, size):
            return np.ascontiguousarray(patch)
        interpolation = cv2.INTER_LINEAR if side < size else cv2.INTER_AREA
        return np.asarray(cv2.resize(patch, (size, size), interpolation=interpolation), np.uint8)
    # Off the picture (or between pixels): the affine map picture → crop, padded black.
    scale = size / box.side
    m = np.array([[scale, 0.0, -box.x * scale], [0.0, scale, -box.y * scale]])
    out = cv2.warpAffine(
        rgb, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT
    )
    return np.ascontiguousarray(out, dtype=np.uint8)
