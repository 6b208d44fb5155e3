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
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from capture.crops import HAND_LANDMARKS, Box, crop, hand_box
from capture.estimator import Closing, VideoClock, _mediapipe
from capture.landmarks import SIDES, FloatArray, HandLandmarks, LandmarkFrame, Side
from capture.sources import ImageFrame

Mode = Literal["image", "video"]
CROP_PX = 256
# A detected hand's wrist farther than this (in crop sides) from the body's wrist is not its.
_MATCH_WITHIN = 0.5


@dataclass(frozen=True, slots=True)
class _Found:
    world: FloatArray  # the landmarker's world landmarks, as it built them
    label: str  # "left" or "right": the hand the landmarker took it for
    score: float
    wrist_px: FloatArray  # the hand's wrist in picture pixels
    crop: Box

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


class HandEstimator(Closing):
    """Both hands of the person whose body ``body`` located, from crops of the picture.

    Use as a context manager: it must be closed. ``mode`` "video" lets the landmarker track a
    hand from one crop to the next (one landmarker per side); "image" detects it afresh each
    time. Frames must come in increasing time (as for :class:`capture.estimator.PoseEstimator`).
    """

    __slots__ = (
        "_clock",
        "_landmarkers",
        "_last",
        "_last_t",
        "_mp",
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
        self._clock = VideoClock()

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
        ms = self._clock(frame.t)
        sides: tuple[Side, ...] = SIDES
        if self.alternate:
            sides = (sides[self._turn],)
            self._turn ^= 1
        wrists: dict[Side, FloatArray] = {
            s: body.image[HAND_LANDMARKS[s][0], :2] * [width, height] for s in SIDES
        }
        found: list[_Found] = []
        for side in sides:
            box = hand_box(body.image, side, width, height)
            got = self._detect(side, frame.rgb, box, ms)
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

    def _detect(self, side: Side, rgb: NDArray[np.uint8], box: Box, ms: int) -> _Found | None:
        pixels = crop(rgb, box, CROP_PX)
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
        wrist_px = box.to_pixels(np.array([wrist.x, wrist.y]))
        return _Found(world, str(label.category_name).lower(), score, wrist_px, box)

    def close(self) -> None:
        for landmarker in self._landmarkers.values():
            landmarker.close()
