"""A take's voice as an MP4's sound track: AAC-LC, mono, 48 kHz, encoded in step with the
video so the file is interleaved and memory stays flat however long the take.

AAC rather than Opus-in-MP4: PyAV's FFmpeg muxes both, but every browser, QuickTime, phones and
editing tools play AAC in MP4, while Opus in MP4 is missing from older Safari and many editors.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from capture.opus import RATE
from capture.voice import Voice
from capture.voice_media import Pcm, aligned_pcm

BIT_RATE = 128_000  # transparent for one voice
AAC_FRAME = 1024  # samples per AAC frame


class VoiceTrack:
    """The sound of ``voice`` from ``start`` (the take's clock at the video's first frame),
    silence where the voice is missing, as a new AAC stream of ``container``; as long as the
    video (:meth:`close`)."""

    def __init__(self, container: Any, voice: Voice, start: float) -> None:
        self.container = container
        self.stream = container.add_stream("aac", rate=RATE, layout="mono")
        self.stream.bit_rate = BIT_RATE
        self._pcm = aligned_pcm(voice, start)
        self._pending: list[Pcm] = []
        self._held = 0  # samples pending
        self._pts = 0  # samples encoded

    def until(self, seconds: float) -> None:
        """Encode the sound up to ``seconds`` into the video (whole AAC frames)."""
        want = round(seconds * RATE)
        while self._pts + self._held < want + AAC_FRAME and self._pull():
            pass
        while self._held >= AAC_FRAME and self._pts < want:
            self._encode(AAC_FRAME)

    def close(self, seconds: float) -> None:
        """End the track at ``seconds`` into the video (padded with silence, or cut), and
        drain the encoder."""
        want = round(seconds * RATE)
        while self._pts + self._held < want and self._pull():
            pass
        if self._pts + self._held < want:
            self._pending.append(np.zeros(want - self._pts - self._held, np.float32))
            self._held = want - self._pts
        while self._pts < want:
            self._encode(min(want - self._pts, AAC_FRAME))
        self._mux(None)

    def _pull(self) -> bool:
        block = next(self._pcm, None)
        if block is None:
            return False
        self._pending.append(block)
        self._held += len(block)
        return True

    def _encode(self, count: int) -> None:
        import av

        joined = np.concatenate(self._pending)
        samples, rest = joined[:count], joined[count:]
        self._pending, self._held = ([rest] if len(rest) else []), len(rest)
        frame = av.AudioFrame.from_ndarray(samples[None, :], format="fltp", layout="mono")
        frame.rate, frame.pts = RATE, self._pts
        self._pts += count
        self._mux(frame)

    def _mux(self, frame: Any) -> None:
        for packet in self.stream.encode(frame):
            self.container.mux(packet)
