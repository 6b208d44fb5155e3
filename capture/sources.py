"""Capture sources: a video file, a webcam, an image folder, or recorded landmarks.

Each yields frames stamped with the source's own time in seconds, increasing: a file's from its
start, a camera's from its first frame (the driver's clock, or the monotonic clock where the
driver gives none). Image sources yield RGB images for the pose estimator; landmark sources
yield landmark frames that skip estimation.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from capture import fields
from capture.camera import DEFAULT_VFOV_DEG, CameraModel
from capture.errors import LandmarkShapeError, SourceError, TakeFormatError
from capture.landmarks import LANDMARK_COUNT, LandmarkFrame
from capture.take import check_time_order, read_json_lines

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"})
LANDMARK_SUFFIXES = frozenset({".jsonl", ".json", ".npy"})


@dataclass(frozen=True, slots=True)
class ImageFrame:
    """One RGB image (H, W, 3) uint8 and its time in seconds."""

    t: float
    rgb: NDArray[np.uint8]


Frame = ImageFrame | LandmarkFrame


class Source(Protocol):
    """What the pipeline reads from."""

    @property
    def name(self) -> str: ...

    @property
    def live(self) -> bool:  # a camera: no end, no total
        ...

    @property
    def total(self) -> int | None:  # frame count when known, for progress bars
        ...

    def frames(self) -> Iterator[Frame]: ...

    def close(self) -> None: ...


def _cv2() -> Any:
    import cv2  # opencv is heavy; only image sources need it

    return cv2


class VideoSource:
    """A video file decoded with OpenCV; times from the stream's timestamps."""

    live = False
    total: int | None

    def __init__(self, path: Path) -> None:
        cv2 = _cv2()
        self.name = str(path)
        if not path.is_file():
            raise SourceError(f"{path}: no such video file")
        self._cap = cv2.VideoCapture(str(path))
        if not self._cap.isOpened():
            raise SourceError(f"{path}: cannot be decoded as a video")
        self.fps = video_fps(float(self._cap.get(cv2.CAP_PROP_FPS)))
        count = int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT))
        self.total = count if count > 0 else None
        self._path = path

    @property
    def picture_size(self) -> tuple[int, int] | None:
        """(width, height) in pixels as the decoder reports them, or None where it does not."""
        return _picture_size(self._cap)

    def frames(self) -> Iterator[ImageFrame]:
        cv2 = _cv2()
        index = 0
        last_t = -1.0
        while True:
            ok, bgr = self._cap.read()
            if not ok:
                break
            t = video_time(float(self._cap.get(cv2.CAP_PROP_POS_MSEC)), index, self.fps, last_t)
            last_t = t
            index += 1
            yield ImageFrame(t, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
        if index == 0:
            raise SourceError(f"{self._path}: no frame could be decoded")

    def close(self) -> None:
        self._cap.release()


# Faster than high-speed cameras film: a container's time base (90 kHz) mistaken for a rate.
_MAX_VIDEO_FPS = 1000.0


def video_fps(reported: float) -> float:
    """A container's frame rate, or 30 where it reports none or nonsense (0, NaN, 90 000)."""
    return reported if fields.MIN_FPS <= reported <= _MAX_VIDEO_FPS else 30.0


def video_time(pos_ms: float, index: int, fps: float, last_t: float) -> float:
    """Seconds of frame ``index`` from the stream's timestamp ``pos_ms``; where that is missing,
    negative, NaN or not after ``last_t`` (containers without usable timestamps), from the frame
    rate, and never before ``last_t``."""
    t = pos_ms / 1000.0
    if not (t >= 0.0 and last_t < t <= fields.MAX_SECONDS):
        t = max(index / fps, last_t + 1.0 / fps)
    return t


class CameraClock:
    """Source times for a live camera, in seconds from its first frame.

    Drivers stamp frames on their own clock (Linux V4L2: the kernel's buffer time, seconds since
    boot), so the first frame is time 0 and each later one adds the driver's step. Where the
    driver gives no usable step (0, NaN, time going back, or a jump a second past the wall
    clock's), the step comes from ``monotonic`` instead. Times always increase, by at least 1 ms
    (the pose estimator needs strictly increasing milliseconds).
    """

    MIN_STEP = 1e-3
    # A driver step this much longer than the wall clock's is a clock jump, not a frame.
    MAX_AHEAD = 1.0

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        self._t: float | None = None
        self._wall = 0.0
        self._driver: float | None = None

    def __call__(self, driver_ms: float) -> float:
        wall = self._monotonic()
        driver = driver_ms / 1000.0 if math.isfinite(driver_ms) and driver_ms > 0 else None
        if self._t is None:
            t = 0.0
        else:
            wall_step = wall - self._wall
            step = wall_step
            if driver is not None and self._driver is not None:
                driver_step = driver - self._driver
                if 0.0 < driver_step <= max(wall_step, 0.0) + self.MAX_AHEAD:
                    step = driver_step
            t = self._t + max(step, self.MIN_STEP)
        self._t, self._wall, self._driver = t, wall, driver
        return t


class CameraSource:
    """A webcam by OpenCV device index; times from the driver's timestamps, rebased to start at
    0 (see :class:`CameraClock`).

    ``capture`` stands in for ``cv2.VideoCapture(index)`` (anything with its ``isOpened``,
    ``read``, ``get`` and ``release``): tests have no camera.
    """

    live = True
    total: int | None = None

    def __init__(
        self,
        index: int,
        *,
        capture: Any | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        cv2 = _cv2()
        self.name = f"camera {index}"
        self._cap = cv2.VideoCapture(index) if capture is None else capture
        if not self._cap.isOpened():
            self._cap.release()
            raise SourceError(f"camera {index}: not found or busy (no /dev/video{index}?)")
        self._index = index
        self._monotonic = monotonic

    @property
    def picture_size(self) -> tuple[int, int] | None:
        """(width, height) in pixels as the driver reports them, or None where it does not."""
        return _picture_size(self._cap)

    def frames(self) -> Iterator[ImageFrame]:
        cv2 = _cv2()
        clock = CameraClock(self._monotonic)
        while True:
            ok, bgr = self._cap.read()
            if not ok:
                raise SourceError(f"camera {self._index}: stopped delivering frames")
            t = clock(float(self._cap.get(cv2.CAP_PROP_POS_MSEC)))
            yield ImageFrame(t, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))

    def close(self) -> None:
        self._cap.release()


def _picture_size(cap: Any) -> tuple[int, int] | None:
    cv2 = _cv2()
    try:
        width = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH))
        height = int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
    except (TypeError, ValueError, OverflowError):
        return None
    return (width, height) if width > 0 and height > 0 else None


def source_camera(source: Source, vfov_deg: float | None = None) -> CameraModel | None:
    """The camera ``source`` was seen through, where it can say before its first frame: a
    landmarks file's header camera (or an actor's page's), or a video's or webcam's picture
    size; with ``vfov_deg`` when given, else the recorded one or
    :data:`~capture.camera.DEFAULT_VFOV_DEG`."""
    recorded = getattr(source, "camera", None)
    if isinstance(recorded, CameraModel):
        # A field of view given now corrects the one recorded (a default, often).
        return recorded if vfov_deg is None else replace(recorded, vfov_deg=vfov_deg)
    size = getattr(source, "picture_size", None)
    if size is None:
        return None
    return CameraModel(size[0], size[1], DEFAULT_VFOV_DEG if vfov_deg is None else vfov_deg)


class ImageFolderSource:
    """Images in a folder, in name order, at ``fps`` frames per second."""

    live = False
    total: int | None

    def __init__(self, folder: Path, fps: float) -> None:
        self.name = str(folder)
        self._fps = _checked_fps(fps, folder)
        self._files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not self._files:
            raise SourceError(f"{folder}: no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
        self.total = len(self._files)

    def frames(self) -> Iterator[ImageFrame]:
        cv2 = _cv2()
        for i, path in enumerate(self._files):
            bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if bgr is None:
                raise SourceError(f"{path}: cannot be decoded as an image")
            yield ImageFrame(i / self._fps, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))

    def close(self) -> None:
        pass


class LandmarksFileSource:
    """Recorded world landmarks: JSON lines (a take written with landmarks) or a .npy array."""

    live = False
    total: int | None

    def __init__(self, path: Path, fps: float | None) -> None:
        self.name = str(path)
        if not path.is_file():
            raise SourceError(f"{path}: no such landmarks file")
        # The camera the landmarks were seen through, when the header says (root motion).
        self.camera: CameraModel | None = None
        if path.suffix.lower() == ".npy":
            self._frames = _load_npy(path, fps)
        else:
            self._frames, self.camera = _load_jsonl(path)
        self.total = len(self._frames)

    def frames(self) -> Iterator[LandmarkFrame]:
        yield from self._frames

    def close(self) -> None:
        pass


_NPY_MAGIC = b"\x93NUMPY"


def _load_npy(path: Path, fps: float | None) -> list[LandmarkFrame]:
    if fps is None:
        raise SourceError(f"{path}: a .npy file has no timestamps; give --fps")
    fps = _checked_fps(fps, path)
    try:
        with path.open("rb") as f:
            magic = f.read(len(_NPY_MAGIC))
    except OSError as exc:
        raise SourceError(f"{path}: cannot open ({exc.strerror})") from None
    if magic != _NPY_MAGIC:  # np.load would open an .npz archive or try a pickle
        raise SourceError(f"{path}: not a .npy array (no NPY signature)")
    try:
        arr = np.load(path, allow_pickle=False, mmap_mode="r")
    except Exception as exc:
        # numpy parses the header with ast and tokenize, whose errors are many and untyped.
        detail = " ".join(str(exc).split())[:120]
        raise SourceError(f"{path}: not a readable .npy array ({detail})") from None
    if arr.dtype.kind not in "iuf":
        raise LandmarkShapeError(f"{path}: expected a float or integer array, got {arr.dtype}")
    if arr.ndim != 3 or arr.shape[1] != LANDMARK_COUNT or arr.shape[2] not in (3, 4):
        raise LandmarkShapeError(
            f"{path}: expected an array of shape (T, {LANDMARK_COUNT}, 3) or "
            f"(T, {LANDMARK_COUNT}, 4), got {arr.shape}"
        )
    if arr.shape[0] == 0:
        raise LandmarkShapeError(f"{path}: no landmark frames")
    frames = []
    for i in range(arr.shape[0]):
        try:
            frames.append(LandmarkFrame.from_array(i / fps, arr[i]))
        except LandmarkShapeError as exc:
            raise LandmarkShapeError(f"{path}: frame {i}: {exc}") from None
    return frames


def _load_jsonl(path: Path) -> tuple[list[LandmarkFrame], CameraModel | None]:
    """Frames of a take written with landmarks (or any JSON lines of ``t`` and
    ``worldLandmarks``), read as strictly as :func:`capture.take.read_take` reads takes, and
    the header's camera."""
    frames: list[LandmarkFrame] = []
    last_t = -math.inf
    lines = read_json_lines(path)
    for lineno, obj in lines.frames:
        where = f"{path}:{lineno}"
        if "event" in obj:
            continue  # a note or marker written during the take
        t = fields.seconds(obj, where)
        last_t = check_time_order(t, last_t, where)
        if obj.get("worldLandmarks") is None:
            if obj.get("pose", True) is None:
                continue  # a frame where no person was seen
            raise TakeFormatError(
                f"{where}: no 'worldLandmarks' (write takes with --landmarks to re-use them)"
            )
        frames.append(LandmarkFrame.from_json(t, obj, where))
    if not frames:
        raise TakeFormatError(f"{path}: no landmark frames")
    # After the frames: a take without landmarks (whose header may name a camera preset) is
    # refused for what it lacks.
    camera = None
    if lines.header is not None and "camera" in lines.header:
        camera = CameraModel.from_json(lines.header["camera"], f"{path}:1")
    return frames, camera


def _checked_fps(fps: float, what: object) -> float:
    if not fields.MIN_FPS <= fps <= fields.MAX_FPS:  # NaN is refused too
        raise SourceError(
            f"{what}: frame rate must be in [{fields.MIN_FPS:g}, {fields.MAX_FPS:g}], got {fps}"
        )
    return float(fps)


def open_source(spec: str, fps: float | None = None) -> Source:
    """The source ``spec`` names: a camera index, a folder, a landmarks file or a video file."""
    if spec.isdigit():
        return CameraSource(int(spec))
    path = Path(spec)
    if path.is_dir():
        return ImageFolderSource(path, fps or 30.0)
    if path.suffix.lower() in LANDMARK_SUFFIXES:
        return LandmarksFileSource(path, fps)
    return VideoSource(path)
