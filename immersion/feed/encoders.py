"""Encoders for the mirror feed: each rendered frame is encoded once per codec in use, and the
bytes are shared by every viewer of that codec.

Both take top-down BGRA (``(height, width, 4)`` uint8, C-contiguous), as the stage produces
after one flip of its bottom-up read-back. H.264 comes from PyAV's bundled libx264 (baseline
profile, ultrafast, zerolatency: no B-frames, one access unit out per frame in; ~2.6 ms a
720p frame here, colour conversion included); JPEG from
simplejpeg (libjpeg-turbo inside the wheel).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np
from numpy.typing import NDArray

from immersion.config import EncoderSettings
from immersion.feed.protocol import Codec
from immersion.room.messages import Picture

Image = NDArray[np.uint8]


@dataclass(frozen=True, slots=True)
class Encoded:
    codec: Codec
    keyframe: bool
    data: bytes


class H264Encoder:
    """Annex B access units; a keyframe every ``gop`` frames, or at once on :meth:`want_keyframe`
    (a viewer joined or lost its place). Timestamps are the pictures' own times (ms), so the
    stream's clock is right at any frame rate."""

    codec = Codec.H264

    def __init__(
        self, width: int, height: int, fps: float = 30.0, gop: int = 60, crf: int = 23
    ) -> None:
        import av

        if width % 2 or height % 2:
            raise ValueError(f"H.264 needs even sides, got {width}x{height}")
        self.width, self.height = width, height
        ctx: Any = av.CodecContext.create("libx264", "w")
        ctx.width, ctx.height = width, height
        ctx.pix_fmt = "yuv420p"
        ctx.time_base = Fraction(1, 1000)
        ctx.framerate = Fraction(round(fps * 1000), 1000)
        ctx.gop_size = gop
        ctx.options = {
            "preset": "ultrafast",
            "tune": "zerolatency",
            "profile": "baseline",  # every browser's WebCodecs decodes it
            "crf": str(crf),
        }
        self._ctx = ctx
        self._pts = -1
        self._force_key = True

    def want_keyframe(self) -> None:
        self._force_key = True

    def encode(self, bgra: Image, t: float | None = None) -> Encoded:
        """``t``: the picture's time in seconds (default: one frame period after the last)."""
        import av
        import cv2

        # OpenCV's BGRA → I420 takes 0.5 ms at 720p; swscale through PyAV's reformat took 3.4.
        i420: Image = np.asarray(cv2.cvtColor(bgra, cv2.COLOR_BGRA2YUV_I420), dtype=np.uint8)
        frame = av.VideoFrame.from_ndarray(i420, format="yuv420p")
        step = round(1000 / float(self._ctx.framerate))
        pts = round(t * 1000) if t is not None else self._pts + step
        self._pts = frame.pts = max(pts, self._pts + 1)  # strictly increasing, whatever t says
        if self._force_key:
            frame.pict_type = av.video.frame.PictureType.I
            self._force_key = False
        packets = self._ctx.encode(frame)
        data = b"".join(bytes(p) for p in packets)
        keyframe = any(p.is_keyframe for p in packets)
        return Encoded(Codec.H264, keyframe, data)


class JpegEncoder:
    codec = Codec.JPEG

    def __init__(self, quality: int = 80) -> None:
        self.quality = quality

    def want_keyframe(self) -> None:
        """Every JPEG is a keyframe."""

    def encode(self, bgra: Image, t: float | None = None) -> Encoded:
        import simplejpeg

        data = simplejpeg.encode_jpeg(
            bgra, quality=self.quality, colorspace="BGRA", colorsubsampling="420", fastdct=True
        )
        return Encoded(Codec.JPEG, True, bytes(data))


@dataclass(frozen=True, slots=True)
class EncodedFrame:
    """One rendered picture, encoded once per codec in demand (room clock, seconds)."""

    frame: int
    capture_t: float
    render_t: float
    width: int
    height: int
    encoded: Mapping[Codec, Encoded]
    encode_ms: float = 0.0  # all codecs, on the render thread
    replay: int | None = None  # the replay start it shows (Picture.replay)


class PictureEncoder:
    """The feed's encoders, run on the render thread: each picture is encoded once per codec
    some viewer wants (:attr:`codecs`, set by the feed), whatever the number of viewers."""

    def __init__(self, settings: EncoderSettings, width: int, height: int, fps: float) -> None:
        self._encoders: dict[Codec, H264Encoder | JpegEncoder] = {
            Codec.H264: H264Encoder(width, height, fps, settings.gop, settings.crf),
            Codec.JPEG: JpegEncoder(settings.jpeg_quality),
        }
        self.codecs: frozenset[Codec] = frozenset()  # replaced whole by the feed
        self.keyframe = threading.Event()  # set by the feed: a viewer needs a fresh start

    def encode(self, picture: Picture) -> EncodedFrame:
        start = time.perf_counter()
        if picture.cut or self.keyframe.is_set():
            self.keyframe.clear()
            self._encoders[Codec.H264].want_keyframe()
        encoded = {
            c: self._encoders[c].encode(picture.bgra, picture.render_t) for c in sorted(self.codecs)
        }
        return EncodedFrame(
            picture.frame,
            picture.capture_t,
            picture.render_t,
            picture.width,
            picture.height,
            encoded,
            (time.perf_counter() - start) * 1e3,
            picture.replay,
        )


def avc_codec_string(access_unit: bytes) -> str | None:
    """The WebCodecs codec string (``avc1.PPCCLL``) from the SPS in an Annex B access unit."""
    for start in _nal_starts(access_unit):
        if start < len(access_unit) - 3 and access_unit[start] & 0x1F == 7:
            p, c, level = access_unit[start + 1 : start + 4]
            return f"avc1.{p:02X}{c:02X}{level:02X}"
    return None


def _nal_starts(data: bytes) -> list[int]:
    out, i = [], 0
    while (i := data.find(b"\x00\x00\x01", i)) >= 0:
        i += 3
        out.append(i)
    return out
