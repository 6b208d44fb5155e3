"""The mirror-feed protocol without sockets: header layout pinned, every message round-tripped."""

from __future__ import annotations

import dataclasses
import json
import struct

import numpy as np
import pytest

from capture.landmarks import FaceLandmarks, HandLandmarks
from capture.rotations import axis_angle_quat, quat_to_matrix
from immersion.config import Limits
from immersion.feed.protocol import (
    AUDIO,
    HEADER,
    UPSTREAM,
    Ack,
    ActorPose,
    AudioPacket,
    AudioSource,
    Calibrate,
    Clock,
    Codec,
    Cue,
    Error,
    Hello,
    Leave,
    Marker,
    Note,
    PictureSize,
    PoseParts,
    ProtocolError,
    Reject,
    Scroll,
    Sides,
    Status,
    Steer,
    SwitchCodec,
    TakeControl,
    VideoHeader,
    ViewerProtocol,
    Voice,
    decode_audio,
    decode_video,
    encode_audio,
    encode_pose,
    encode_server,
    encode_video,
    encode_voice,
)

pytestmark = pytest.mark.pure

LIMITS = Limits()
MAX_MESSAGE_BYTES = LIMITS.message_bytes
RATE_BURST = LIMITS.controls_burst
ACK_RATE_BURST = LIMITS.acks_burst
HEADER_EXAMPLE = VideoHeader(Codec.H264, True, 70_000, 3, 1280, 720, 12.5, 12.531, 12.533)


def test_video_header_layout_is_pinned() -> None:
    message = encode_video(HEADER_EXAMPLE, b"\x00\x00\x00\x01payload")
    assert HEADER.size == 48 and len(message) == 48 + 11
    assert message[:4] == b"IMF1" and message[4] == 1 and message[5] == 1 and message[6] == 1
    assert struct.unpack_from(">I", message, 8)[0] == 70_000
    assert struct.unpack_from(">HHH", message, 12) == (3, 1280, 720)
    assert struct.unpack_from(">ddd", message, 20) == (12.5, 12.531, 12.533)
    assert struct.unpack_from(">I", message, 44)[0] == 11
    assert message[48:] == b"\x00\x00\x00\x01payload"


def test_video_round_trip_and_refusals() -> None:
    for codec in Codec:
        header = VideoHeader(codec, codec is Codec.JPEG, 5, 0, 640, 360, 1.0, 2.0, 3.0)
        assert decode_video(encode_video(header, b"abc")) == (header, b"abc")
    message = encode_video(HEADER_EXAMPLE, b"xyz")
    with pytest.raises(ProtocolError, match="shorter than its header"):
        decode_video(message[:20])
    with pytest.raises(ProtocolError, match="payload length 3 != 2"):
        decode_video(message[:-1])
    with pytest.raises(ProtocolError, match="not an IMF1"):
        decode_video(b"XXXX" + message[4:])
    with pytest.raises(ProtocolError, match="unknown codec 9"):
        decode_video(message[:5] + b"\x09" + message[6:])


def test_skipped_count_saturates_instead_of_wrapping() -> None:
    header = VideoHeader(Codec.JPEG, True, 1, 100_000, 16, 16, 0, 0, 0)
    assert decode_video(encode_video(header, b""))[0].skipped == 0xFFFF


def test_server_messages_are_json_objects_with_a_type() -> None:
    text = encode_server(Status({"fps": 29.5, "scene": "noir-office"}))
    assert json.loads(text) == {"type": "status", "fps": 29.5, "scene": "noir-office"}
    assert json.loads(encode_server(Error("no take is rolling"))) == {
        "type": "error",
        "message": "no take is rolling",
        "scope": "request",
    }
    with pytest.raises(ValueError):
        encode_server(Status({"fps": float("nan")}))  # NaN is not JSON; never send it


def test_deeply_nested_json_is_refused_not_a_recursion_error() -> None:
    viewer = ViewerProtocol("director", 0.0)
    event = viewer.receive('{"type": "note", "text": ' + "[" * 1000 + "]" * 1000 + "}", 0.0)
    assert event == Reject("message is nested too deeply")


@pytest.mark.parametrize(
    ("message", "event"),
    [
        ({"type": "hello", "codecs": ["h264", "jpeg", "av1"]}, Hello((Codec.H264, Codec.JPEG))),
        ({"type": "hello", "codecs": ["jpeg"], "audio": True}, Hello((Codec.JPEG,), audio=True)),
        ({"type": "clock", "t": 1234.5}, Clock(1234.5)),
        ({"type": "ack", "frame": 12}, Ack(12)),
        ({"type": "ack", "frame": 12, "drawn": False}, Ack(12, drawn=False)),
        ({"type": "codec", "codec": "jpeg"}, SwitchCodec(Codec.JPEG)),
        ({"type": "camera", "name": "close-up"}, Steer("camera", "close-up")),
        ({"type": "scene", "name": "western-saloon"}, Steer("scene", "western-saloon")),
        ({"type": "avatar", "name": "captain"}, Steer("avatar", "captain")),
        ({"type": "take", "action": "start"}, TakeControl(True)),
        ({"type": "take", "action": "stop"}, TakeControl(False)),
        ({"type": "note", "text": " Lovely pause.\nAgain, slower. "}, Note("Lovely pause.\nAgain, slower.")),
        ({"type": "marker", "label": "big laugh"}, Marker("big laugh")),
        ({"type": "cue", "text": "From the top, softer"}, Cue("From the top, softer")),
    ],
)  # fmt: skip
def test_every_viewer_message_parses(message: dict[str, object], event: object) -> None:
    assert ViewerProtocol("director", 0.0).receive(json.dumps(message), 0.0) == event


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        (b"\x00\x01", "IMU1 landmarks or voice"),
        ("{nope", "not JSON"),
        ("[1, 2]", 'a JSON object with a "type"'),
        ('{"type": "dance"}', "dance: unknown message type"),
        ('{"type": "ack", "frame": -1}', "ack: frame must be a frame number"),
        ('{"type": "ack", "frame": true}', "ack: frame must be a frame number"),
        ('{"type": "ack", "frame": 1, "drawn": "no"}', "ack: drawn must be true or false"),
        ('{"type": "codec", "codec": "vp9"}', "codec: codec must be one of h264, jpeg"),
        ('{"type": "take", "action": "pause"}', 'take: action must be "start" or "stop"'),
        ('{"type": "note", "text": "   "}', "note: text must be a non-empty string"),
        ('{"type": "note", "text": "' + "a" * 2001 + '"}', "note: text is over 2000 characters"),
        (
            '{"type": "marker", "label": "bell\\u0007"}',
            "marker: label has control or invisible formatting characters",
        ),
        ('{"type": "cue", "text": "' + "a" * 201 + '"}', "cue: text is over 200 characters"),
        (
            '{"type": "note", "text": "' + "a" * MAX_MESSAGE_BYTES + '"}',
            f"over {MAX_MESSAGE_BYTES} bytes",
        ),
    ],
)
def test_malformed_messages_are_rejected_with_a_reason(message: str | bytes, reason: str) -> None:
    event = ViewerProtocol("director", 0.0).receive(message, 0.0)
    assert isinstance(event, Reject) and reason in event.reason, event


def test_observers_watch_but_do_not_steer() -> None:
    viewer = ViewerProtocol("observer", 0.0)
    for kind in ("camera", "scene", "avatar", "take", "note", "marker", "cue"):
        event = viewer.receive(json.dumps({"type": kind, "name": "x"}), 0.0)
        assert event == Reject(f"{kind}: only directors steer the room")
    assert viewer.receive('{"type": "ack", "frame": 1}', 0.0) == Ack(1)


def test_message_rate_is_bounded_and_recovers() -> None:
    viewer = ViewerProtocol("director", 0.0)
    note = '{"type": "note", "text": "again"}'
    events = [viewer.receive(note, 0.0) for _ in range(int(RATE_BURST) + 5)]
    assert events[: int(RATE_BURST)] == [Note("again")] * int(RATE_BURST)
    assert all(isinstance(e, Reject) and "at most 20 a second" in e.reason for e in events[-5:])
    assert viewer.receive(note, 1.0) == Note("again")  # a second later: allowance refilled


def test_acks_have_their_own_allowance_for_the_frame_rate() -> None:
    viewer = ViewerProtocol("observer", 0.0)
    # Two minutes of 60 fps acks, with a control message now and then, all accepted.
    for k in range(7200):
        assert viewer.receive(f'{{"type": "ack", "frame": {k}}}', k / 60) == Ack(k)
        if k % 60 == 0:
            assert viewer.receive('{"type": "codec", "codec": "jpeg"}', k / 60) == SwitchCodec(
                Codec.JPEG
            )
    flood = [viewer.receive('{"type": "ack", "frame": 1}', 200.0) for _ in range(300)]
    assert sum(isinstance(e, Reject) for e in flood) == 300 - int(ACK_RATE_BURST)
    # Acks spent do not touch the control allowance, and junk is charged to it.
    junk = [viewer.receive("{junk", 200.0) for _ in range(int(RATE_BURST) + 1)]
    assert junk[0] == Reject("message is not JSON") and "too many" in junk[-1].reason  # type: ignore[union-attr]


@pytest.mark.parametrize("sneaky", ["\u202eevil", "a\u200bb", "x\u2028y", "\x7f", "a\x85b"])
def test_invisible_and_reordering_characters_are_refused(sneaky: str) -> None:
    event = ViewerProtocol("director", 0.0).receive(
        json.dumps({"type": "note", "text": sneaky}), 0.0
    )
    assert isinstance(event, Reject) and "invisible" in event.reason


def test_a_full_note_of_wide_characters_fits_a_message() -> None:
    text = "日" * LIMITS.note_chars  # what the page allows, as JSON.stringify sends it
    message = json.dumps({"type": "note", "text": text}, ensure_ascii=False)
    assert ViewerProtocol("director", 0.0).receive(message, 0.0) == Note(text)


def _pose(t: float = 3.25) -> ActorPose:
    rng = np.random.default_rng(7)
    return ActorPose(
        t, rng.uniform(-1, 1, (33, 3)), rng.uniform(0, 1, (33, 3)), rng.uniform(0, 1, 33)
    )


def test_an_actors_pose_round_trips_within_its_quantisation() -> None:
    pose = _pose()
    message = encode_pose(pose)
    assert len(message) == UPSTREAM.size + 429  # far below a picture: the camera never goes
    event = ViewerProtocol("actor", 0.0).receive(message, 0.0)
    assert isinstance(event, ActorPose) and event.capture_t == 3.25
    assert np.abs(event.world - pose.world).max() <= 0.5e-4  # half a tenth of a millimetre
    assert np.abs(event.image - pose.image).max() <= 0.5e-4
    assert np.abs(event.visibility - pose.visibility).max() <= 0.5 / 255
    assert not event.world.flags.writeable


def _hand(seed: int) -> HandLandmarks:
    rng = np.random.default_rng(seed)
    return HandLandmarks(rng.uniform(-0.12, 0.12, (21, 3)), float(rng.uniform(0.5, 1)))


def _face(rotation: bool = True) -> FaceLandmarks:
    rng = np.random.default_rng(11)
    turn = quat_to_matrix(axis_angle_quat([0.3, 1.0, 0.1], 0.6)) if rotation else None
    return FaceLandmarks(rng.uniform(0, 1, 52), turn, 0.93)


def test_flags_zero_is_the_original_pose_message_byte_for_byte() -> None:
    message = encode_pose(_pose())
    assert message[5] == 0 and len(message) == 16 + 429
    assert struct.unpack_from(">4sBxHd", message) == (b"IMU1", 1, 33, 3.25)


@pytest.mark.parametrize(
    ("face", "left", "right"),
    [(True, True, True), (True, False, False), (False, True, False), (False, False, True)],
)
def test_a_pose_with_face_and_hands_round_trips_within_its_quantisation(
    face: bool, left: bool, right: bool
) -> None:
    pose = dataclasses.replace(
        _pose(),
        face=_face() if face else None,
        left_hand=_hand(1) if left else None,
        right_hand=_hand(2) if right else None,
    )
    message = encode_pose(pose)
    flags = PoseParts(message[5])
    assert (PoseParts.FACE in flags, PoseParts.LEFT_HAND in flags) == (face, left)
    assert len(message) == 16 + 429 + 61 * face + 127 * (left + right)
    event = ViewerProtocol("actor", 0.0).receive(message, 0.0)
    assert isinstance(event, ActorPose), event
    assert np.abs(event.world - pose.world).max() <= 0.5e-4
    for got, sent in ((event.left_hand, pose.left_hand), (event.right_hand, pose.right_hand)):
        assert (got is None) == (sent is None)
        if got is not None and sent is not None:
            assert np.abs(got.world - sent.world).max() <= 0.5e-4
            assert abs(got.score - sent.score) <= 0.5 / 255
    if face:
        assert event.face is not None and pose.face is not None
        assert np.abs(event.face.blendshapes - pose.face.blendshapes).max() <= 0.5 / 255
        assert event.face.rotation is not None and pose.face.rotation is not None
        assert np.abs(event.face.rotation - pose.face.rotation).max() < 2e-4
        assert abs(event.face.score - 0.93) <= 0.5 / 255
    else:
        assert event.face is None


def test_a_face_without_a_head_rotation_sends_a_zero_quaternion() -> None:
    message = encode_pose(dataclasses.replace(_pose(), face=_face(rotation=False)))
    assert message[16 + 429 + 52 : 16 + 429 + 60] == bytes(8)
    event = ViewerProtocol("actor", 0.0).receive(message, 0.0)
    assert isinstance(event, ActorPose) and event.face is not None
    assert event.face.rotation is None


def _with_parts(flags: int, parts: bytes) -> bytes:
    return UPSTREAM.pack(b"IMU1", 1, flags, 33, 0.0) + bytes(429) + parts


_QUAT_X2 = struct.pack(">4h", 32767, 32767, 0, 0)  # norm √2
_FAR_HAND = struct.pack(">h", 10001) + bytes(124) + b"\xff"  # 1.0001 m


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        (_with_parts(8, b""), "parts flags 0x08 name unknown parts"),
        (_with_parts(0x81, bytes(61)), "unknown parts"),
        (_with_parts(1, bytes(60)), "its parts (FACE) in 61, got 33 in 489"),
        (_with_parts(1, bytes(62)), "got 33 in 491"),
        (_with_parts(6, bytes(127)), "LEFT_HAND|RIGHT_HAND) in 254"),
        (_with_parts(0, bytes(61)), "33 landmarks in 429 bytes, got 33 in 490"),
        (_with_parts(1, bytes(52) + _QUAT_X2 + b"\x01"), "not a unit quaternion"),
        (_with_parts(2, _FAR_HAND), "left hand: hand landmarks must be within ±1"),
        (_with_parts(5, bytes(61) + _FAR_HAND), "right hand: hand landmarks"),
        (UPSTREAM.pack(b"IMU1", 2, 1, 0, 0.0) + b"x", "header byte 5 must be 0, got 1"),
    ],
)
def test_bad_pose_parts_are_rejected_with_one_line(message: bytes, reason: str) -> None:
    event = ViewerProtocol("actor", 0.0).receive(message, 0.0)
    assert isinstance(event, Reject) and reason in event.reason, event
    assert "\n" not in event.reason


def test_the_actors_picture_size_is_bounded_and_the_actors_alone() -> None:
    actor = ViewerProtocol("actor", 0.0)
    assert actor.receive('{"type": "picture", "width": 640, "height": 480}', 0.0) == (
        PictureSize(640, 480)
    )
    for bad in ('"width": 0, "height": 480', '"width": 640', '"width": 9000, "height": 1',
                '"width": 640.0, "height": 480', '"width": true, "height": 480'):  # fmt: skip
        event = actor.receive('{"type": "picture", ' + bad + "}", 0.0)
        assert isinstance(event, Reject) and "whole pixels, 1 to 8192" in event.reason, bad
    event = ViewerProtocol("director", 0.0).receive(
        '{"type": "picture", "width": 640, "height": 480}', 0.0
    )
    assert event == Reject("picture: only the actor's page sends this")


def test_only_the_actor_asks_to_be_calibrated() -> None:
    assert ViewerProtocol("actor", 0.0).receive('{"type": "calibrate"}', 0.0) == Calibrate()
    for role in ("director", "observer"):
        event = ViewerProtocol(role, 0.0).receive('{"type": "calibrate"}', 0.0)
        assert event == Reject("calibrate: only the actor's page sends this"), role


def test_a_pose_beyond_the_range_is_clamped_not_wrapped() -> None:
    far = ActorPose(0.0, np.full((33, 3), 5.0), np.full((33, 3), -9.0), np.ones(33))
    event = ViewerProtocol("actor", 0.0).receive(encode_pose(far), 0.0)
    assert isinstance(event, ActorPose)
    assert np.all(event.world > 3.2) and np.all(event.image < -3.2)


def test_voice_and_talkback_by_role() -> None:
    voice = encode_voice(Voice(1.5, b"\xfc\xff\xfe", talkback=False))
    talk = encode_voice(Voice(1.5, b"\xfc\xff\xfe", talkback=True))
    assert ViewerProtocol("actor", 0.0).receive(voice, 0.0) == Voice(1.5, b"\xfc\xff\xfe", False)
    assert ViewerProtocol("director", 0.0).receive(talk, 0.0) == Voice(1.5, b"\xfc\xff\xfe", True)
    assert ViewerProtocol("observer", 0.0).receive(talk, 0.0) == Reject(
        "only directors may talk back"
    )
    assert ViewerProtocol("actor", 0.0).receive(talk, 0.0) == Reject("only directors may talk back")
    for role in ("director", "observer"):
        for message in (voice, encode_pose(_pose())):
            assert ViewerProtocol(role, 0.0).receive(message, 0.0) == Reject(
                "only the actor's link may send a performance"
            )


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        (UPSTREAM.pack(b"IMU1", 9, 0, 0, 0.0), "unknown binary message kind 9"),
        (UPSTREAM.pack(b"IMU1", 1, 0, 33, float("nan")) + bytes(429), "finite"),
        (UPSTREAM.pack(b"IMU1", 1, 0, 32, 0.0) + bytes(429), "33 landmarks in 429 bytes, got 32"),
        (UPSTREAM.pack(b"IMU1", 1, 0, 33, 0.0) + bytes(428), "got 33 in 428"),
        (UPSTREAM.pack(b"IMU1", 2, 0, 0, 0.0), "1 to 1275 bytes of Opus, got 0"),
        (UPSTREAM.pack(b"IMU1", 2, 0, 0, 0.0) + bytes(1276), "got 1276"),
        (b"IMF1" + bytes(40), "IMU1 landmarks or voice"),
    ],
)
def test_bad_binary_messages_are_rejected(message: bytes, reason: str) -> None:
    event = ViewerProtocol("actor", 0.0).receive(message, 0.0)
    assert isinstance(event, Reject) and reason in event.reason, event


def test_binary_streams_have_their_own_allowance() -> None:
    actor = ViewerProtocol("actor", 0.0)
    pose, voice = encode_pose(_pose()), encode_voice(Voice(0.0, b"x", False))
    # A minute of 30 fps landmarks and 50 voice packets a second, and a clock now and then.
    for k in range(60 * 50):
        t = k / 50
        assert isinstance(actor.receive(voice, t), Voice)
        if k % 5 < 3:
            assert isinstance(actor.receive(pose, t), ActorPose)
        if k % 50 == 0:
            assert actor.receive('{"type": "clock", "t": 1}', t) == Clock(1.0)
    flood = [actor.receive(voice, 100.0) for _ in range(400)]
    assert sum(isinstance(e, Reject) for e in flood) == 400 - int(LIMITS.stream_burst)


def test_only_the_actor_leaves() -> None:
    assert ViewerProtocol("actor", 0.0).receive('{"type": "leave"}', 0.0) == Leave()
    assert ViewerProtocol("director", 0.0).receive('{"type": "leave"}', 0.0) == Reject(
        "leave: only the actor's page sends this"
    )
    for kind in ("scene", "take", "cue"):
        event = ViewerProtocol("actor", 0.0).receive(json.dumps({"type": kind, "name": "x"}), 0.0)
        assert event == Reject(f"{kind}: only directors steer the room")


def test_audio_messages_round_trip_with_a_pinned_header() -> None:
    packet = AudioPacket(AudioSource.VOICE, 70_001, 12.02, b"opus!")
    message = encode_audio(packet)
    assert AUDIO.size == 16 and message[:4] == b"IMA1" and message[4] == 1
    assert struct.unpack_from(">Hd", message, 6) == (70_001 & 0xFFFF, 12.02)
    assert decode_audio(message) == AudioPacket(AudioSource.VOICE, 70_001 & 0xFFFF, 12.02, b"opus!")
    with pytest.raises(ProtocolError):
        decode_audio(message[:10])


def test_sides_are_the_directors_and_scrolling_not_the_observers() -> None:
    director = ViewerProtocol("director", 0.0)
    assert director.receive('{"type": "sides", "text": "INT. OFFICE\\nSAM: Sit."}', 0.0) == Sides(
        "INT. OFFICE\nSAM: Sit."
    )
    assert director.receive('{"type": "scroll", "line": 3}', 0.0) == Scroll(3)
    assert ViewerProtocol("actor", 0.0).receive('{"type": "scroll", "line": 0}', 0.0) == Scroll(0)
    refused = {
        ("actor", '{"type": "sides", "text": "x"}'): "only directors",
        ("observer", '{"type": "scroll", "line": 1}'): "observers watch",
        ("director", '{"type": "scroll", "line": -1}'): "whole number",
        ("director", '{"type": "scroll", "line": true}'): "whole number",
        ("director", '{"type": "sides", "text": "' + "x\\n" * 1001 + '"}'): "over 1000 lines",
        ("director", '{"type": "sides", "text": "' + "x" * 10_001 + '"}'): "over 10000",
        ("director", '{"type": "sides", "text": "a\\u202eb"}'): "invisible",
    }
    for (role, message), reason in refused.items():
        event = ViewerProtocol(role, 0.0).receive(message, 0.0)
        assert isinstance(event, Reject) and reason in event.reason, (role, event)
