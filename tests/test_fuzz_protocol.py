"""Fuzzing what viewers send (Hypothesis): any text or bytes, any JSON of any shape and depth,
and well-formed messages with hostile field values. Each message becomes an event; nothing
raises, nothing is accepted outside its bounds, and the fan-out never holds more than its window.

Budget (CI): derandomized, a fixed number of examples per property (see ``BUDGET``).
"""

from __future__ import annotations

import json
import math
import tracemalloc
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from immersion.config import Limits
from immersion.feed.encoders import Encoded, EncodedFrame
from immersion.feed.fanout import FanOut, Send
from immersion.feed.protocol import (
    UPSTREAM,
    Ack,
    ActorPose,
    Clock,
    Codec,
    Consent,
    Cue,
    Hello,
    Leave,
    LibraryRequest,
    Marker,
    Note,
    PictureSize,
    RateTake,
    Reject,
    ReplayControl,
    SelectTake,
    Steer,
    SwitchCodec,
    TakeControl,
    ViewerProtocol,
    Voice,
)

pytestmark = pytest.mark.pure
BUDGET = settings(
    max_examples=300,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
LIMITS = Limits()
KINDS = [
    "hello", "ack", "codec", "camera", "scene", "avatar", "take", "note", "marker", "cue",
    "clock", "consent", "leave", "picture", "library", "rate", "select",
    "replay",
]  # fmt: skip
ROLES = ("director", "observer", "actor")
EVENTS = (
    Hello | Ack | SwitchCodec | Steer | TakeControl | Note | Marker | Cue | Reject
    | Clock | Consent | Leave | ActorPose | Voice | PictureSize
    | LibraryRequest | RateTake | SelectTake | ReplayControl
)  # fmt: skip

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=50),
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner, max_size=5)
    ),
    max_leaves=40,
)


def _check(event: object) -> None:
    assert isinstance(event, EVENTS)
    if isinstance(event, ActorPose):
        for arr in (event.world, event.image, event.visibility):
            assert np.all(np.isfinite(arr)) and not arr.flags.writeable
        assert np.all(np.abs(event.world) < 3.3) and np.all(
            (event.visibility >= 0) & (event.visibility <= 1)
        )
        assert math.isfinite(event.capture_t)
        for hand in (event.left_hand, event.right_hand):
            if hand is not None:
                assert hand.world.shape == (21, 3) and np.all(np.abs(hand.world) <= 1.0)
                assert 0 <= hand.score <= 1
        if event.face is not None:
            assert np.all((event.face.blendshapes >= 0) & (event.face.blendshapes <= 1))
            if event.face.rotation is not None:
                r = event.face.rotation
                assert np.allclose(r @ r.T, np.eye(3), atol=1e-6)
    if isinstance(event, PictureSize):
        assert 0 < event.width <= 8192 and 0 < event.height <= 8192
    if isinstance(event, Voice):
        assert 0 < len(event.opus) <= 1275 and math.isfinite(event.capture_t)
    if isinstance(event, Note):
        assert 0 < len(event.text) <= LIMITS.note_chars
    if isinstance(event, Steer | Marker):
        text = event.name if isinstance(event, Steer) else event.label
        assert 0 < len(text) <= LIMITS.name_chars and "\x00" not in text
    if isinstance(event, Cue):
        assert 0 < len(event.text) <= LIMITS.cue_chars
    if isinstance(event, Ack):
        assert 0 <= event.frame < 2**32


@BUDGET
@given(st.one_of(st.text(max_size=6000), st.binary(max_size=6000)))
def test_any_text_or_bytes_is_an_event(message: str | bytes) -> None:
    for role in ROLES:
        _check(ViewerProtocol(role, 0.0).receive(message, 0.0))


@BUDGET
@given(
    st.integers(min_value=0, max_value=5),
    st.integers(min_value=0, max_value=70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.binary(max_size=1400),
)
def test_any_binary_message_with_an_upstream_header_is_an_event(
    kind: int, count: int, t: float, body: bytes
) -> None:
    message = UPSTREAM.pack(b"IMU1", kind, 0, count, t) + body
    for role in ROLES:
        event = ViewerProtocol(role, 0.0).receive(message, 0.0)
        _check(event)
        if role == "observer":
            assert isinstance(event, Reject)


@BUDGET
@given(
    st.integers(min_value=0, max_value=255),
    st.sampled_from([0, 61, 127, 188, 254, 315]),
    st.integers(min_value=-2, max_value=2),
    st.binary(min_size=700, max_size=700),
)
def test_any_pose_with_any_parts_flags_is_an_event(
    flags: int, parts: int, off: int, noise: bytes
) -> None:
    # Lengths at and around each sum of parts, filled with arbitrary bytes: exactly the
    # flagged parts' length is accepted, and only with values in their bounds.
    size = max(0, 429 + parts + off)
    message = UPSTREAM.pack(b"IMU1", 1, flags, 33, 1.0) + (noise * 2)[:size]
    event = ViewerProtocol("actor", 0.0).receive(message, 0.0)
    _check(event)
    expected = 429 + 61 * (flags & 1) + 127 * ((flags >> 1 & 1) + (flags >> 2 & 1))
    if flags > 7 or size != expected:
        assert isinstance(event, Reject)


@BUDGET
@given(
    st.sampled_from(KINDS),
    st.dictionaries(
        st.sampled_from(
            [
                "codecs",
                "frame",
                "drawn",
                "codec",
                "name",
                "action",
                "text",
                "label",
                "type",
                "width",
                "height",
                "query",
                "role",
                "actor",
                "take",
                "value",
                "number",
            ]
        ),
        json_values,
        max_size=4,
    ),
)
def test_well_formed_messages_with_hostile_fields_are_events(
    kind: str, fields: dict[str, Any]
) -> None:
    message = json.dumps({**fields, "type": kind})
    for role in ROLES:
        event = ViewerProtocol(role, 0.0).receive(message, 0.0)
        _check(event)
        if role != "director" and kind in (
            "camera",
            "scene",
            "avatar",
            "take",
            "note",
            "marker",
            "cue",
            "rate",
            "select",
        ):
            assert isinstance(event, Reject)
        if role == "actor" and kind == "library":
            assert isinstance(event, Reject)


@BUDGET
@given(st.integers(min_value=1, max_value=3000))
def test_deep_nesting_is_refused_within_bounded_memory(depth: int) -> None:
    message = '{"type": "note", "text": ' + "[" * depth + "]" * depth + "}"
    tracemalloc.start()
    try:
        event = ViewerProtocol("director", 0.0).receive(message, 0.0)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert isinstance(event, Reject) and peak < 4 << 20


@BUDGET
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["join", "leave", "publish", "ack", "switch", "tick"]),
            st.integers(min_value=1, max_value=4),
            st.integers(min_value=0, max_value=60),
            st.booleans(),
        ),
        max_size=120,
    )
)
def test_the_fan_out_never_exceeds_its_window_whatever_the_viewers_do(
    steps: list[tuple[str, int, int, bool]],
) -> None:
    fan = FanOut(window=2, stall_s=5, keyframe_gap_s=0.5)
    in_flight: dict[int, set[int]] = {}
    frame, now = 0, 0.0
    for op, viewer, n, flag in steps:
        now += 0.05
        if op == "join":
            actions = fan.join(viewer, Codec.H264 if flag else Codec.JPEG, now)
            in_flight[viewer] = set()
        elif op == "leave":
            fan.leave(viewer)
            in_flight.pop(viewer, None)
        elif op == "publish":
            frame += 1
            encoded = {c: Encoded(c, flag or c is Codec.JPEG, b"x") for c in Codec}
            actions = fan.publish(EncodedFrame(frame, now, now, 16, 16, encoded), now)
        elif op == "ack":
            actions = fan.ack(viewer, n, flag, now)
            if viewer in in_flight:
                in_flight[viewer] = {f for f in in_flight[viewer] if f > n}
        elif op == "switch":
            actions = fan.switch(viewer, Codec.JPEG if flag else Codec.H264, now)
            in_flight.setdefault(viewer, set())
        else:
            now += n / 10
            actions = fan.tick(now)
            for viewer_gone in [v for v in in_flight if v not in fan]:
                del in_flight[viewer_gone]
        if op in ("join", "publish", "ack", "switch"):
            for action in actions:
                if isinstance(action, Send):
                    in_flight.setdefault(action.viewer, set()).add(frame)
        for viewer_frames in in_flight.values():
            assert len(viewer_frames) <= 2
