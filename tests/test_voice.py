"""Voice files (Ogg Opus on the take's clock): the writer and reader against each other and
against FFmpeg (PyAV) as an independent oracle, torn files, gaps, bad input, a full disk, and
Opus made from a video's sound track."""

from __future__ import annotations

import math
import os
import struct
from pathlib import Path

import numpy as np
import pytest

from capture import ogg
from capture.errors import SourceError, TakeFormatError, VoiceFormatError, VoiceWriteError
from capture.opus import (
    PRE_SKIP,
    RATE,
    SILENCE,
    opus_head,
    opus_tags,
    packet_samples,
    parse_opus_head,
)
from capture.voice import VoiceWriter, read_voice, take_voice
from capture.voice_media import (
    FLOOR_DB,
    aligned_pcm,
    decode_voice,
    levels,
    video_opus,
    voice_levels,
)
from tests.support import tmpfs
from tests.voice_helpers import opus_packets, tone, tone_packets, tone_video

SINE_DB = 20 * math.log10(0.25 / math.sqrt(2))  # a 0.25 sine's RMS: -15.05 dBFS


def _av_decoded(path: Path) -> tuple[int, dict[str, str], list[bytes]]:
    """FFmpeg's reading of a voice file: samples decoded, the stream's tags, the packets."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        assert stream.codec_context.name == "opus" and stream.rate == RATE
        packets = [bytes(p) for p in container.demux(stream) if p.size]
    with av.open(str(path)) as container:
        samples = sum(f.samples for f in container.decode(audio=0))
        tags = dict(container.streams.audio[0].metadata)
    return samples, tags, packets


def _write(path: Path, packets: list[bytes], times: list[float], origin: float = 0.0) -> Path:
    with VoiceWriter(path, origin) as writer:
        for t, packet in zip(times, packets, strict=True):
            writer.write(t, packet)
    return path


# --- Pages and packets ----------------------------------------------------------------------


@pytest.mark.pure
def test_the_page_crc_is_oggs_msb_first_crc32() -> None:
    # CRC-32/CKSUM's check value (same polynomial, init 0, not reflected) with its final XOR
    # undone: an oracle from the CRC catalogue, not from this code.
    assert ogg.crc32(b"123456789") == 0x765E7680 ^ 0xFFFFFFFF
    page = ogg.page(7, 0, 0, [b"x" * 300, b""], ogg.BOS)
    assert page[26] == 3 and page[27:30] == b"\xff\x2d\x00"  # 300 = 255 + 45, then empty
    crc = struct.unpack_from("<I", page, 22)[0]
    zeroed = page[:22] + b"\0\0\0\0" + page[26:]
    assert crc == ogg.crc32(zeroed)


@pytest.mark.pure
def test_packet_durations_follow_the_toc() -> None:
    assert packet_samples(SILENCE, "x") == 960
    assert packet_samples(bytes([0xF8 | 1]) + b"ab", "x") == 1920  # code 1: two equal frames
    assert packet_samples(bytes([0x00 | 3, 3]) + b"abc", "x") == 3 * 480  # SILK NB 10 ms x3
    for bad, why in [
        (b"", "R1"),
        (bytes([0xF9]) + b"abc", "R3"),  # code 1, odd body
        (bytes([0xFA, 200]) + b"a", "R4"),  # code 2, first frame longer than the packet
        (bytes([0xFB, 0]), "R5"),  # code 3, no frames
        (bytes([0x1B, 4]), "R5"),  # code 3, 4 x 60 ms
        (bytes([0xFB, 2]) + b"abc", "R6"),  # CBR, 3 bytes in 2 frames
        (bytes([0xF8]) + b"x" * 1276, "R2"),
    ]:
        with pytest.raises(VoiceFormatError, match=why):
            packet_samples(bad, "x")


# --- Round trips ----------------------------------------------------------------------------


@pytest.mark.pure
def test_a_voice_file_round_trips_through_the_reader_and_through_ffmpeg(tmp_path: Path) -> None:
    packets = tone_packets(1.0)
    origin = 1234.5  # the room clock when the take started
    times = [origin + 0.25 + 0.02 * k for k in range(len(packets))]
    path = _write(tmp_path / "v.opus", packets, times, origin)

    voice = read_voice(path)
    assert not voice.torn_tail and voice.pre_skip == PRE_SKIP and voice.channels == 1
    assert voice.start == pytest.approx(0.25)
    assert [p for _, p in voice.packets] == packets
    np.testing.assert_allclose([t for t, _ in voice.packets], [t - origin for t in times])
    assert voice.duration == pytest.approx((len(packets) * 960 - PRE_SKIP) / RATE)

    samples, tags, demuxed = _av_decoded(path)
    assert demuxed == packets  # FFmpeg checks every page's CRC as it reads
    assert samples == len(packets) * 960 - PRE_SKIP
    assert tags["IMMERSION_START"] == "0.250000"
    decoded = decode_voice(path)
    assert len(decoded.samples) == samples and decoded.start == voice.start
    # The tone comes back at its level (Opus is lossy; the first frames ramp up).
    assert levels(decoded.samples).dbfs[5:-5] == pytest.approx(SINE_DB, abs=1.0)


@pytest.mark.pure
def test_the_reader_reads_ffmpegs_own_ogg_opus(tmp_path: Path) -> None:
    # Several packets a page, an end-trimmed last page, FFmpeg's tags: an independent writer.
    import av

    path = tmp_path / "ffmpeg.opus"
    samples = tone(0.5)
    with av.open(str(path), "w", format="ogg") as container:
        stream = container.add_stream("libopus", rate=RATE, layout="mono")
        for i in range(0, len(samples), 960):
            frame = av.AudioFrame.from_ndarray(samples[None, i : i + 960], "flt", "mono")
            frame.rate, frame.pts = RATE, i
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    voice = read_voice(path)
    assert voice.start == 0.0 and not voice.torn_tail and len(voice.packets) == 26
    assert voice.duration == pytest.approx(0.5)  # FFmpeg trims the end by the last granule
    assert len(decode_voice(path).samples) == 24_000


@pytest.mark.pure
def test_a_file_cut_mid_page_reads_up_to_its_last_whole_page(tmp_path: Path) -> None:
    packets = tone_packets(0.2)
    path = _write(tmp_path / "v.opus", packets, [0.02 * k for k in range(len(packets))])
    data = path.read_bytes()
    ends = []  # where each page ends
    pos = 0
    while pos < len(data):
        pos += 27 + data[pos + 26] + sum(data[pos + 27 : pos + 27 + data[pos + 26]])
        ends.append(pos)
    audio_ends = ends[2:]
    assert len(audio_ends) == len(packets)  # one page a packet
    cut = tmp_path / "cut.opus"
    for whole, end in enumerate(audio_ends[:-1], start=1):
        for into in (1, 27, 30, audio_ends[whole] - end - 1):  # header, table, body
            cut.write_bytes(data[: end + into])
            voice = read_voice(cut)
            assert voice.torn_tail and [p for _, p in voice.packets] == packets[:whole]
            assert voice.granule == 960 * whole
        cut.write_bytes(data[:end])
        assert not read_voice(cut).torn_tail
    # Zero-filled blocks after a crash read as a torn end too, and FFmpeg copes as well.
    cut.write_bytes(data[: audio_ends[3] + 9] + b"\0" * 5000)
    assert len(read_voice(cut).packets) == 4
    assert _av_decoded(cut)[2] == packets[:4]
    # Before the first audio page: a writer killed at once holds nothing.
    for size in (0, 10, ends[1]):
        cut.write_bytes(data[:size])
        assert read_voice(cut).packets == ()


@pytest.mark.pure
def test_a_gap_in_the_clock_is_filled_with_silence(tmp_path: Path) -> None:
    packets = tone_packets(2.0)
    # The connection drops for 1.5 s after the first second: capture times jump.
    times = [0.02 * k + (1.5 if k >= 50 else 0.0) for k in range(len(packets))]
    times = [t + 0.004 * math.sin(k) for k, t in enumerate(times)]  # a few ms of jitter
    with VoiceWriter(tmp_path / "v.opus") as writer:
        for t, packet in zip(times, packets, strict=True):
            writer.write(t, packet)
    assert writer.silent_frames == 75 and writer.dropped == 0
    last_end = 0.02 * len(packets) + 1.5
    samples, _, demuxed = _av_decoded(writer.path)
    assert demuxed.count(SILENCE) == 75
    assert samples / RATE == pytest.approx(last_end - PRE_SKIP / RATE, abs=1e-9)
    voice = read_voice(writer.path)
    assert voice.packets[50][0] == pytest.approx(1.0) and voice.packets[125][0] == pytest.approx(
        2.5
    )
    envelope = voice_levels(writer.path)
    assert envelope.at(0.5) == pytest.approx(SINE_DB, abs=1.0)
    assert envelope.at(1.5) == FLOOR_DB  # the gap is digital silence
    assert envelope.at(3.0) == pytest.approx(SINE_DB, abs=1.0)  # and the tone is back on time


@pytest.mark.pure
def test_early_packets_are_dropped_and_the_first_sets_the_start(tmp_path: Path) -> None:
    packets = tone_packets(0.2)
    with VoiceWriter(tmp_path / "v.opus", origin=10.0) as writer:
        assert writer.start is None and writer.clock is None
        writer.write(9.99, packets[0])  # a hair before the take started: the start is < 0
        writer.write(10.01, packets[1])
        writer.write(9.99, packets[2])  # its place is long filled
        assert writer.start == pytest.approx(-0.01) and writer.clock == pytest.approx(0.03)
    assert (writer.packets, writer.dropped) == (2, 1)
    voice = read_voice(writer.path)
    assert voice.start == pytest.approx(-0.01) and len(voice.packets) == 2


@pytest.mark.pure
def test_aligned_pcm_puts_the_voice_on_the_videos_clock(tmp_path: Path) -> None:
    packets = [SILENCE] * 10
    path = _write(tmp_path / "v.opus", packets, [1.0 + 0.02 * k for k in range(10)])
    voice = read_voice(path)
    lead = np.concatenate(list(aligned_pcm(voice, 0.5)))
    assert len(lead) == round(0.5 * RATE) + 10 * 960 - PRE_SKIP
    late = np.concatenate(list(aligned_pcm(voice, 1.1)))
    assert len(late) == 10 * 960 - PRE_SKIP - round(0.1 * RATE)


# --- Refusals -------------------------------------------------------------------------------


@pytest.mark.pure
def test_bad_times_and_packets_are_refused_and_nothing_is_written(tmp_path: Path) -> None:
    path = tmp_path / "v.opus"
    with VoiceWriter(path) as writer:
        for t, packet, why in [
            (math.nan, SILENCE, "finite"),
            (math.inf, SILENCE, "finite"),
            ("1.0", SILENCE, "finite"),
            (True, SILENCE, "finite"),
            (0.0, b"", "R1"),
            (0.0, "\xf8", "bytes"),
            (0.0, bytes([0xFB, 0]), "R5"),
            (0.0, b"\xf8" * 9000, "over 8192"),
            (2e6, SILENCE, "from the origin"),
        ]:
            with pytest.raises(VoiceFormatError, match=why):
                writer.write(t, packet)  # type: ignore[arg-type]
        assert path.stat().st_size == 0
        writer.write(0.0, SILENCE)
        with pytest.raises(VoiceFormatError, match="3600 s of silence"):
            writer.write(3601.0, SILENCE)
    assert len(read_voice(path).packets) == 1
    with pytest.raises(VoiceWriteError, match="never overwritten"):
        VoiceWriter(path)
    with pytest.raises(VoiceFormatError, match="origin"):
        VoiceWriter(tmp_path / "o.opus", math.nan)
    with pytest.raises(VoiceFormatError, match="pre-skip"):
        VoiceWriter(tmp_path / "p.opus", pre_skip=-1)


def _pages(*pages: tuple[int, list[bytes], int]) -> bytes:
    """A file of pages (granule, packets, flags), serial 1, numbered in order."""
    return b"".join(ogg.page(1, n, g, p, f) for n, (g, p, f) in enumerate(pages))


HEAD = (0, [opus_head(1, 312)], ogg.BOS)
TAGS = (0, [opus_tags("t", {"IMMERSION_START": "2.5"})], 0)


@pytest.mark.pure
def test_the_reader_refuses_what_breaks_the_format(tmp_path: Path) -> None:
    path = tmp_path / "bad.opus"
    good = _pages(HEAD, TAGS, (960, [SILENCE], 0), (1920, [SILENCE], ogg.EOS))
    path.write_bytes(good)
    assert read_voice(path).start == 2.5
    damaged = bytearray(good)
    damaged[len(good) - 40] ^= 1  # inside the third page
    for data, why in [
        (b"RIFF" + b"\0" * 40, "not an Ogg page"),
        (bytes(damaged), "CRC"),
        (_pages((0, [opus_head(1, 312)], 0), TAGS), "does not begin a stream"),
        (_pages(HEAD, TAGS, (960, [SILENCE], ogg.BOS)), "second stream"),
        (_pages(HEAD, TAGS) + ogg.page(1, 3, 960, [SILENCE]), "a page is missing"),
        (_pages(HEAD, TAGS) + ogg.page(2, 2, 960, [SILENCE]), "second stream"),
        (_pages((0, [opus_head(1, 312), b"x"], ogg.BOS)), "alone"),
        (_pages((0, [b"OpusHeaX" + b"\0" * 11], ogg.BOS)), "not an OpusHead"),
        (_pages((0, [opus_head(3, 312)], ogg.BOS)), "mono or stereo"),
        (_pages(HEAD, (0, [b"OpusTagz"], 0)), "not an OpusTags"),
        (_pages(HEAD, (0, [TAGS[1][0], SILENCE], 0)), "headers must end their page"),
        (_pages(HEAD, (0, [opus_tags("t", {"IMMERSION_START": "nan"})], 0)), "not a time"),
        (_pages(HEAD, TAGS, (961, [SILENCE], 0)), "granule position 961"),
        (_pages(HEAD, TAGS, (960, [b"\xfb\x00"], 0)), "R5"),
        (_pages(HEAD, TAGS, (960, [SILENCE], ogg.EOS), (1920, [SILENCE], 0)), "after the end"),
        (_pages(HEAD, (5, [TAGS[1][0]], 0)), "header page's granule"),
    ]:
        path.write_bytes(data)
        with pytest.raises(VoiceFormatError, match=why) as info:
            read_voice(path)
        assert "\n" not in str(info.value) and str(path) in str(info.value)
    with pytest.raises(VoiceFormatError, match="cannot open"):
        read_voice(tmp_path / "none.opus")


@pytest.mark.pure
def test_a_takes_voice_must_be_a_file_beside_the_take(tmp_path: Path) -> None:
    take = tmp_path / "takes" / "t.jsonl"
    take.parent.mkdir()
    assert take_voice(take, {}) is None
    assert take_voice(take, {"voice": "t.opus"}) == take.parent.resolve() / "t.opus"
    (take.parent / "out.opus").symlink_to(tmp_path / "elsewhere.opus")
    for bad in ["../x.opus", "/tmp/x.opus", "sub/x.opus", "", "..", "a\\b.opus", 5, "out.opus"]:
        with pytest.raises(TakeFormatError, match=r"t\.jsonl:1: 'voice'") as info:
            take_voice(take, {"voice": bad})
        assert "\n" not in str(info.value)


def test_a_full_disk_ends_the_voice_file_cleanly(tmp_path: Path) -> None:
    packets = tone_packets(1.0)
    with tmpfs(tmp_path / "tiny", "64k") as disk:
        # tmpfs hands out whole 4 KiB pages: leave one free.
        (disk / "filler.bin").write_bytes(b"\0" * ((os.statvfs(disk).f_bavail - 1) * 4096))
        writer = VoiceWriter(disk / "v.opus")
        with pytest.raises(VoiceWriteError, match="No space left on device"):
            for k in range(10_000):
                writer.write(0.02 * k, packets[k % len(packets)])
        written = writer.packets
        assert written > 5
        with pytest.raises(VoiceWriteError, match="writing failed"):
            writer.write(99.0, SILENCE)  # refused: the file ends where the disk did
        writer.close()
        voice = read_voice(writer.path)
        assert len(voice.packets) == written and not voice.torn_tail  # the torn page is cut


# --- From a video's sound track ---------------------------------------------------------------


@pytest.mark.pure
def test_pyavs_opus_encoder_has_the_pre_skip_voice_files_assume() -> None:
    import av

    encoder = av.CodecContext.create("libopus", "w")
    encoder.rate, encoder.layout, encoder.format = RATE, "mono", "s16"
    encoder.open()
    assert encoder.extradata is not None
    assert parse_opus_head(encoder.extradata, "libopus").pre_skip == PRE_SKIP


@pytest.mark.pure
def test_a_videos_sound_track_becomes_20_ms_opus_packets(tmp_path: Path) -> None:
    video = tone_video(tmp_path / "tone.mp4", 2.0)
    stream = video_opus(video)
    assert stream is not None
    got = list(stream)
    times = [t for t, _ in got]
    assert times[0] == 0.0 and np.allclose(np.diff(times), 0.02)
    assert {packet_samples(p, "x") for _, p in got} == {960}
    assert 2.0 <= len(got) * 0.02 <= 2.1
    with VoiceWriter(tmp_path / "v.opus") as writer:
        for t, packet in got:
            writer.write(t, packet)
    assert writer.silent_frames == 0
    envelope = voice_levels(writer.path)
    assert np.median(envelope.dbfs) == pytest.approx(SINE_DB, abs=1.0)
    assert video_opus(tone_video(tmp_path / "mute.mp4", 1.0, sound=False)) is None
    (tmp_path / "not.mp4").write_bytes(b"no video here")
    with pytest.raises(SourceError, match=r"not\.mp4"):
        video_opus(tmp_path / "not.mp4")
    with pytest.raises(SourceError, match="no such video"):
        video_opus(tmp_path / "none.mp4")


@pytest.mark.fixtures
def test_the_demo_clips_sound_track_becomes_opus(demo: Path) -> None:
    stream = video_opus(demo)
    assert stream is not None  # a track of digital silence, 7.7 s
    packets = [p for _, p in stream]
    assert 7.6 <= len(packets) * 0.02 <= 7.9
    assert len(opus_packets(np.zeros(960, np.float32))) == 2
