"""Voice files: the actor's voice as Ogg Opus (RFC 7845), append-only, on the take's clock.

The browser sends Opus packets (48 kHz, mono, 20 ms, as WebCodecs' AudioEncoder makes them),
each stamped with its capture time on the room clock. :class:`VoiceWriter` places them on the
take's clock (``t - origin``):

- the first packet's time is the file's **start**, kept in the OpusTags comment
  ``IMMERSION_START`` (seconds, the take's clock) and as :attr:`VoiceWriter.start`; decoded
  sample ``n`` (after the pre-skip) is then at ``start + n / 48000`` seconds;
- a packet later than where the file has got to by more than :data:`GAP_S` (the actor's
  connection dropped) is preceded by silent frames, so the audio stays on the clock for any
  player; one earlier by more than :data:`AHEAD_S` (its place is filled already) is dropped
  and counted.

Pages: the OpusHead (alone, beginning of stream), the OpusTags, then one page per
:meth:`~VoiceWriter.write` (the packet, and the silence before it), each handed to the OS
whole, as :class:`~capture.take.TakeWriter` does with lines, and synced at close, which also
marks the last page as the end of the stream. The headers go out with the first packet (the
start is known then), so a file that never got a packet is empty. A killed process leaves every
page up to the kill; a torn last page is skipped when reading. A failed write (a full disk)
raises :class:`VoiceWriteError`, cuts the torn page off, and refuses later writes.

Reading (:func:`read_voice`) is strict: one logical stream, pages in sequence with good CRCs,
mono or stereo OpusHead, packets that follow RFC 6716's framing rules, granule positions
equal to the samples decoded so far (the last page's may trim its end); anything else is one
:class:`VoiceFormatError` line naming the file and the page.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import random
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Any

from capture import fields, ogg
from capture.errors import TakeFormatError, VoiceFormatError, VoiceWriteError
from capture.opus import (
    MAX_PACKET_BYTES,
    MAX_TAGS_BYTES,
    PRE_SKIP,
    RATE,
    SILENCE,
    SILENCE_SAMPLES,
    OpusHead,
    opus_head,
    opus_tags,
    packet_samples,
    parse_opus_head,
    parse_opus_tags,
)

log = logging.getLogger(__name__)

START_TAG = "IMMERSION_START"
VENDOR = "immersion"
CHANNELS = 1
GAP_S = 0.030  # later than this: silence fills the gap (to within half a frame)
AHEAD_S = 0.030  # earlier than this: the packet's place is taken, it is dropped
MAX_GAP_S = 3600.0  # one write never fills more than an hour of silence
PAGE_PACKETS = 50  # silence goes out in pages of at most 1 s
MAX_PRE_SKIP = RATE  # a second; real encoders need a few ms


class VoiceWriter:
    """Writes a voice file: refuses to overwrite, appends one page per packet (see the
    module). ``origin`` is the room time at which the take started; ``pre_skip`` the
    encoder's look-ahead in 48 kHz samples (the OpusHead the encoder gives names it)."""

    def __init__(self, path: Path, origin: float = 0.0, *, pre_skip: int = PRE_SKIP) -> None:
        self.path = path
        if not math.isfinite(origin):
            raise VoiceFormatError(f"{path}: origin {origin!r} is not a finite time")
        if type(pre_skip) is not int or not 0 <= pre_skip <= MAX_PRE_SKIP:
            raise VoiceFormatError(f"{path}: pre-skip must be 0..{MAX_PRE_SKIP} samples")
        self.origin = float(origin)
        self.pre_skip = pre_skip
        self.start: float | None = None  # the take's clock, once the first packet is written
        self.packets = 0  # the actor's packets written
        self.silent_frames = 0  # inserted for gaps
        self.dropped = 0  # packets that came too early to place
        self._serial = random.getrandbits(32)  # unique per stream, as RFC 3533 asks
        self._sequence = 0
        self._samples = 0  # decoded samples so far, the pre-skip included: the granule
        self._size = 0
        self._last: tuple[int, bytes] | None = None  # offset and bytes of the last page
        self._broken: str | None = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._file = path.open("xb", buffering=0)  # each page goes to the OS whole
        except FileExistsError:
            raise VoiceWriteError(
                f"{path}: already exists; voice files are never overwritten"
            ) from None
        except OSError as exc:
            raise VoiceWriteError(f"{path}: cannot create ({exc.strerror or exc})") from exc

    @property
    def clock(self) -> float | None:
        """Where the file has got to on the take's clock: the next packet's place."""
        return None if self.start is None else self.start + self._samples / RATE

    def write(self, t: float, packet: bytes) -> None:
        """Place ``packet``, captured at room time ``t``; see the module for gaps. A bad time
        or packet raises :class:`VoiceFormatError` and writes nothing."""
        if self._broken is not None:
            raise VoiceWriteError(f"{self.path}: {self._broken}")
        if not isinstance(t, int | float) or isinstance(t, bool) or not math.isfinite(t):
            raise VoiceFormatError(f"{self.path}: packet time {t!r} is not a finite number")
        if not isinstance(packet, bytes | bytearray | memoryview):
            raise VoiceFormatError(f"{self.path}: a packet is bytes, got {type(packet).__name__}")
        packet = bytes(packet)
        at = t - self.origin
        where = f"{self.path}: packet at {at:.3f} s"
        if abs(at) > fields.MAX_SECONDS:
            raise VoiceFormatError(f"{where}: more than {fields.MAX_SECONDS:g} s from the origin")
        samples = packet_samples(packet, where)
        pages: list[bytes] = []
        gap = 0
        if self.start is None:
            pages += self._headers(at)
        else:
            lag = at - self.start - self._samples / RATE
            if lag < -AHEAD_S:
                self.dropped += 1
                log.debug("%s: %.3f s early, dropped", where, -lag)
                return
            if lag > MAX_GAP_S:
                raise VoiceFormatError(
                    f"{where}: {lag:.0f} s after the last; more than {MAX_GAP_S:.0f} s of "
                    "silence is not filled"
                )
            if lag > GAP_S:
                gap = int(lag * RATE / SILENCE_SAMPLES + 0.5)
                log.info("%s: a %.3f s gap, filled with %d silent frames", where, lag, gap)
        packets = [SILENCE] * gap + [packet]
        lengths = [SILENCE_SAMPLES] * gap + [samples]
        for i in range(0, len(packets), PAGE_PACKETS):
            self._samples += sum(lengths[i : i + PAGE_PACKETS])
            pages.append(self._page(self._samples, packets[i : i + PAGE_PACKETS]))
        self._append(pages)
        self.packets += 1
        self.silent_frames += gap

    def _headers(self, start: float) -> list[bytes]:
        self.start = start
        tags = opus_tags(VENDOR, {START_TAG: f"{start:.6f}"})
        head = self._page(0, [opus_head(CHANNELS, self.pre_skip)], ogg.BOS)
        return [head, self._page(0, [tags])]

    def _page(self, granule: int, packets: list[bytes], flags: int = 0) -> bytes:
        data = ogg.page(self._serial, self._sequence, granule, packets, flags)
        self._sequence += 1
        return data

    def _append(self, pages: list[bytes]) -> None:
        data = memoryview(b"".join(pages))
        offset = self._size
        try:
            while data:
                data = data[self._file.write(data) or 0 :]
        except OSError as exc:
            self._broken = f"writing failed ({exc.strerror or exc})"
            with contextlib.suppress(OSError):  # a torn page would end the readable part
                self._file.truncate(offset)
            raise VoiceWriteError(f"{self.path}: {self._broken}") from exc
        self._size = offset + sum(map(len, pages))
        self._last = (self._size - len(pages[-1]), pages[-1])

    def close(self) -> None:
        """Mark the last page as the end of the stream, sync and close; the file is closed
        even when that fails (a full disk), and :class:`VoiceWriteError` is raised after."""
        if self._file.closed:
            return
        try:
            if self._last is not None and self._broken is None:
                offset, last = self._last
                os.pwrite(self._file.fileno(), ogg.with_flags(last, ogg.EOS), offset)
            os.fsync(self._file.fileno())
        except OSError as exc:
            raise VoiceWriteError(f"{self.path}: closing failed ({exc.strerror or exc})") from exc
        finally:
            with contextlib.suppress(OSError):
                self._file.close()

    def __enter__(self) -> VoiceWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


TimedPacket = tuple[float, bytes]


@dataclass(frozen=True, slots=True)
class Voice:
    """A voice file read back: its packets with their times on the take's clock (the silence
    filled for gaps included)."""

    path: Path
    start: float  # the take's clock; 0 where the file names none
    pre_skip: int
    channels: int
    packets: tuple[TimedPacket, ...]
    granule: int  # the last page's: decoded samples, the pre-skip included
    torn_tail: bool

    @property
    def duration(self) -> float:
        """Seconds of audio once the pre-skip is dropped."""
        return max(self.granule - self.pre_skip, 0) / RATE

    @property
    def end(self) -> float:
        return self.start + self.duration


def read_voice(path: Path) -> Voice:
    """Read a voice file (see the module). An empty file, or one torn before its first audio
    page, holds no packets: a writer that never got one."""
    try:
        f = path.open("rb")
    except OSError as exc:
        raise VoiceFormatError(f"{path}: cannot open ({exc.strerror})") from None
    with f:
        return _Reader(path).read(f)


@dataclass(slots=True)
class _Reader:
    """The reading state: pages are fed in order (see :func:`read_voice`)."""

    path: Path
    serial: int | None = None
    sequence: int = 0
    partial: bytes = b""  # a packet continued onto the next page
    head: OpusHead | None = None
    start: float = 0.0
    headers_done: bool = False
    samples: int = 0
    granule: int = 0
    eos: bool = False

    def read(self, f: IO[bytes]) -> Voice:
        packets: list[TimedPacket] = []
        torn = False
        for page in ogg.read_pages(f, str(self.path)):
            if isinstance(page, ogg.Torn):
                torn = True
                break
            self._page(page, packets)
        torn = torn or bool(self.partial)  # killed between a packet's pages
        head = self.head or OpusHead(CHANNELS, PRE_SKIP, RATE, 0.0)
        return Voice(
            self.path, self.start, head.pre_skip, head.channels, tuple(packets), self.granule, torn
        )

    def _page(self, page: ogg.Page, packets: list[TimedPacket]) -> None:
        where = f"{self.path}: page {self.sequence} (byte {page.offset})"
        if self.eos:
            raise VoiceFormatError(f"{where}: a page after the end of the stream")
        if self.serial is None:
            if not page.flags & ogg.BOS:
                raise VoiceFormatError(f"{where}: the first page does not begin a stream")
            self.serial = page.serial
        elif page.serial != self.serial or page.flags & ogg.BOS:
            raise VoiceFormatError(f"{where}: a second stream; a voice file holds one")
        if page.sequence != self.sequence:
            raise VoiceFormatError(f"{where}: numbered {page.sequence}; a page is missing")
        if bool(page.flags & ogg.CONTINUED) != bool(self.partial):
            raise VoiceFormatError(f"{where}: its continuation flag does not match")
        header_page = not self.headers_done
        audio = 0  # audio packets that end on this page
        for data, ends in page.segments():
            if header_page and self.headers_done:
                raise VoiceFormatError(f"{where}: the headers must end their page")
            limit = MAX_PACKET_BYTES if self.headers_done else MAX_TAGS_BYTES
            self.partial += data
            if len(self.partial) > limit:
                raise VoiceFormatError(f"{where}: a packet over {limit} bytes")
            if ends:
                audio += self._packet(self.partial, where, packets)
                self.partial = b""
        if self.sequence == 0 and self.head is None:
            raise VoiceFormatError(f"{where}: the first page must hold the OpusHead, whole")
        self.sequence += 1
        self._granule(page, header_page, audio, where)
        self.eos = bool(page.flags & ogg.EOS)

    def _packet(self, packet: bytes, where: str, out: list[TimedPacket]) -> int:
        """Take one whole packet in; 1 when it is audio."""
        if self.head is None:
            self.head = parse_opus_head(packet, where)
            return 0
        if self.sequence == 0:
            raise VoiceFormatError(f"{where}: the OpusHead must be alone on the first page")
        if not self.headers_done:
            self.start = _start(parse_opus_tags(packet, where), where)
            self.headers_done = True
            return 0
        t = self.start + self.samples / RATE
        self.samples += packet_samples(packet, where)
        out.append((t, packet))
        return 1

    def _granule(self, page: ogg.Page, header_page: bool, audio: int, where: str) -> None:
        if header_page:
            if page.granule != 0:
                raise VoiceFormatError(f"{where}: a header page's granule position must be 0")
        elif audio == 0:
            if page.granule != ogg.NO_GRANULE:
                raise VoiceFormatError(f"{where}: no packet ends here, granule must be -1")
        elif page.granule == self.samples or (
            page.flags & ogg.EOS and self.granule <= page.granule <= self.samples
        ):
            self.granule = page.granule  # the end of the stream may trim its last packet
        else:
            raise VoiceFormatError(
                f"{where}: granule position {page.granule}, but {self.samples} samples decoded"
            )


def _start(tags: Mapping[str, str], where: str) -> float:
    text = tags.get(START_TAG)
    if text is None:
        return 0.0
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not abs(value) <= fields.MAX_SECONDS:
        raise VoiceFormatError(f"{where}: {START_TAG} {text[:40]!r} is not a time in seconds")
    return value


def take_voice(take: Path, header: Mapping[str, Any]) -> Path | None:
    """The voice file a take's header names (``"voice": "NAME.opus"``), beside the take; None
    where it names none. A name with a folder in it, or a link out of the take's folder, is
    refused with one :class:`TakeFormatError` line naming the take and the field."""
    name = header.get("voice")
    if name is None:
        return None
    where = f"{take}:1: 'voice'"
    if (
        type(name) is not str
        or not name
        or "\\" in name
        or "\0" in name
        or PurePosixPath(name).name != name
        or name in (".", "..")
    ):
        raise TakeFormatError(
            f"{where} must name a file beside the take (no folders, no '..'), "
            f"got {fields.brief(name)}"
        )
    folder = take.resolve().parent
    path = folder / name
    if path.resolve().parent != folder:
        raise TakeFormatError(f"{where} {name!r} is a link that leads out of the take's folder")
    return path
