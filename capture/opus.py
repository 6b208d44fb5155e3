"""Opus packets (RFC 6716 §3) and the Ogg Opus headers (RFC 7845 §5), without decoding audio.

:func:`packet_samples` checks a packet against the RFC's framing rules (R1–R7) and gives its
length in 48 kHz samples; :func:`opus_head` and :func:`opus_tags` build the two header packets
that open an Ogg Opus stream, and the ``parse_`` functions read them back strictly.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from capture.errors import VoiceFormatError

RATE = 48_000  # Opus's clock, whatever the input's rate
# The encoder's look-ahead at 48 kHz for libopus' default (audio) application: what both the
# browser's WebCodecs encoder and PyAV's libopus put in their OpusHead as the pre-skip.
PRE_SKIP = 312
# One CELT frame of digital silence: fullband, 20 ms, mono (TOC 0xF8), then the silence flag.
SILENCE = b"\xf8\xff\xfe"
SILENCE_SAMPLES = 960
MAX_FRAME_BYTES = 1275
MAX_PACKET_SAMPLES = 5760  # 120 ms
# Far above a 20 ms mono packet (at most 1275 bytes) and below an Ogg page's 65 025, so a page
# always holds a whole packet.
MAX_PACKET_BYTES = 8192

# Frame length in 48 kHz samples for each of the 32 TOC configurations (RFC 6716 table 2).
_FRAME_SAMPLES = (
    [480, 960, 1920, 2880] * 3  # SILK NB, MB, WB: 10, 20, 40, 60 ms
    + [480, 960] * 2  # hybrid SWB, FB: 10, 20 ms
    + [120, 240, 480, 960] * 4  # CELT NB, WB, SWB, FB: 2.5, 5, 10, 20 ms
)


def packet_samples(packet: bytes, where: str) -> int:
    """The packet's duration in 48 kHz samples, once it passes RFC 6716's rules R1–R7;
    otherwise a :class:`VoiceFormatError` naming ``where``."""
    size = len(packet)
    if size == 0:
        raise VoiceFormatError(f"{where}: an Opus packet is at least one byte (R1)")
    if size > MAX_PACKET_BYTES:
        raise VoiceFormatError(f"{where}: Opus packet of {size} bytes, over {MAX_PACKET_BYTES}")
    toc = packet[0]
    frame = _FRAME_SAMPLES[toc >> 3]
    code = toc & 0x3
    body = size - 1
    if code == 0:
        lengths = [body]
    elif code == 1:
        if body % 2:
            raise VoiceFormatError(f"{where}: Opus code 1 packet with an odd length (R3)")
        lengths = [body // 2] * 2
    elif code == 2:
        first, used = _frame_length(packet, 1, where)
        if first > body - used:
            raise VoiceFormatError(f"{where}: Opus code 2 frame longer than its packet (R4)")
        lengths = [first, body - used - first]
    else:
        lengths = _code3_lengths(packet, frame, where)
    if max(lengths) > MAX_FRAME_BYTES:
        raise VoiceFormatError(f"{where}: Opus frame over {MAX_FRAME_BYTES} bytes (R2)")
    return frame * len(lengths)


def _frame_length(packet: bytes, at: int, where: str) -> tuple[int, int]:
    """(a frame length coded at ``at``, the bytes its coding takes)."""
    if at >= len(packet):
        raise VoiceFormatError(f"{where}: Opus packet ends inside a frame length")
    first = packet[at]
    if first < 252:
        return first, 1
    if at + 1 >= len(packet):
        raise VoiceFormatError(f"{where}: Opus packet ends inside a frame length")
    return first + 4 * packet[at + 1], 2


def _code3_lengths(packet: bytes, frame: int, where: str) -> list[int]:
    if len(packet) < 2:
        raise VoiceFormatError(f"{where}: Opus code 3 packet without its frame count (R5)")
    count_byte = packet[1]
    count = count_byte & 0x3F
    if count == 0 or count * frame > MAX_PACKET_SAMPLES:
        raise VoiceFormatError(f"{where}: Opus code 3 packet of {count} frames (R5)")
    pos = 2
    padding = 0
    if count_byte & 0x40:
        while True:
            if pos >= len(packet):
                raise VoiceFormatError(f"{where}: Opus packet ends inside its padding length")
            value = packet[pos]
            pos += 1
            padding += 254 if value == 255 else value
            if value != 255:
                break
    remaining = len(packet) - pos - padding
    if remaining < 0:
        raise VoiceFormatError(f"{where}: Opus padding longer than its packet (R6)")
    if not count_byte & 0x80:  # constant bit rate: equal frames
        if remaining % count:
            raise VoiceFormatError(f"{where}: Opus CBR frames of unequal length (R6)")
        return [remaining // count] * count
    lengths = []
    for _ in range(count - 1):
        length, used = _frame_length(packet, pos, where)
        pos += used
        remaining -= used
        lengths.append(length)
    last = remaining - sum(lengths)
    if last < 0:
        raise VoiceFormatError(f"{where}: Opus VBR frames longer than their packet (R7)")
    return [*lengths, last]


@dataclass(frozen=True, slots=True)
class OpusHead:
    channels: int
    pre_skip: int
    input_rate: int
    gain_db: float


_HEAD = struct.Struct("<8sBBHIhB")


def opus_head(channels: int, pre_skip: int) -> bytes:
    """The identification header, mapping family 0 (mono or stereo), gain 0, 48 kHz input."""
    return _HEAD.pack(b"OpusHead", 1, channels, pre_skip, RATE, 0, 0)


def parse_opus_head(packet: bytes, where: str) -> OpusHead:
    if len(packet) < _HEAD.size or not packet.startswith(b"OpusHead"):
        raise VoiceFormatError(f"{where}: the first packet is not an OpusHead")
    _magic, version, channels, pre_skip, rate, gain, family = _HEAD.unpack_from(packet)
    if version >> 4:
        raise VoiceFormatError(f"{where}: OpusHead version {version} unsupported (this reads 0.x)")
    if family != 0 or channels not in (1, 2) or len(packet) != _HEAD.size:
        raise VoiceFormatError(
            f"{where}: OpusHead of {channels} channels in mapping family {family}; "
            "this reads mono or stereo (family 0)"
        )
    return OpusHead(channels, pre_skip, rate, gain / 256)


MAX_TAGS_BYTES = 1 << 16  # ours are ~60 bytes; a picture in a comment is not ours


def opus_tags(vendor: str, comments: dict[str, str]) -> bytes:
    """The comment header: a vendor string and ``KEY=value`` comments (UTF-8)."""
    parts = [b"OpusTags", _string(vendor), struct.pack("<I", len(comments))]
    parts += [_string(f"{key}={value}") for key, value in comments.items()]
    return b"".join(parts)


def _string(text: str) -> bytes:
    data = text.encode("utf-8")
    return struct.pack("<I", len(data)) + data


def parse_opus_tags(packet: bytes, where: str) -> dict[str, str]:
    """The comments, keys upper-cased (they are case-insensitive); the vendor is dropped."""
    if not packet.startswith(b"OpusTags"):
        raise VoiceFormatError(f"{where}: the second packet is not an OpusTags")
    pos = 8
    _vendor, pos = _read_string(packet, pos, where)
    if pos + 4 > len(packet):
        raise VoiceFormatError(f"{where}: OpusTags ends inside its comment count")
    (count,) = struct.unpack_from("<I", packet, pos)
    pos += 4
    comments: dict[str, str] = {}
    for _ in range(count):  # each takes 4 bytes at least: a huge count runs out of packet
        text, pos = _read_string(packet, pos, where)
        key, sep, value = text.partition("=")
        if not sep:
            raise VoiceFormatError(f"{where}: OpusTags comment without '='")
        comments[key.upper()] = value
    return comments


def _read_string(packet: bytes, pos: int, where: str) -> tuple[str, int]:
    if pos + 4 > len(packet):
        raise VoiceFormatError(f"{where}: OpusTags ends inside a string length")
    (size,) = struct.unpack_from("<I", packet, pos)
    pos += 4
    if pos + size > len(packet):
        raise VoiceFormatError(f"{where}: OpusTags string runs past its packet")
    try:
        return packet[pos : pos + size].decode("utf-8"), pos + size
    except UnicodeDecodeError:
        raise VoiceFormatError(f"{where}: OpusTags string is not UTF-8") from None
