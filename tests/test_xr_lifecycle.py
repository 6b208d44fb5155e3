"""The session lifecycle's rules, without a runtime."""

from __future__ import annotations

import pytest

from immersion.xr.lifecycle import Lifecycle, State, Step

pytestmark = pytest.mark.pure


def test_a_normal_session_begins_on_ready_ends_on_stopping_and_leaves_on_exiting() -> None:
    life = Lifecycle()
    assert life.on_state(State.IDLE) is Step.NONE and not life.running
    assert life.on_state(State.READY) is Step.BEGIN and life.running and not life.visible
    assert life.on_state(State.SYNCHRONIZED) is Step.NONE and not life.visible
    assert life.on_state(State.VISIBLE) is Step.NONE and life.visible and not life.focused
    assert life.on_state(State.FOCUSED) is Step.NONE and life.focused
    assert life.on_state(State.VISIBLE) is Step.NONE and not life.focused  # a system menu
    assert life.on_state(State.STOPPING) is Step.END and not life.running and not life.visible
    assert life.on_state(State.IDLE) is Step.NONE
    assert life.on_state(State.EXITING) is Step.LEAVE and life.ended
    assert life.reached == set(State) - {State.UNKNOWN, State.LOSS_PENDING}


def test_a_lost_headset_is_left_at_once_even_mid_session() -> None:
    life = Lifecycle()
    for state in (State.IDLE, State.READY, State.SYNCHRONIZED, State.VISIBLE, State.FOCUSED):
        life.on_state(state)
    assert life.on_state(State.LOSS_PENDING) is Step.LEAVE
    assert life.ended and not life.running and not life.visible


def test_a_session_restarted_by_the_runtime_begins_again() -> None:
    life = Lifecycle()
    for state in (State.IDLE, State.READY, State.SYNCHRONIZED, State.STOPPING, State.IDLE):
        life.on_state(state)
    assert life.on_state(State.READY) is Step.BEGIN and life.running
    assert life.on_state(int(State.STOPPING)) is Step.END  # raw XrSessionState numbers work
