"""Talkback in the headset: a director's Opus packets decoded and played, in order.

This machine has no sound output, so the player's sink here records what it is given (a stand-in
for the sound device, which cannot exist here); the real sink is PortAudio's default output.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from numpy.typing import NDArray

from immersion.headset.talkback import QUEUE_PACKETS, TalkbackPlayer
from tests.voice_helpers import tone_packets

pytestmark = pytest.mark.pure


def _until(check: object, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_talkback_is_decoded_in_order_and_a_bad_packet_is_skipped() -> None:
    played: list[NDArray[np.int16]] = []
    closed = threading.Event()
    player = TalkbackPlayer(played.append, closed.set)
    packets = tone_packets(0.4, amplitude=0.25)
    for k, packet in enumerate(packets):
        player.put(packet)
        if k == 5:
            player.put(b"\xff")  # not Opus: skipped
        time.sleep(0.002)
    _until(lambda: sum(len(b) for b in played) >= 0.38 * 48000)
    player.close()
    assert closed.is_set()
    pcm = np.concatenate(played).astype(np.float64) / 32768
    steady = pcm[4800:-4800]  # past the decoder's start-up
    rms = float(np.sqrt(np.mean(steady**2)))
    assert rms == pytest.approx(0.25 / np.sqrt(2), rel=0.15)  # the tone, at its level


def test_talkback_that_falls_behind_is_dropped_not_queued() -> None:
    release = threading.Event()
    played: list[NDArray[np.int16]] = []

    def slow(block: NDArray[np.int16]) -> None:
        release.wait(5)  # a sound device that has stopped taking samples
        played.append(block)

    player = TalkbackPlayer(slow)
    packets = tone_packets(2.0)
    for packet in packets:
        player.put(packet)
    assert player.dropped >= len(packets) - QUEUE_PACKETS - 2
    release.set()
    player.close()
