"""Voice through PyAV: a voice file decoded to PCM and its level envelope, and Opus packets
made from a video's sound track (for a recorded source that should also speak).

Decoding uses FFmpeg's own Opus decoder ("opus"; the wheel's libopus is the encoder), given
the file's OpusHead, so it drops the pre-skip itself. PCM is float32 mono at 48 kHz, full
scale 1.0.
"""

from __future__ import annotations

import itertools
import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from capture.errors import SourceError, VoiceFormatError
from capture.opus import RATE, SILENCE_SAMPLES, opus_head
from capture.voice import TimedPacket, Voice, read_voice

log = logging.getLogger(__name__)

FRAME_S = SILENCE_SAMPLES / RATE  # 20 ms: the packets' and the level envelope's step
FLOOR_DB = -120.0  # digital silence reads this, not -inf
VIDEO_BIT_RATE = 64_000  # Opus made from a video's track: speech sounds clean at far less

Pcm = NDArray[np.float32]


def _av() -> Any:
    import av  # PyAV loads FFmpeg: only the functions that decode or encode need it

    return av


def pcm_blocks(voice: Voice) -> Iterator[Pcm]:
    """The voice's samples in decoded blocks, mono (stereo is averaged), from ``voice.start``:
    the pre-skip dropped and the end trimmed as the last granule position says."""
    av = _av()
    decoder = av.CodecContext.create("opus", "r")
    decoder.extradata = opus_head(voice.channels, voice.pre_skip)
    left = max(voice.granule - voice.pre_skip, 0)
    for t, packet in voice.packets:
        try:
            frames = decoder.decode(av.Packet(packet))
        except av.FFmpegError as exc:
            raise VoiceFormatError(f"{voice.path}: packet at {t:.3f} s: {exc}") from None
        for frame in frames:
            block = frame.to_ndarray().astype(np.float32, copy=False)
            block = block.mean(axis=0) if block.shape[0] > 1 else block[0]
            block = block[:left]
            left -= len(block)
            if len(block):
                yield block


@dataclass(frozen=True, slots=True)
class Decoded:
    """A voice file's audio: ``samples[n]`` is at ``start + n / RATE`` on the take's clock."""

    start: float
    samples: Pcm

    @property
    def duration(self) -> float:
        return len(self.samples) / RATE


def decode_voice(path: Path) -> Decoded:
    """Read and decode a whole voice file (for tests and benchmarks: it is all in memory)."""
    voice = read_voice(path)
    blocks = list(pcm_blocks(voice))
    samples = np.concatenate(blocks) if blocks else np.zeros(0, np.float32)
    return Decoded(voice.start, samples)


def aligned_pcm(voice: Voice, start: float) -> Iterator[Pcm]:
    """The voice's samples from ``start`` on the take's clock: silence before the voice
    begins, its beginning cut where it began earlier; it ends where the voice ends."""
    skip = round((start - voice.start) * RATE)  # > 0: cut the voice's beginning
    if skip < 0:
        yield np.zeros(-skip, np.float32)
    for block in pcm_blocks(voice):
        if skip > 0:
            cut = min(skip, len(block))
            block, skip = block[cut:], skip - cut
        if len(block):
            yield block


@dataclass(frozen=True, slots=True)
class Levels:
    """RMS level in dBFS (``20·log10(rms)``: a full-scale sine reads −3.01) of each 20 ms of a
    voice, the first from ``start`` on the take's clock; digital silence reads FLOOR_DB."""

    start: float
    dbfs: NDArray[np.float64]

    def at(self, t: float) -> float:
        """The level of the 20 ms that holds ``t``; FLOOR_DB outside the voice."""
        i = math.floor((t - self.start) / FRAME_S)
        return float(self.dbfs[i]) if 0 <= i < len(self.dbfs) else FLOOR_DB


def levels(samples: Pcm, start: float = 0.0) -> Levels:
    """The level envelope of PCM samples (a last part-frame counts as a frame)."""
    frames = -(-len(samples) // SILENCE_SAMPLES)
    padded = np.zeros(frames * SILENCE_SAMPLES, np.float64)
    padded[: len(samples)] = samples
    blocks = padded.reshape(frames, SILENCE_SAMPLES)
    counts = np.full(frames, SILENCE_SAMPLES, np.float64)
    if frames and len(samples) % SILENCE_SAMPLES:
        counts[-1] = len(samples) % SILENCE_SAMPLES
    rms = np.sqrt((blocks**2).sum(axis=1) / counts)
    with np.errstate(divide="ignore"):
        dbfs = np.maximum(20 * np.log10(rms), FLOOR_DB)
    return Levels(start, dbfs)


def voice_levels(path: Path) -> Levels:
    """The level envelope of a voice file (see :class:`Levels`)."""
    decoded = decode_voice(path)
    return levels(decoded.samples, decoded.start)


def video_opus(path: Path) -> Iterator[TimedPacket] | None:
    """A video's sound track as Opus packets like the browser's (48 kHz mono, 20 ms, pre-skip
    :data:`~capture.opus.PRE_SKIP`): ``(t, packet)`` with ``t`` in the video's seconds, from
    its first audio sample. **None when the video has no audio track**; a file that is no
    video raises :class:`SourceError`."""
    with _open(path) as container:
        if not container.streams.audio:
            log.info("%s: no audio track", path)
            return None
    return _video_opus(path)


def _open(path: Path) -> Any:
    av = _av()
    if not path.is_file():
        raise SourceError(f"{path}: no such video file")
    try:
        return av.open(str(path))
    except (av.FFmpegError, OSError, UnicodeDecodeError) as exc:
        raise SourceError(f"{path}: cannot be opened as a video ({exc})") from None


def _video_opus(path: Path) -> Iterator[TimedPacket]:
    av = _av()
    encoder = av.CodecContext.create("libopus", "w")
    encoder.rate, encoder.layout, encoder.format = RATE, "mono", "s16"
    encoder.bit_rate = VIDEO_BIT_RATE
    resampler = av.AudioResampler(format="s16", layout="mono", rate=RATE, frame_size=960)
    first: float | None = None
    made = 0  # packets
    fed = 0  # samples
    with _open(path) as container:
        try:
            decoded = container.decode(container.streams.audio[0])
            for frame in itertools.chain(
                decoded, [None]
            ):  # None: drain the resampler and the encoder
                if first is None and frame is not None:
                    first = float(frame.time or 0.0)
                pieces = resampler.resample(frame)
                for piece in [*pieces, None] if frame is None else pieces:
                    if piece is not None:
                        piece.pts = fed
                        fed += piece.samples
                    for packet in encoder.encode(piece):
                        yield (first or 0.0) + made * FRAME_S, bytes(packet)
                        made += 1
        except av.FFmpegError as exc:
            raise SourceError(f"{path}: its audio cannot be decoded ({exc})") from None
