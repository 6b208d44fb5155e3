"""Capture sources without a camera or a model: times, frame rates, refusals."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from capture.errors import LandmarkShapeError, SourceError, TakeFormatError
from capture.sources import (
    CameraClock,
    CameraSource,
    ImageFolderSource,
    LandmarksFileSource,
    video_fps,
    video_time,
)
from capture.synthetic import frame_from_avatar_points, tpose_avatar_points

pytestmark = pytest.mark.pure

# V4L2 stamps buffers with the kernel's clock: milliseconds since boot (here three days).
UPTIME_MS = 3 * 86_400_000.0


class FakeCamera:
    """Stands in for ``cv2.VideoCapture(0)`` through CameraSource's ``capture`` seam: no camera
    exists where the tests run. It reports ``CAP_PROP_POS_MSEC`` as a driver does."""

    def __init__(self, stamps_ms: list[float], opened: bool = True) -> None:
        self.stamps_ms = stamps_ms
        self.opened = opened
        self.read_count = 0
        self.released = False

    def isOpened(self) -> bool:
        return self.opened

    def read(self) -> tuple[bool, np.ndarray | None]:
        if self.read_count >= len(self.stamps_ms):
            return False, None
        self.read_count += 1
        return True, np.zeros((4, 6, 3), np.uint8)

    def get(self, prop: int) -> float:
        assert prop == cv2.CAP_PROP_POS_MSEC
        return self.stamps_ms[self.read_count - 1]

    def release(self) -> None:
        self.released = True


class FakeMonotonic:
    """A monotonic clock that advances a fixed step per reading."""

    def __init__(self, start: float = 5000.0, step: float = 0.040) -> None:
        self.now, self.step = start, step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


def _times(stamps_ms: list[float], monotonic: FakeMonotonic | None = None) -> list[float]:
    camera = FakeCamera(stamps_ms)
    source = CameraSource(0, capture=camera, monotonic=monotonic or FakeMonotonic())
    assert source.live and source.total is None
    return [f.t for f in itertools.islice(source.frames(), len(stamps_ms))]


def test_camera_times_start_at_zero_and_follow_the_driver() -> None:
    stamps = [UPTIME_MS + k * 1000.0 / 30.0 for k in range(10)]
    times = _times(stamps)
    assert times[0] == 0.0  # not three days: a consumer pacing by source time would sleep them
    np.testing.assert_allclose(np.diff(times), 1 / 30, atol=1e-9)  # the driver's own steps


def test_camera_without_driver_times_uses_the_monotonic_clock() -> None:
    times = _times([0.0] * 5, FakeMonotonic(step=0.040))
    np.testing.assert_allclose(times, [0.0, 0.04, 0.08, 0.12, 0.16], atol=1e-9)


@pytest.mark.parametrize(
    "bad",
    [0.0, float("nan"), float("-inf"), -5.0, UPTIME_MS - 60_000.0, UPTIME_MS + 3_600_000.0],
    ids=["zero", "nan", "-inf", "negative", "backwards", "jump-ahead"],
)
def test_a_bad_driver_stamp_takes_the_monotonic_step_and_times_keep_increasing(
    bad: float,
) -> None:
    stamps = [UPTIME_MS, UPTIME_MS + 33.0, bad, UPTIME_MS + 99.0, UPTIME_MS + 132.0]
    times = _times(stamps, FakeMonotonic(step=0.050))
    assert times[0] == 0.0 and all(b > a for a, b in itertools.pairwise(times))
    assert times[2] - times[1] == pytest.approx(0.050)  # the wall clock's step, not the driver's
    assert times[-1] < 1.0


def test_camera_clock_never_stands_still() -> None:
    clock = CameraClock(lambda: 100.0)  # a frozen wall clock and a repeating driver stamp
    times = [clock(UPTIME_MS) for _ in range(4)]
    assert all(b - a >= CameraClock.MIN_STEP for a, b in itertools.pairwise(times))


def test_a_camera_that_does_not_open_is_refused_and_released() -> None:
    camera = FakeCamera([], opened=False)
    with pytest.raises(SourceError, match=r"^camera 3: not found or busy"):
        CameraSource(3, capture=camera)
    assert camera.released


def test_a_camera_that_stops_is_an_error_not_an_end() -> None:
    source = CameraSource(0, capture=FakeCamera([UPTIME_MS, UPTIME_MS + 33.0]))
    frames = source.frames()
    next(frames), next(frames)
    with pytest.raises(SourceError, match="stopped delivering frames"):
        next(frames)


# --- Landmarks files: refused with one line naming file:line and the field ---------------


def _landmark_rows(visibility: float = 1.0) -> list[list[float]]:
    frame = frame_from_avatar_points(0.0, tpose_avatar_points(), visibility)
    return frame.as_rows()


def _write_landmarks(path: Path, frames: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(f) + "\n" for f in frames))
    return path


def _frames(n: int = 3) -> list[dict[str, object]]:
    return [{"t": k / 30, "worldLandmarks": _landmark_rows()} for k in range(n)]


def _rows_with(row: int, col: int, value: object) -> list[list[object]]:
    rows: list[list[object]] = [list(r) for r in _landmark_rows()]
    rows[row][col] = value
    return rows


NAN, INF = float("nan"), float("inf")
BAD_LANDMARKS: dict[str, tuple[str, object]] = {
    "NaN value": ("worldLandmarks", _rows_with(11, 0, NAN)),
    "infinite value": ("worldLandmarks", _rows_with(11, 1, INF)),
    "absurd value": ("worldLandmarks", _rows_with(11, 2, 1e200)),
    "huge integer": ("worldLandmarks", _rows_with(11, 2, 10**400)),
    "string value": ("worldLandmarks", _rows_with(11, 0, "0.1")),
    "true value": ("worldLandmarks", _rows_with(11, 0, True)),
    "visibility above 1": ("worldLandmarks", _rows_with(15, 3, 1.5)),
    "visibility negative": ("worldLandmarks", _rows_with(15, 3, -0.01)),
    "visibility NaN": ("worldLandmarks", _rows_with(15, 3, NAN)),
    "rows of 5": ("worldLandmarks", [[*r, 0.0] for r in _landmark_rows()]),
    "rows of 2": ("worldLandmarks", [r[:2] for r in _landmark_rows()]),
    "ragged rows": ("worldLandmarks", [r[: 3 + k % 2] for k, r in enumerate(_landmark_rows())]),
    "32 rows": ("worldLandmarks", _landmark_rows()[:32]),
    "no rows": ("worldLandmarks", []),
    "an object": ("worldLandmarks", {"0": [0.0, 0.0, 0.0]}),
    "flat list": ("worldLandmarks", [v for r in _landmark_rows() for v in r]),
    "t NaN": ("t", NAN),
    "t string": ("t", "0.1"),
    "t null": ("t", None),
    "t absurdly negative": ("t", -1e7),
    "t absurd": ("t", 1e15),
    "t goes back": ("t", 0.0001),
}


@pytest.mark.parametrize("case", list(BAD_LANDMARKS), ids=list(BAD_LANDMARKS))
def test_a_malformed_landmarks_file_is_refused_naming_line_and_field(
    tmp_path: Path, case: str
) -> None:
    field, value = BAD_LANDMARKS[case]
    frames = _frames()
    frames[2][field] = value
    path = _write_landmarks(tmp_path / "lm.jsonl", frames)
    with pytest.raises(TakeFormatError) as caught:
        LandmarksFileSource(path, None)
    message = str(caught.value)
    assert "\n" not in message and message.startswith(f"{path}:3: {field!r}"), message


def test_a_landmarks_frame_without_t_is_refused(tmp_path: Path) -> None:
    frames = _frames()
    del frames[1]["t"]
    path = _write_landmarks(tmp_path / "lm.jsonl", frames)
    with pytest.raises(TakeFormatError, match=r"lm.jsonl:2: frame has no 't'"):
        LandmarksFileSource(path, None)


def test_valid_landmarks_files_still_read(tmp_path: Path) -> None:
    frames = _frames()
    frames.insert(1, {"t": 0.02, "pose": None})
    frames.insert(2, {"t": 0.01, "event": "note", "text": "a note out of order is fine"})
    frames[0]["worldLandmarks"] = [r[:3] for r in _landmark_rows()]  # no visibility column
    source = LandmarksFileSource(_write_landmarks(tmp_path / "lm.jsonl", frames), None)
    assert [f.t for f in source.frames()] == [0.0, 1 / 30, 2 / 30]


def _npy(path: Path, arr: np.ndarray) -> Path:
    np.save(path, arr)
    return path


def _tpose_array(frames: int = 4) -> np.ndarray:
    return np.repeat(np.array(_landmark_rows())[None], frames, axis=0)


def test_npy_landmarks_with_bad_values_are_refused_naming_the_frame(tmp_path: Path) -> None:
    for value, what in [(np.nan, "NaN"), (np.inf, "NaN or infinite"), (1e6, "within 100 m")]:
        arr = _tpose_array()
        arr[2, 5, 0] = value
        with pytest.raises(LandmarkShapeError, match=rf"lm.npy: frame 2: .*{what}"):
            LandmarksFileSource(_npy(tmp_path / "lm.npy", arr), 30.0)
    arr = _tpose_array()
    arr[1, 5, 3] = 1.01
    with pytest.raises(LandmarkShapeError, match=r"frame 1: landmark visibility must be in"):
        LandmarksFileSource(_npy(tmp_path / "lm.npy", arr), 30.0)


@pytest.mark.parametrize(
    "arr",
    [
        np.zeros((0, 33, 4)),
        _tpose_array().astype(np.complex128),
        _tpose_array().astype(str),
        _tpose_array().astype(bool),
    ],
    ids=["no frames", "complex", "strings", "booleans"],
)
def test_npy_landmarks_of_no_frames_or_not_numbers_are_refused(
    tmp_path: Path, arr: np.ndarray
) -> None:
    with pytest.raises(LandmarkShapeError, match=r"^\S*lm.npy: "):
        LandmarksFileSource(_npy(tmp_path / "lm.npy", arr), 30.0)


def test_an_npz_archive_or_a_pickle_is_not_a_landmarks_array(tmp_path: Path) -> None:
    np.savez(tmp_path / "a.npz", _tpose_array())
    (tmp_path / "a.npz").rename(tmp_path / "lm.npy")
    with pytest.raises(SourceError, match=r"lm.npy: not a .npy array \(no NPY signature\)"):
        LandmarksFileSource(tmp_path / "lm.npy", 30.0)
    np.save(tmp_path / "obj.npy", np.array([{"x": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(SourceError, match=r"obj.npy: not a readable .npy array"):
        LandmarksFileSource(tmp_path / "obj.npy", 30.0)
    (tmp_path / "pickle.npy").write_bytes(b"\x80\x04K\x01.")  # pickle.dumps(1)
    with pytest.raises(SourceError, match=r"pickle.npy: not a .npy array"):
        LandmarksFileSource(tmp_path / "pickle.npy", 30.0)


def test_an_npy_header_numpy_cannot_parse_is_one_error(tmp_path: Path) -> None:
    # numpy's header parser raises tokenize's TokenError here, which is no ValueError.
    path = _npy(tmp_path / "lm.npy", _tpose_array())
    path.write_bytes(path.read_bytes().replace(b"(4, 33, 4)", b"(4, 33, (", 1))
    with pytest.raises(SourceError, match=r"lm.npy: not a readable .npy array \("):
        LandmarksFileSource(path, 30.0)


@pytest.mark.parametrize("fps", [0.0, -30.0, float("nan"), float("inf"), 1e9])
def test_a_frame_rate_that_is_not_one_is_refused(tmp_path: Path, fps: float) -> None:
    path = _npy(tmp_path / "lm.npy", _tpose_array())
    with pytest.raises(SourceError, match="frame rate must be in"):
        LandmarksFileSource(path, fps)
    with pytest.raises(SourceError, match="frame rate must be in"):
        ImageFolderSource(tmp_path, fps)


def test_an_upper_case_npy_suffix_is_still_an_array(tmp_path: Path) -> None:
    path = _npy(tmp_path / "lm.npy", _tpose_array())
    path = path.rename(tmp_path / "LM.NPY")
    assert [f.t for f in LandmarksFileSource(path, 25.0).frames()] == [0.0, 0.04, 0.08, 0.12]


# --- Video files: times and frame rates from containers that report nonsense ----------------


@pytest.mark.parametrize("reported", [0.0, float("nan"), float("inf"), -25.0, 90_000.0])
def test_a_nonsense_container_frame_rate_falls_back_to_30(reported: float) -> None:
    assert video_fps(reported) == 30.0
    assert video_fps(25.0) == 25.0


def test_video_times_fall_back_to_the_frame_rate_and_never_go_back() -> None:
    stamps = [0.0, 40.0, float("nan"), 120.0, 80.0, -40.0, 1e300, 240.0]
    times, last = [], -1.0
    for index, ms in enumerate(stamps):
        last = video_time(ms, index, 25.0, last)
        times.append(last)
    assert times[:2] == [0.0, 0.04]
    assert all(b > a for a, b in itertools.pairwise(times))
    assert all(np.isfinite(times)) and times[-1] < 1.0
