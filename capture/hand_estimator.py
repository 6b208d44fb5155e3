"""Hands with MediaPipe's HandLandmarker, run on crops around the wrists the body pose located.

On a whole frame a hand is a few dozen pixels and the palm detector misses most of them; a
square crop around each wrist (wrist, index, pinky and thumb landmarks, sized by the forearm),
scaled up to :data:`CROP_PX`, finds them. Each detected hand is given to the body's nearer wrist
in the picture: the landmarker's own handedness label is never used, so left and right cannot
trade places when the model mistakes one for the other (or the actor crosses their arms).

Scheduling: each hand costs one landmarker call (~10–20 ms in Python on a slow CPU); with
``alternate`` the two hands take turns, one a frame, and the hand not looked at repeats what
was found for it a frame ago (its finger shape, which hardly changes in one frame).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

import cv2
import numpy as np
from numpy.typing import NDArray

from capture.estimator import FRAME_MS, RESTART_MS, _mediapipe
from capture.hands import SIDES, Side
from capture.landmarks import FloatArray, HandLandmarks, LandmarkFrame
from capture.landmarks import Landmark as L
from capture.sources import ImageFrame

Mode = Literal["image", "video"]
CROP_PX = 256
# Crop side as a multiple of the forearm's length in the picture (a hand is about 0.75 of it,
# and may point any way from the wrist), and of the wrist → knuckles distance.
_FOREARM_SPAN = 1.6
_KNUCKLE_SPAN = 5.0
_MIN_SIDE_PX = 48.0
# A detected hand's wrist farther than this (in crop sides) from the body's wrist is not its.
_MATCH_WITHIN = 0.5
# Body landmarks per side: wrist, index, pinky, thumb, elbow.
_SIDE_LANDMARKS = {
    "left": (L.LEFT_WRIST, L.LEFT_INDEX, L.LEFT_PINKY, L.LEFT_THUMB, L.LEFT_ELBOW),
    "right": (L.RIGHT_WRIST, L.RIGHT_INDEX, L.RIGHT_PINKY, L.RIGHT_THUMB, L.RIGHT_ELBOW),
}


@dataclass(frozen=True, slots=True)
class Crop:
    """A square region of the picture in pixels: top-left corner and side."""

    x: float
    y: float
    side: float

    def to_image(self, uv: FloatArray) -> FloatArray:
        """Crop-normalized points (..., 2) → picture pixels."""
        out: FloatArray = np.array([self.x, self.y]) + uv * self.side
        return out

    def cut(self, rgb: NDArray[np.uint8], px: int) -> NDArray[np.uint8]:
        """The region scaled to ``px``², black where it runs off the picture."""
        scale = px / self.side
        # The affine map picture → crop: shift the corner to the origin, then scale.
        m = np.array([[scale, 0.0, -self.x * scale], [0.0, scale, -self.y * scale]])
        out = cv2.warpAffine(
            rgb, m, (px, px), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT
        )
        return np.asarray(out, dtype=np.uint8)


def hand_crop(image: FloatArray, side: Side, width: int, height: int) -> Crop:
    """The square crop around ``side``'s hand from body image landmarks (33, 3) [u, v, z]."""
    wrist, index, pinky, thumb, elbow = image[list(_SIDE_LANDMARKS[side]), :2] * np.array(
        [width, height]
    )
    knuckles = (index + pinky) / 2.0
    reach = float(np.linalg.norm(knuckles - wrist))
    forearm = float(np.linalg.norm(wrist - elbow))
    side_px = max(_FOREARM_SPAN * forearm, _KNUCKLE_SPAN * reach, _MIN_SIDE_PX)
    # Centre a little past the knuckles: the fingers carry on beyond them.
    centre = (wrist + index + pinky + thumb) / 4.0 + 0.5 * (knuckles - wrist)
    return Crop(float(centre[0] - side_px / 2), float(centre[1] - side_px / 2), side_px)


@dataclass(frozen=True, slots=True)
class _Found:
    world: FloatArray  # the landmarker's world landmarks, as it built them
    label: str  # "left" or "right": the hand the landmarker took it for
    score: float
    wrist_px: FloatArray  # the hand's wrist in picture pixels
    crop: Crop

    def as_side(self, side: Side) -> HandLandmarks:
        """The hand as ``side``'s. A silhouette fits a left hand seen from one face and a right
        hand seen from the other alike: the landmarker builds its depth for the hand it
        believes it sees. Taken for the other hand, its depth is mirrored back (z about the
        hand's centre), the one shape of ``side``'s hand that fits the same picture."""
        if self.label == side:
            return HandLandmarks(self.world, self.score)
        return HandLandmarks(self.world * _MIRROR_DEPTH, self.score)


_MIRROR_DEPTH = np.array([1.0, 1.0, -1.0])


_STALE_S = 0.2  # a hand seen longer ago than this is not repeated


class HandEstimator:
    """Both hands of the person whose body ``body`` located, from crops of the picture.

    Use as a context manager: it must be closed. ``mode`` "video" lets the landmarker track a
    hand from one crop to the next (one landmarker per side); "image" detects it afresh each
    time. Frames must come in increasing time (as for :class:`capture.estimator.PoseEstimator`).
    """

    __slots__ = (
        "_landmarkers",
        "_last",
        "_last_ms",
        "_last_t",
        "_mp",
        "_offset_ms",
        "_turn",
        "alternate",
        "mode",
    )

    def __init__(
        self,
        bundle: Path,
        *,
        mode: Mode = "video",
        alternate: bool = False,
        min_detection_confidence: float = 0.3,
        min_presence_confidence: float = 0.3,
        min_tracking_confidence: float = 0.3,
    ) -> None:
        mp, BaseOptions, vision = _mediapipe()
        self._mp = mp
        self.mode: Mode = mode
        self.alternate = alternate
        running = vision.RunningMode.VIDEO if mode == "video" else vision.RunningMode.IMAGE

        def make() -> Any:
            options = vision.HandLandmarkerOptions(
                base_options=BaseOptions(model_asset_path=str(bundle)),
                running_mode=running,
                num_hands=1,
                min_hand_detection_confidence=min_detection_confidence,
                min_hand_presence_confidence=min_presence_confidence,
                min_tracking_confidence=min_tracking_confidence,
            )
            return vision.HandLandmarker.create_from_options(options)

        self._landmarkers = {"left": make(), "right": make()}
        self._last: dict[Side, HandLandmarks | None] = {"left": None, "right": None}
        self._last_t = -math.inf  # when ``_last`` was seen
        self._turn = 0
        self._last_ms = -1
        self._offset_ms = 0

    def estimate(
        self, frame: ImageFrame, body: LandmarkFrame
    ) -> tuple[HandLandmarks | None, HandLandmarks | None]:
        """(left, right): the actor's hands in ``frame``, None where not found or not looked
        at. ``body`` must carry image landmarks (``body.image``); without them, (None, None)."""
        if body.image is None:
            return None, None
        if not 0.0 <= frame.t - self._last_t <= _STALE_S:
            # The hand not looked at this frame repeats the last frame's only: not older ones.
            self._last = {"left": None, "right": None}
        self._last_t = frame.t
        height, width = frame.rgb.shape[:2]
        ms = self._timestamp(frame.t)
        sides: tuple[Side, ...] = SIDES
        if self.alternate:
            sides = (sides[self._turn],)
            self._turn ^= 1
        wrists: dict[Side, FloatArray] = {
            s: body.image[_SIDE_LANDMARKS[s][0], :2] * [width, height] for s in SIDES
        }
        found: list[_Found] = []
        for side in sides:
            crop = hand_crop(body.image, side, width, height)
            got = self._detect(side, frame.rgb, crop, ms)
            if got is not None:
                found.append(got)
        # Each hand to the body's nearer wrist; two on one wrist: the nearer one keeps it.
        result: dict[Side, HandLandmarks | None] = dict.fromkeys(sides)
        best: dict[Side, float] = {}
        for got in found:
            dist = {s: float(np.linalg.norm(got.wrist_px - w)) for s, w in wrists.items()}
            nearest = min(SIDES, key=dist.__getitem__)
            far = dist[nearest] > _MATCH_WITHIN * got.crop.side
            if far or dist[nearest] >= best.get(nearest, math.inf):
                continue
            best[nearest] = dist[nearest]
            result[nearest] = got.as_side(nearest)
        self._last.update(result)
        return self._last["left"], self._last["right"]

    def _detect(self, side: Side, rgb: NDArray[np.uint8], crop: Crop, ms: int) -> _Found | None:
        pixels = np.ascontiguousarray(crop.cut(rgb, CROP_PX))
        image = self._mp.Image(image_format=self._mp.ImageFormat.SRGB, data=pixels)
        landmarker = self._landmarkers[side]
        result = (
            landmarker.detect_for_video(image, ms)
            if self.mode == "video"
            else landmarker.detect(image)
        )
        if not result.hand_world_landmarks:
            return None
        world = np.array([[p.x, p.y, p.z] for p in result.hand_world_landmarks[0]])
        wrist = result.hand_landmarks[0][0]
        # The handedness label names the hand whose shape the landmarks were built as (not
        # which of the actor's hands it is: the body's wrists decide that). Its score is how
        # sure the model is of that shape, so of the fingers' depth.
        label = result.handedness[0][0]
        score = float(np.clip(label.score, 0.0, 1.0))
        wrist_px = crop.to_image(np.array([wrist.x, wrist.y]))
        return _Found(world, str(label.category_name).lower(), score, wrist_px, crop)

    def _timestamp(self, t: float) -> int:
        # As PoseEstimator: strictly increasing, a source starting again carries on.
        ms = round(t * 1000.0) + self._offset_ms
        if ms < self._last_ms - RESTART_MS:
            self._offset_ms += self._last_ms + FRAME_MS - ms
            ms = self._last_ms + FRAME_MS
        ms = max(ms, self._last_ms + 1)
        self._last_ms = ms
        return ms

    def close(self) -> None:
        for landmarker in self._landmarkers.values():
            landmarker.close()

    def __enter__(self) -> HandEstimator:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
