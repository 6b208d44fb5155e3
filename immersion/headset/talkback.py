"""A director's talkback in the headset: their Opus packets played on this machine's sound
output, which is where a tethered headset's sound goes.

:class:`TalkbackPlayer` owns a thread, a bounded queue of packets and an Opus decoder (PyAV's
libopus); what it decodes goes to a sink, by default PortAudio's default output device
(``sounddevice``, loaded on first use). A machine with no sound output (this project's CI, a
server in a rack) raises :class:`NoSoundOutputError` with the reason, once, at start; the room
says so and plays on.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from immersion.errors import StageError

log = logging.getLogger(__name__)

RATE = 48_000
QUEUE_PACKETS = 25  # half a second: talkback that falls further behind is dropped, not delayed
Sink = Callable[[NDArray[np.int16]], None]


class NoSoundOutputError(StageError):
    """This machine cannot play sound (no PortAudio, no output device)."""


def sound_output() -> tuple[Sink, Callable[[], None]]:
    """The default output device as a sink of 48 kHz mono int16 blocks, and how to close it."""
    try:
        import sounddevice  # type: ignore[import-untyped]
    except OSError as exc:  # the PortAudio library itself is missing
        raise NoSoundOutputError(f"no sound library ({exc})") from None
    try:
        stream: Any = sounddevice.RawOutputStream(
            samplerate=RATE, channels=1, dtype="int16", latency="low"
        )
        stream.start()
    except Exception as exc:  # PortAudioError, or no device at all
        raise NoSoundOutputError(f"no sound output ({exc})") from None

    def write(block: NDArray[np.int16]) -> None:
        stream.write(block.tobytes())

    def close() -> None:
        stream.stop()
        stream.close()

    return write, close


class TalkbackPlayer:
    """Plays talkback packets in order, as they come; runs until :meth:`close`."""

    def __init__(self, sink: Sink | None = None, close: Callable[[], None] | None = None) -> None:
        if sink is None:
            sink, close = sound_output()
        self._sink = sink
        self._close = close or (lambda: None)
        self._queue: queue.Queue[bytes | None] = queue.Queue(QUEUE_PACKETS)
        self.dropped = 0  # packets that found the queue full (read on the player's thread)
        self._thread = threading.Thread(target=self._run, name="talkback", daemon=True)
        self._thread.start()

    def put(self, opus: bytes) -> None:
        """Queue one packet without waiting (any thread)."""
        try:
            self._queue.put_nowait(opus)
        except queue.Full:
            self.dropped += 1

    def close(self) -> None:
        try:
            self._queue.put(None, timeout=1)
        except queue.Full:
            log.warning("talkback player is stuck; leaving it")
            return
        self._thread.join(timeout=2)

    def _run(self) -> None:
        import av

        decoder: Any = av.CodecContext.create("libopus", "r")
        decoder.sample_rate, decoder.layout = RATE, "mono"
        try:
            while (packet := self._queue.get()) is not None:
                try:
                    frames = decoder.decode(av.Packet(packet))
                except av.FFmpegError as exc:  # one bad packet: skipped, the rest plays
                    log.info("talkback packet not decoded: %s", exc)
                    continue
                for frame in frames:
                    self._sink(_mono_int16(frame.to_ndarray()))
        finally:
            self._close()


def _mono_int16(samples: NDArray[Any]) -> NDArray[np.int16]:
    """A decoded frame (planar, float or int16) as one channel of int16."""
    mono = samples[0] if samples.ndim == 2 else samples
    if mono.dtype.kind == "f":
        return np.asarray(np.clip(mono, -1.0, 1.0) * 32767, dtype=np.int16)
    return np.asarray(mono, dtype=np.int16)
