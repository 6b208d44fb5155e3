"""Fuzzing the voice file reader (Ogg Opus) and the Opus packet checks: whatever the bytes,
:func:`read_voice` returns sane values (which FFmpeg then decodes without surprise) or raises
one typed, one-line CaptureError; it never hangs and its memory stays bounded.

Budget: FUZZ below (150 examples per test, derandomized), like tests/test_fuzz_capture.py.
Most random bytes fail the page CRC at once, so two strategies mend the CRCs after mutating:
the reader's structural checks are what they exercise.
"""

from __future__ import annotations

import math
import struct
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from capture import ogg
from capture.errors import CaptureError, VoiceFormatError
from capture.opus import RATE, SILENCE, opus_head, opus_tags, packet_samples
from capture.voice import Voice, VoiceWriter, read_voice
from capture.voice_media import pcm_blocks
from tests.support import bounded

FUZZ = settings(
    max_examples=150,
    derandomize=True,
    deadline=timedelta(seconds=2),
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

pytestmark = [pytest.mark.pure, pytest.mark.timeout(60)]


def _read(path: Path) -> Voice | CaptureError:
    result = bounded(lambda: read_voice(path))
    assert isinstance(result, Voice | CaptureError)
    return result


def _check(path: Path) -> None:
    """An accepted voice holds only sane values, and decodes to finite samples."""
    voice = _read(path)
    if not isinstance(voice, Voice):
        return
    assert math.isfinite(voice.start) and abs(voice.start) <= 1e6
    assert voice.channels in (1, 2) and 0 <= voice.pre_skip <= 65535
    samples = 0
    for t, packet in voice.packets:
        assert t == pytest.approx(voice.start + samples / RATE)
        samples += packet_samples(packet, "fuzz")
    assert 0 <= voice.granule <= samples and voice.duration >= 0
    decoded = 0
    try:
        for block in pcm_blocks(voice):
            assert block.dtype == np.float32 and np.all(np.isfinite(block))
            decoded += len(block)
    except VoiceFormatError:
        event("refused by the decoder")
        return
    assert decoded <= max(voice.granule - voice.pre_skip, 0)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz-voice")


def _valid(folder: Path) -> bytes:
    path = folder / "valid.opus"
    if not path.exists():
        with VoiceWriter(path, origin=5.0) as writer:
            for t in (5.0, 5.02, 5.04, 5.3, 5.32):  # a gap: silence pages too
                writer.write(t, SILENCE)
            writer.write(5.34, bytes([0xF8 | 1]) + b"ab")  # two frames
    return path.read_bytes()


def _mend_crcs(data: bytes) -> bytes:
    """Every page whose header and lengths still hold gets a correct CRC again."""
    out = bytearray(data)
    pos = 0
    while pos + 27 <= len(out) and out[pos : pos + 4] == ogg.CAPTURE:
        count = out[pos + 26]
        size = 27 + count + sum(out[pos + 27 : pos + 27 + count])
        if pos + size > len(out):
            break
        struct.pack_into("<I", out, pos + 22, 0)
        struct.pack_into("<I", out, pos + 22, ogg.crc32(out[pos : pos + size]))
        pos += size
    return bytes(out)


@st.composite
def mutated(draw: st.DrawFn, base: bytes) -> bytes:
    data = bytearray(base)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["set", "set", "insert", "delete", "cut"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if op == "set" and data:
            data[at] = draw(st.integers(0, 255))
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif op == "delete":
            del data[at : at + draw(st.integers(1, 8))]
        else:
            del data[at:]
    return _mend_crcs(bytes(data)) if draw(st.integers(0, 3)) else bytes(data)


PACKETS = st.one_of(
    st.just(SILENCE),
    st.binary(max_size=40),
    st.builds(lambda c, p: opus_head(c, p), st.integers(0, 4), st.integers(0, 65535)),
    st.builds(
        lambda k, v: opus_tags("v", {k: v}),
        st.sampled_from(["IMMERSION_START", "immersion_start", "X"]),
        st.sampled_from(["0.5", "-1", "nan", "inf", "1e7", "", "1e-300", "x"])
        | st.text(max_size=8),
    ),
)
GRANULES = st.sampled_from([0, -1, 960, 1920, 2880, 312, 2**63 - 1, -(2**63)]) | st.integers(
    -5, 5000
)


@st.composite
def page_files(draw: st.DrawFn) -> bytes:
    """Well-formed pages (good CRCs) in any arrangement: headers or not, in order or not."""
    pages = []
    serial = draw(st.sampled_from([1, 2]))
    first = [opus_head(1, 312)] if draw(st.booleans()) else draw(st.lists(PACKETS, max_size=2))
    pages.append(ogg.page(serial, 0, 0, first, ogg.BOS))
    for n in range(1, draw(st.integers(1, 6))):
        packets = draw(st.lists(PACKETS, max_size=3))
        flags = draw(st.sampled_from([0, 0, 0, ogg.EOS, ogg.BOS, ogg.CONTINUED]))
        sequence = n if draw(st.integers(0, 9)) else draw(st.integers(0, 9))
        granule = draw(GRANULES)
        pages.append(
            ogg.page(draw(st.sampled_from([serial, serial, 3])), sequence, granule, packets, flags)
        )
    return b"".join(pages)


@FUZZ
@given(data=st.binary(max_size=2000) | st.binary(max_size=200).map(lambda b: b"OggS\0" + b))
def test_random_bytes(folder: Path, data: bytes) -> None:
    path = folder / "bytes.opus"
    path.write_bytes(data)
    _check(path)


@FUZZ
@given(data=st.data())
def test_mutated_voice_files(folder: Path, data: st.DataObject) -> None:
    path = folder / "mutated.opus"
    path.write_bytes(data.draw(mutated(_valid(folder))))
    _check(path)


@FUZZ
@given(data=page_files())
def test_arranged_pages(folder: Path, data: bytes) -> None:
    path = folder / "pages.opus"
    path.write_bytes(data)
    _check(path)


@FUZZ
@given(packet=st.binary(max_size=60))
def test_opus_packet_checks(packet: bytes) -> None:
    try:
        samples = packet_samples(packet, "fuzz")
    except VoiceFormatError as exc:
        assert "\n" not in str(exc)
        return
    assert 120 <= samples <= 5760 and samples % 120 == 0
