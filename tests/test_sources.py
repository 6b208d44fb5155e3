"""Capture sources without a camera or a model: times, frame rates, refusals."""

from __future__ import annotations

import itertools

import cv2
import numpy as np
import pytest

from capture.errors import SourceError
from capture.sources import CameraClock, CameraSource

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
