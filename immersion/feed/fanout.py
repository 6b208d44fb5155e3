"""The mirror's fan-out as a state machine: events and the time in, actions out. No I/O.

Like :mod:`immersion.feed.protocol` (and the ``websockets`` library's protocol core), this
module never touches a socket or a clock: the server feeds it ``(event, now)`` and carries out
the actions it returns, so every rule below is tested without a network.

The rules, per viewer:

* **Latest frame wins, bounded by acknowledgements.** At most ``window`` frames are in flight
  (sent, not yet acknowledged). A frame that arrives while the window is full waits in a
  one-frame mailbox; a newer frame replaces it, and the replaced one is counted as skipped and
  told to the viewer in the next video header.
* **H.264 needs its keyframe.** A viewer that joins, switches codec or skips an H.264 frame
  waits for the next keyframe and the fan-out asks for one (at most once per
  ``keyframe_gap_s`` for everyone, so a crowd of joiners cannot force an all-keyframe stream; a
  request that comes too soon is owed and goes with a later frame).
* **Stalls are dropped.** A viewer with frames in flight that acknowledges nothing for
  ``stall_s`` is dropped.
* Acknowledgements are cumulative: one for frame n settles every frame up to n, so a lost one
  cannot wedge the window.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

from immersion.feed.encoders import Encoded, EncodedFrame
from immersion.feed.protocol import Codec, VideoHeader, encode_video

# Actions --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Send:
    viewer: int
    data: bytes  # one binary video message


@dataclass(frozen=True, slots=True)
class Drop:
    viewer: int
    reason: str


@dataclass(frozen=True, slots=True)
class NeedKeyframe:
    pass


Action = Send | Drop | NeedKeyframe
_NO_KEY = Encoded(Codec.H264, False, b"")


@dataclass(slots=True)
class _Viewer:
    codec: Codec
    last_ack: float
    pending: EncodedFrame | None = None
    skipped: int = 0
    needs_key: bool = True
    in_flight: dict[int, float] = field(default_factory=dict)  # frame → render time


class FanOut:
    """Every viewer's place in the video stream. Times are the room clock's seconds."""

    __slots__ = (
        "_key_owed",
        "_last_key_request",
        "_viewers",
        "glass_ms",
        "keyframe_gap_s",
        "send_ms",
        "stall_s",
        "window",
    )

    def __init__(self, window: int = 2, stall_s: float = 5.0, keyframe_gap_s: float = 0.5) -> None:
        self.window = window
        self.stall_s = stall_s
        self.keyframe_gap_s = keyframe_gap_s
        self._viewers: dict[int, _Viewer] = {}
        self._last_key_request = -math.inf
        self._key_owed = False
        self.glass_ms: deque[float] = deque(maxlen=120)  # render done → drawn (viewer's ack)
        self.send_ms: deque[float] = deque(maxlen=120)  # render done → handed to the socket

    def __len__(self) -> int:
        return len(self._viewers)

    def __contains__(self, viewer: int) -> bool:
        return viewer in self._viewers

    def codecs(self) -> frozenset[Codec]:
        """The codecs some viewer wants: what the encoders must produce."""
        return frozenset(v.codec for v in self._viewers.values())

    # Events -----------------------------------------------------------------------------------

    def join(self, viewer: int, codec: Codec, now: float) -> list[Action]:
        """A viewer said which codec it decodes; it waits for a keyframe."""
        self._viewers[viewer] = _Viewer(codec, now)
        return self._need_key(self._viewers[viewer], now)

    def leave(self, viewer: int) -> None:
        self._viewers.pop(viewer, None)

    def switch(self, viewer: int, codec: Codec, now: float) -> list[Action]:
        state = self._viewers.get(viewer)
        if state is None:
            return self.join(viewer, codec, now)
        state.codec = codec
        state.pending = None
        return self._need_key(state, now)

    def publish(self, frame: EncodedFrame, now: float) -> list[Action]:
        """A new picture for everyone."""
        if frame.encoded.get(Codec.H264, _NO_KEY).keyframe:
            self._key_owed = False  # whoever waited gets this one
        actions: list[Action] = self._request_key(now)
        for viewer, state in self._viewers.items():
            if state.pending is not None:
                state.skipped += 1
                if state.codec is Codec.H264:
                    actions += self._need_key(state, now)
            state.pending = frame
            actions += self._pump(viewer, state, now)
        return actions

    def ack(self, viewer: int, frame: int, drawn: bool, now: float) -> list[Action]:
        state = self._viewers.get(viewer)
        if state is None:
            return []
        render_t = state.in_flight.get(frame)
        if render_t is not None and drawn:
            self.glass_ms.append((now - render_t) * 1e3)
        for f in [f for f in state.in_flight if f <= frame]:
            del state.in_flight[f]
        state.last_ack = now
        return self._pump(viewer, state, now)  # a frame held back by the window goes now

    def tick(self, now: float) -> list[Action]:
        """Drop viewers that stopped acknowledging."""
        stalled = [
            viewer
            for viewer, state in self._viewers.items()
            if state.in_flight and now - state.last_ack > self.stall_s
        ]
        for viewer in stalled:
            del self._viewers[viewer]
        reason = f"stalled: no frame acknowledged for {self.stall_s:g} s"
        return [Drop(viewer, reason) for viewer in stalled]

    # Internals --------------------------------------------------------------------------------

    def _pump(self, viewer: int, state: _Viewer, now: float) -> list[Action]:
        frame = state.pending
        if frame is None or len(state.in_flight) >= self.window:
            return []
        state.pending = None
        encoded = frame.encoded.get(state.codec)
        if encoded is None or (state.needs_key and not encoded.keyframe):
            state.skipped += 1
            return []
        state.needs_key = False
        header = VideoHeader(
            state.codec, encoded.keyframe, frame.frame, state.skipped,
            frame.width, frame.height, frame.capture_t, frame.render_t, now,
        )  # fmt: skip
        state.skipped = 0
        state.in_flight[frame.frame] = frame.render_t
        self.send_ms.append((now - frame.render_t) * 1e3)
        return [Send(viewer, encode_video(header, encoded.data))]

    def _need_key(self, state: _Viewer, now: float) -> list[Action]:
        if state.codec is not Codec.H264:
            return []
        state.needs_key = True
        self._key_owed = True
        return self._request_key(now)

    def _request_key(self, now: float) -> list[Action]:
        """Ask for a keyframe that some viewer waits for, once the gap since the last allows
        (one asked for too soon is owed, not forgotten: it goes with a later frame)."""
        if not self._key_owed or now - self._last_key_request < self.keyframe_gap_s:
            return []
        self._key_owed = False
        self._last_key_request = now
        return [NeedKeyframe()]
