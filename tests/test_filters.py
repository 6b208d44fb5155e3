"""One Euro filter: jitter at rest drops, fast moves keep up, time is explicit."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from capture.filters import LandmarkSmoother, OneEuroFilter
from capture.landmarks import LandmarkFrame
from capture.pipeline import CaptureSettings, pose_stream
from capture.retarget import retarget
from capture.synthetic import frame_from_avatar_points, tpose_avatar_points

pytestmark = pytest.mark.pure

FPS = 30.0


def test_jitter_at_rest_drops_by_more_than_half() -> None:
    rng = np.random.default_rng(0)
    f = OneEuroFilter()
    noisy = rng.normal(0, 0.005, size=(300, 33, 3))  # 5 mm jitter around a still pose
    out = np.array([f(i / FPS, x) for i, x in enumerate(noisy)])
    assert out[30:].std() < 0.5 * noisy[30:].std()


def test_fast_move_keeps_up() -> None:
    # A hand sweeping at 3 m/s: after a few frames the filter trails by under 3 cm.
    f = OneEuroFilter()
    t = np.arange(30) / FPS
    track = np.stack([3.0 * t, np.zeros_like(t), np.zeros_like(t)], axis=1)[:, None, :]
    out = np.array([f(ti, x) for ti, x in zip(t, track, strict=True)])
    lag = np.linalg.norm(out[10:] - track[10:], axis=-1)
    assert lag.max() < 0.03


class _Frames:
    """A recorded source of landmark frames, in memory."""

    name = "frames"
    live = False

    def __init__(self, frames: list[LandmarkFrame]) -> None:
        self._frames = frames
        self.total = len(frames)

    def frames(self) -> Iterator[LandmarkFrame]:
        yield from self._frames

    def close(self) -> None:
        pass


def _jittery(count: int = 30) -> list[LandmarkFrame]:
    rng = np.random.default_rng(1)
    return [
        frame_from_avatar_points(i / FPS, tpose_avatar_points() + rng.normal(0, 0.01, (33, 3)))
        for i in range(count)
    ]


def test_smoothing_off_is_identity_and_on_follows_a_step_eventually() -> None:
    # Off: every pose is the retargeting of the raw landmarks, untouched by any filter.
    frames = _jittery()
    off = list(pose_stream(_Frames(frames), CaptureSettings(smoothing=False)))
    previous = None
    for captured, raw in zip(off, frames, strict=True):
        expected = retarget(raw, fallback=previous)
        assert captured.pose is not None
        np.testing.assert_array_equal(captured.pose.rotations, expected.rotations)
        previous = expected
    # On (the control, so the check above can fail): the same input gives other poses.
    on = list(pose_stream(_Frames(frames), CaptureSettings(smoothing=True)))
    assert on[-1].pose is not None and off[-1].pose is not None
    assert not np.allclose(on[-1].pose.rotations, off[-1].pose.rotations, atol=1e-3)

    # On: a step is followed, eventually.
    f = OneEuroFilter()
    assert np.allclose(f(0.0, np.zeros((1, 3))), 0.0)
    for i in range(1, 60):
        y = f(i / FPS, np.ones((1, 3)))
    assert np.allclose(y, 1.0, atol=1e-3)


def test_gap_or_time_going_back_restarts() -> None:
    f = OneEuroFilter(max_gap=0.5)
    f(0.0, np.zeros((1, 3)))
    assert np.allclose(f(2.0, np.ones((1, 3))), 1.0)  # 2 s gap: no smoothing across it
    assert np.allclose(f(1.0, np.full((1, 3), 5.0)), 5.0)  # time went back


def test_filter_does_not_modify_its_input() -> None:
    f = OneEuroFilter()
    x = np.zeros((33, 3))
    f(0.0, x)
    y = np.ones((33, 3))
    f(1 / FPS, y)
    assert np.all(y == 1.0)


@pytest.mark.parametrize(
    "bad",
    [
        {"min_cutoff": 0.0},
        {"min_cutoff": float("nan")},
        {"min_cutoff": float("inf")},
        {"beta": -1.0},
        {"beta": float("nan")},
        {"d_cutoff": float("inf")},
        {"max_gap": float("nan")},
    ],
)
def test_bad_parameters_are_refused(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        OneEuroFilter(**bad)


def test_landmark_smoother_keeps_time_and_visibility() -> None:
    s = LandmarkSmoother()
    frame = frame_from_avatar_points(1.5, tpose_avatar_points(), visibility=0.7)
    out = s(frame)
    assert out.t == 1.5 and np.all(out.visibility == 0.7)
    assert not out.xyz.flags.writeable
