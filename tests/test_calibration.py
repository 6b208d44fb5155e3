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
