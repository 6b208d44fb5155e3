"""The face: MediaPipe's FaceLandmarker (Tasks API) on a crop around the head.

On a whole frame the face of a person a few metres away is too small for the landmarker's
face detector (none is found on the demo clip's frames), so it runs on a square crop around the
body pose's head landmarks (nose, eyes, ears, mouth), upscaled (:mod:`capture.crops`). The
detector wants the face to fill a modest part of its picture: a crop five times the landmarks'
span found the most faces on the demo clip (2×: none, 3×: half as many).

IMAGE mode: the crop moves with the head, so the landmarker's own tracking (VIDEO mode), which
assumes a still picture, has nothing to add; its detector costs about 2 ms on a crop.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from capture.crops import crop, square_box
from capture.estimator import Closing, _mediapipe
from capture.face import ARKIT_COUNT, ARKIT_INDEX
from capture.landmarks import FaceLandmarks, Landmark, LandmarkFrame
from capture.sources import ImageFrame

# The body landmarks that locate the head: nose, eyes, ears, mouth.
HEAD_LANDMARKS = tuple(range(Landmark.NOSE, Landmark.MOUTH_RIGHT + 1))
CROP_SCALE = 5.0  # the crop's side over the head landmarks' span
CROP_SIZE = 256  # pixels: the crop is upscaled to this (the detector takes 128, the mesh 192)
MIN_CROP_PX = 48.0  # a head seen edge-on has a narrow span; the crop is never smaller


class FaceEstimator(Closing):
    """Blendshapes and head rotation of one face, found on a crop around the body's head.
    Use as a context manager: it must be closed."""

    def __init__(self, bundle: Path, *, min_confidence: float = 0.5) -> None:
        mp, BaseOptions, vision = _mediapipe()
        self._mp = mp
        options = vision.FaceLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(bundle)),
            running_mode=vision.RunningMode.IMAGE,
            num_faces=1,
            min_face_detection_confidence=min_confidence,
            min_face_presence_confidence=min_confidence,
            output_face_blendshapes=True,
            output_facial_transformation_matrixes=True,
        )
        self._landmarker = vision.FaceLandmarker.create_from_options(options)

    def estimate(self, frame: ImageFrame, body: LandmarkFrame) -> FaceLandmarks | None:
        """The face of the person whose body landmarks ``body`` are (its image landmarks locate
        the head), or None: no image landmarks, or no face found (turned away, too small)."""
        if body.image is None:
            return None
        height, width = frame.rgb.shape[:2]
        box = square_box(
            body.image[list(HEAD_LANDMARKS), :2],
            width,
            height,
            scale=CROP_SCALE,
            min_side=MIN_CROP_PX,
        )
        if box is None:
            return None
        picture = crop(frame.rgb, box, CROP_SIZE)
        image = self._mp.Image(image_format=self._mp.ImageFormat.SRGB, data=picture)
        return face_from_result(self._landmarker.detect(image))

    def close(self) -> None:
        self._landmarker.close()


def face_from_result(result: Any) -> FaceLandmarks | None:
    """The first face of a FaceLandmarkerResult: blendshapes by name into ARKit order
    (``_neutral`` dropped), the rotation of its facial transformation matrix. The landmarker
    returns only faces it is sure of past its presence threshold and gives no score with them:
    a face found scores 1 (the tracker fades the score when the face is lost)."""
    if not result.face_blendshapes:
        return None
    weights = np.zeros(ARKIT_COUNT)
    for category in result.face_blendshapes[0]:
        index = ARKIT_INDEX.get(category.category_name)
        if index is not None:
            weights[index] = category.score
    rotation = None
    if result.facial_transformation_matrixes:
        matrix = np.asarray(result.facial_transformation_matrixes[0], dtype=np.float64)
        if matrix.shape == (4, 4) and np.all(np.isfinite(matrix)):
            rotation = nearest_rotation(matrix[:3, :3])
    return FaceLandmarks(np.clip(weights, 0.0, 1.0), rotation, 1.0)


def nearest_rotation(m: NDArray[np.float64]) -> NDArray[np.float64]:
    """The rotation nearest ``m`` (3, 3): the facial transformation matrix carries the face's
    scale, and float rounding leaves its 3×3 part a little off orthonormal."""
    u, _, vt = np.linalg.svd(np.asarray(m, dtype=np.float64))
    if np.linalg.det(u @ vt) < 0.0:
        u[:, -1] = -u[:, -1]
    out: NDArray[np.float64] = u @ vt
    return out
