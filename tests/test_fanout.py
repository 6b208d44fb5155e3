"""The feed's fan-out without sockets or clocks: events and times in, actions out."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from immersion.feed.encoders import Encoded, EncodedFrame
from immersion.feed.fanout import Drop, FanOut, NeedKeyframe, Send
from immersion.feed.protocol import Codec, decode_video

pytestmark = pytest.mark.pure


def frame(
    n: int, key: bool = False, codecs: tuple[Codec, ...] = (Codec.H264, Codec.JPEG)
) -> EncodedFrame:
    encoded = {c: Encoded(c, key or c is Codec.JPEG, f"{c.label}-{n}".encode()) for c in codecs}
    return EncodedFrame(n, n / 30 - 0.05, n / 30, 320, 180, encoded)


def sent(actions: Sequence[object]) -> list[tuple[int, int, int]]:
    """(viewer, frame, skipped) for each Send."""
    out = []
    for a in actions:
        if isinstance(a, Send):
            header, _ = decode_video(a.data)
            out.append((a.viewer, header.frame, header.skipped))
    return out


def test_a_joining_h264_viewer_asks_for_a_keyframe_and_waits_for_it() -> None:
    fan = FanOut(window=2, stall_s=5, keyframe_gap_s=0.5)
    assert fan.join(1, Codec.H264, 0.0) == [NeedKeyframe()]
    assert fan.codecs() == {Codec.H264}
    assert sent(fan.publish(frame(1), 0.03)) == []  # a delta: useless without its keyframe
    actions = fan.publish(frame(2, key=True), 0.06)
    assert sent(actions) == [(1, 2, 1)]  # the keyframe, telling it one was skipped


def test_the_window_bounds_frames_in_flight_and_the_newest_waiting_frame_wins() -> None:
    fan = FanOut(window=2, stall_s=5, keyframe_gap_s=0.5)
    fan.join(7, Codec.JPEG, 0.0)
    assert sent(fan.publish(frame(1), 0.1)) == [(7, 1, 0)]
    assert sent(fan.publish(frame(2), 0.2)) == [(7, 2, 0)]
    # Window full: 3 waits, 4 replaces it, 5 replaces 4.
    for n in (3, 4, 5):
        assert sent(fan.publish(frame(n), 0.1 * n)) == []
    # One ack (cumulative, for frame 1) opens one slot: the newest goes, saying 2 were skipped.
    assert sent(fan.ack(7, 1, True, 0.6)) == [(7, 5, 2)]
    assert sent(fan.ack(7, 1, True, 0.65)) == []  # nothing waiting any more
    assert sent(fan.publish(frame(6), 0.7)) == []  # 2 and 5 still in flight
    assert sent(fan.ack(7, 5, True, 0.75)) == [(7, 6, 0)]  # 5 settles 2 as well


def test_glass_time_is_measured_from_drawn_acks_only() -> None:
    fan = FanOut()
    fan.join(1, Codec.JPEG, 0.0)
    fan.publish(frame(30), 1.0)  # render_t = 1.0
    fan.ack(1, 30, False, 1.5)  # received but not drawn: no glass figure
    assert list(fan.glass_ms) == []
    fan.publish(frame(60), 2.0)
    fan.ack(1, 60, True, 2.25)
    assert list(fan.glass_ms) == [pytest.approx(250.0)]


def test_an_h264_viewer_that_skips_needs_a_keyframe_and_requests_are_rate_limited() -> None:
    fan = FanOut(window=1, stall_s=5, keyframe_gap_s=0.5)
    fan.join(1, Codec.H264, 0.0)
    fan.join(2, Codec.H264, 0.1)  # within the gap: no second request
    assert sent(fan.publish(frame(1, key=True), 0.2)) == [(1, 1, 0), (2, 1, 0)]
    fan.publish(frame(2), 0.3)  # both windows full: 2 waits
    actions = fan.publish(frame(3), 0.6)  # 3 replaces 2: a gap in the stream
    assert actions.count(NeedKeyframe()) == 1  # one request for both, and only after the gap
    fan.ack(1, 1, True, 0.65)
    assert sent(fan.ack(2, 1, True, 0.66)) == []  # 3 is a delta after a gap: not sent
    assert sent(fan.publish(frame(4, key=True), 0.7)) == [(1, 4, 2), (2, 4, 2)]


def test_a_viewer_that_stops_acknowledging_is_dropped_and_others_are_not() -> None:
    fan = FanOut(window=2, stall_s=5, keyframe_gap_s=0.5)
    fan.join(1, Codec.JPEG, 0.0)
    fan.join(2, Codec.JPEG, 0.0)
    idle_before_frames = fan.tick(100.0)
    assert idle_before_frames == []  # nothing in flight: waiting is not stalling
    for n in range(1, 200):
        t = 100 + n / 30
        fan.publish(frame(n), t)
        fan.ack(2, n, True, t)  # viewer 2 keeps up; viewer 1 never answers
    actions = fan.tick(100 + 199 / 30)
    assert actions == [Drop(1, "stalled: no frame acknowledged for 5 s")]
    assert 1 not in fan and 2 in fan and len(fan) == 1


def test_switching_codec_resets_the_viewer_and_leaving_forgets_it() -> None:
    fan = FanOut()
    fan.join(1, Codec.JPEG, 0.0)
    fan.publish(frame(1), 0.1)
    assert fan.switch(1, Codec.H264, 0.2) == [NeedKeyframe()]
    assert fan.codecs() == {Codec.H264}
    fan.leave(1)
    assert fan.codecs() == frozenset() and sent(fan.publish(frame(2, key=True), 0.3)) == []
    assert fan.ack(1, 2, True, 0.4) == []  # a late ack from a gone viewer is ignored


def test_each_viewer_gets_its_own_codecs_bytes() -> None:
    fan = FanOut()
    fan.join(1, Codec.JPEG, 0.0)
    fan.join(2, Codec.H264, 0.0)
    actions = fan.publish(frame(5, key=True), 0.2)
    payloads = {a.viewer: decode_video(a.data)[1] for a in actions if isinstance(a, Send)}
    assert payloads == {1: b"jpeg-5", 2: b"h264-5"}


def test_a_keyframe_request_that_comes_too_soon_is_owed_not_forgotten() -> None:
    fan = FanOut(window=2, stall_s=5, keyframe_gap_s=0.5)
    assert fan.join(1, Codec.H264, 0.0) == [NeedKeyframe()]
    fan.publish(frame(1, key=True), 0.03)  # viewer 1 is served, and keeps up
    fan.ack(1, 1, True, 0.04)
    assert fan.join(2, Codec.H264, 0.05) == []  # too soon after the last request: owed
    assert NeedKeyframe() not in fan.publish(frame(2), 0.3)
    fan.ack(1, 2, True, 0.31)
    assert fan.publish(frame(3), 0.56)[0] == NeedKeyframe()  # the gap has passed: asked now
    fan.ack(1, 3, True, 0.57)
    assert (2, 4, 2) in sent(fan.publish(frame(4, key=True), 0.6))  # its first frame
    fan.ack(1, 4, True, 0.61)
    fan.ack(2, 4, True, 0.61)
    assert NeedKeyframe() not in fan.publish(frame(5), 1.2)  # nobody waits any more
