"""The neutral window: the median over one second, the same second whether times are exact or
rounded as take files store them."""

from __future__ import annotations

import numpy as np
import pytest

from capture.calibration import CALIBRATION_S, NeutralWindow

pytestmark = pytest.mark.pure


@pytest.mark.parametrize("rounding", [None, 6])
def test_the_window_closes_on_the_same_frame_with_stored_times(rounding: int | None) -> None:
    window = NeutralWindow()
    closed_at = None
    for k in range(60):
        t = 4 / 30 + k / 30
        t = round(t, rounding) if rounding is not None else t
        if window.add(t, np.array([float(k)])):
            closed_at = k
            break
    assert closed_at == round(CALIBRATION_S * 30)
    assert window.value is not None and window.value[0] == pytest.approx(14.5)


def test_a_restart_keeps_the_old_value_until_the_new_second_is_complete() -> None:
    window = NeutralWindow(np.zeros(1))
    window.start(10.0)
    assert not window.add(9.9, np.ones(1))  # before the start: ignored
    for k in range(30):
        window.add(10.0 + k / 30, np.full(1, 2.0))
        assert window.value is not None and window.value[0] == 0.0
    assert window.add(11.0, np.full(1, 2.0))
    assert window.value is not None and window.value[0] == 2.0
    assert not window.running


def test_an_actors_calibration_request_reaches_the_capture_thread_once() -> None:
    from immersion.room.actor import ActorLink

    link = ActorLink()
    link.join(7)
    assert not link.calibrate(8)  # not the actor's page
    assert not link.take_calibration()
    assert link.calibrate(7)
    assert link.take_calibration() and not link.take_calibration()


def test_a_calibration_asked_for_makes_the_next_second_the_face_at_rest() -> None:
    from dataclasses import replace

    from capture.face import ARKIT_INDEX
    from capture.landmarks import FaceLandmarks
    from capture.pipeline import CaptureSettings, Performer
    from capture.synthetic import frame_from_avatar_points, tpose_avatar_points

    performer = Performer(CaptureSettings())
    smile = np.zeros(52)
    smile[ARKIT_INDEX["mouthSmileLeft"]] = 0.6

    def at(t: float, weights: np.ndarray) -> float:
        frame = frame_from_avatar_points(t, tpose_avatar_points())
        pose = performer(replace(frame, face=FaceLandmarks(weights)), {})
        assert pose.face is not None
        return float(pose.face.weights[ARKIT_INDEX["mouthSmileLeft"]])

    for k in range(40):  # the first second, a straight face: the automatic neutral
        at(k / 30, np.zeros(52))
    assert at(40 / 30, smile) > 0.3  # a smile reads as one
    performer.calibrate(41 / 30)
    for k in range(41, 75):  # this actor rests with that smile
        at(k / 30, smile)
    assert at(75 / 30, smile) < 0.05


def test_a_new_actors_page_does_not_inherit_a_calibration_request() -> None:
    from immersion.room.actor import ActorLink

    link = ActorLink()
    link.join(1)
    assert link.calibrate(1)
    link.join(2)
    assert not link.take_calibration()


def test_a_landmarkers_video_clock_only_goes_forward_and_a_loop_carries_on() -> None:
    from capture.estimator import FRAME_MS, VideoClock

    clock = VideoClock()
    stamps = [clock(t) for t in (0.0, 0.0, 0.5, 2.0, 0.0, 0.033)]
    assert stamps[:4] == [0, 1, 500, 2000]  # an equal time nudged 1 ms on
    assert stamps[4] == 2000 + FRAME_MS and stamps[5] == 2000 + FRAME_MS + 33  # the loop goes on
