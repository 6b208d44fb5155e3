"""Ogg pages (RFC 3533): building them, and reading them back from a file strictly.

A page is a 27-byte header (``OggS``, version 0, flags, granule position, serial number,
sequence number, CRC-32), a segment table and the packets' bytes. Packets are laced into
segments of 255 bytes; a segment shorter than 255 ends its packet. The CRC is the MSB-first
CRC-32 of polynomial 0x04C11DB7, initial value 0 and no final XOR (not zlib's reflected one),
computed over the whole page with its own field zeroed.

This module knows nothing of Opus; :mod:`capture.voice` puts Opus on the pages.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import IO

from capture.errors import VoiceFormatError

CAPTURE = b"OggS"
CONTINUED, BOS, EOS = 0x01, 0x02, 0x04
NO_GRANULE = -1  # a page on which no packet ends
MAX_SEGMENTS = 255
MAX_PAGE_BODY = MAX_SEGMENTS * 255
_HEADER = struct.Struct("<4sBBqIIIB")
HEADER_BYTES = _HEADER.size  # 27


def _table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) if crc & 0x80000000 else crc << 1
        table.append(crc & 0xFFFFFFFF)
    return tuple(table)


_CRC_TABLE = _table()


def crc32(data: bytes | bytearray | memoryview) -> int:
    """Ogg's CRC-32 (see the module)."""
    crc = 0
    table = _CRC_TABLE
    for byte in data:
        crc = ((crc << 8) & 0xFFFFFFFF) ^ table[(crc >> 24) ^ byte]
    return crc


def lacing(size: int) -> bytes:
    """The segment-table entries of one whole packet of ``size`` bytes."""
    return b"\xff" * (size // 255) + bytes((size % 255,))


def page(
    serial: int, sequence: int, granule: int, packets: Sequence[bytes], flags: int = 0
) -> bytes:
    """One page holding ``packets`` whole (none continues onto the next page)."""
    table = b"".join(lacing(len(p)) for p in packets)
    if len(table) > MAX_SEGMENTS:
        raise ValueError(f"{len(table)} segments do not fit one Ogg page")
    header = _HEADER.pack(CAPTURE, 0, flags, granule, serial, sequence, 0, len(table))
    data = bytearray(header + table + b"".join(packets))
    struct.pack_into("<I", data, 22, crc32(data))
    return bytes(data)


def with_flags(data: bytes, flags: int) -> bytes:
    """A built page with its flags replaced (and its CRC recomputed)."""
    out = bytearray(data)
    out[5] = flags
    struct.pack_into("<I", out, 22, 0)
    struct.pack_into("<I", out, 22, crc32(out))
    return bytes(out)


@dataclass(frozen=True, slots=True)
class Page:
    offset: int  # in the file, for error messages
    flags: int
    granule: int
    serial: int
    sequence: int
    lacing: bytes
    body: bytes

    def segments(self) -> Iterator[tuple[bytes, bool]]:
        """(bytes, ends its packet) for each run of segments up to a packet's end, and a last
        run that continues onto the next page when the table ends with 255."""
        pos = 0
        start = 0
        for value in self.lacing:
            pos += value
            if value < 255:
                yield self.body[start:pos], True
                start = pos
        if start < pos:
            yield self.body[start:pos], False


@dataclass(frozen=True, slots=True)
class Torn:
    """The file ends inside a page (a writer killed mid-page): everything before it stands."""

    offset: int


def read_pages(f: IO[bytes], where: str) -> Iterator[Page | Torn]:
    """Each page of ``f`` in turn, its CRC checked; a damaged or incomplete page is a
    :class:`Torn` end when nothing but zero bytes follows it, and a :class:`VoiceFormatError`
    otherwise."""
    offset = 0
    while True:
        head = f.read(HEADER_BYTES)
        if not head:
            return
        if len(head) < HEADER_BYTES:
            yield Torn(offset)
            return
        capture, version, flags, granule, serial, sequence, _crc, count = _HEADER.unpack(head)
        if capture != CAPTURE or version != 0 or flags & ~(CONTINUED | BOS | EOS):
            if _only_zeros(head, f):  # a crash can leave zero-filled blocks at the end
                yield Torn(offset)
                return
            raise VoiceFormatError(f"{where}: byte {offset}: not an Ogg page")
        table = f.read(count)
        body = f.read(sum(table)) if len(table) == count else b""
        if len(table) < count or len(body) < sum(table):
            yield Torn(offset)
            return
        data = bytearray(head + table + body)
        struct.pack_into("<I", data, 22, 0)
        if crc32(data) != _crc:
            if _only_zeros(b"", f):  # torn, or zero-filled after the tear
                yield Torn(offset)
                return
            raise VoiceFormatError(f"{where}: byte {offset}: Ogg page fails its CRC check")
        yield Page(offset, flags, granule, serial, sequence, table, body)
        offset += len(data)


def _only_zeros(head: bytes, f: IO[bytes]) -> bool:
    """Whether ``head`` and the rest of ``f`` are all zero bytes."""
    if head.strip(b"\0"):
        return False
    while chunk := f.read(1 << 16):
        if chunk.strip(b"\0"):
            return False
    return True
