"""Pose estimation with MediaPipe's PoseLandmarker (Tasks API), in VIDEO mode.

VIDEO mode tracks the person between frames (IMAGE mode re-detects every frame and misses
small people). mediapipe is imported on first use: it is heavy, and a landmarks-file capture
never needs it.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import numpy as np

from capture.errors import ModelMissingError
from capture.landmarks import MAX_IMAGE_EXTENT, LandmarkFrame
from capture.sources import ImageFrame


def _mediapipe() -> Any:
    # Keep MediaPipe's and TFLite's C++ start-up logging off the user's terminal.
    os.environ.setdefault("GLOG_minloglevel", "2")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        import mediapipe
        from mediapipe.tasks.python import BaseOptions, vision
    except ImportError as exc:
        raise ModelMissingError(f"mediapipe is not installed ({exc}); run `./dev setup`") from None
    return mediapipe, BaseOptions, vision


class Closing:
    """A landmarker's owner: use it as a context manager, which closes it on the way out."""

    __slots__ = ()

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


RESTART_MS = 1000  # time going back further than this is a source starting again
FRAME_MS = 33


class VideoClock:
    """A landmarker's VIDEO-mode timestamps (ms) from a source's times (s): strictly increasing,
    equal or earlier times nudged 1 ms on; a source starting again (its time back by more than
    a second: a looped clip) carries on one frame period after the last frame, so tracking sees
    a steady clock rather than 1 ms steps."""

    __slots__ = ("_last_ms", "_offset_ms")

    def __init__(self) -> None:
        self._last_ms = -1
        self._offset_ms = 0

    def __call__(self, t: float) -> int:
        ms = round(t * 1000.0) + self._offset_ms
        if ms < self._last_ms - RESTART_MS:  # the source started again
            self._offset_ms += self._last_ms + FRAME_MS - ms
            ms = self._last_ms + FRAME_MS
        ms = max(ms, self._last_ms + 1)
        self._last_ms = ms
        return ms


class PoseEstimator(Closing):
    """World landmarks of one person per image, with their image landmarks. Use as a context manager: it must be closed.

    Frames must come in increasing time; equal or earlier times are nudged 1 ms forward, as
    the landmarker requires strictly increasing timestamps. A source that starts again (its
    time back by more than a second: a looped clip) carries on one frame period after the last
    frame, so the landmarker's tracking sees a steady clock rather than 1 ms steps.
    """

    def __init__(
        self,
        bundle: Path,
        *,
        min_detection_confidence: float = 0.5,
        min_tracking_confidence: float = 0.5,
    ) -> None:
        mp, BaseOptions, vision = _mediapipe()
        self._mp = mp
        options = vision.PoseLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(bundle)),
            running_mode=vision.RunningMode.VIDEO,
            num_poses=1,
            min_pose_detection_confidence=min_detection_confidence,
            min_tracking_confidence=min_tracking_confidence,
        )
        self._landmarker = vision.PoseLandmarker.create_from_options(options)
        self._clock = VideoClock()

    def estimate(self, frame: ImageFrame) -> LandmarkFrame | None:
        """Landmarks of the person in ``frame``, or None when nobody is found."""
        ms = self._clock(frame.t)
        image = self._mp.Image(image_format=self._mp.ImageFormat.SRGB, data=frame.rgb)
        result = self._landmarker.detect_for_video(image, ms)
        if not result.pose_world_landmarks:
            return None
        rows = np.array(
            [[p.x, p.y, p.z, p.visibility or 0.0] for p in result.pose_world_landmarks[0]]
        )
        rows[:, 3] = np.clip(rows[:, 3], 0.0, 1.0)  # a probability; float rounding aside
        landmarks = LandmarkFrame.from_array(frame.t, rows)
        if not result.pose_landmarks:
            return landmarks
        # Where the landmarks are in the picture (root motion places the person by them).
        image = np.array([[p.x, p.y, p.z] for p in result.pose_landmarks[0]])
        if not np.all(np.isfinite(image)) or np.abs(image).max() > MAX_IMAGE_EXTENT:
            return landmarks
        return replace(landmarks, image=image)

    def close(self) -> None:
        self._landmarker.close()
