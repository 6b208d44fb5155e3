"""Sound for the voice tests, made with PyAV on the spot: Opus packets of a tone, and small
videos with or without a sound track (the set-up's clips have silent tracks or none)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

RATE = 48_000


def tone(seconds: float, freq: float = 440.0, amplitude: float = 0.25) -> np.ndarray[Any, Any]:
    t = np.arange(round(seconds * RATE)) / RATE
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def opus_packets(samples: np.ndarray[Any, Any]) -> list[bytes]:
    """``samples`` (float, mono, 48 kHz) as 20 ms Opus packets from PyAV's libopus, the
    encoder's flush included (its pre-skip is 312 samples, as the browser's)."""
    import av

    encoder = av.CodecContext.create("libopus", "w")
    encoder.rate, encoder.layout, encoder.format = RATE, "mono", "flt"
    packets: list[bytes] = []
    for i in range(0, len(samples), 960):
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(samples[None, i : i + 960]), format="flt", layout="mono"
        )
        frame.rate, frame.pts = RATE, i
        packets += [bytes(p) for p in encoder.encode(frame)]
    packets += [bytes(p) for p in encoder.encode(None)]
    return packets


def tone_packets(seconds: float, freq: float = 440.0, amplitude: float = 0.25) -> list[bytes]:
    return opus_packets(tone(seconds, freq, amplitude))


def tone_video(
    path: Path, seconds: float, *, sound: bool = True, amplitude: float = 0.25, rate: int = 44_100
) -> Path:
    """A 64x64 H.264 video of ``seconds`` at 10 fps, with an AAC 440 Hz tone at ``rate``."""
    import av

    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=10)
        video.width = video.height = 64
        video.pix_fmt = "yuv420p"
        audio = container.add_stream("aac", rate=rate, layout="mono") if sound else None
        frames = round(seconds * 10)
        for k in range(frames):
            picture = np.full((64, 64, 3), 20 * k % 256, np.uint8)
            frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
            frame.pts, frame.time_base = k, Fraction(1, 10)
            for packet in video.encode(frame):
                container.mux(packet)
        for packet in video.encode(None):
            container.mux(packet)
        if audio is not None:
            t = np.arange(round(seconds * rate)) / rate
            samples = (amplitude * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
            for i in range(0, len(samples), 1024):
                chunk = av.AudioFrame.from_ndarray(
                    np.ascontiguousarray(samples[None, i : i + 1024]), format="fltp", layout="mono"
                )
                chunk.rate, chunk.pts = rate, i
                for packet in audio.encode(chunk):
                    container.mux(packet)
            for packet in audio.encode(None):
                container.mux(packet)
    return path
