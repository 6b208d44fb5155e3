"""The mirror-feed protocol, version 1: bytes and text in, typed events out. No I/O here.

In the manner of the ``websockets`` library's own protocol core, this module only turns wire
messages into values and back; the asyncio server (:mod:`immersion.feed.server`) moves them.

Server → viewer
  * **Video**, a binary message: a fixed 48-byte big-endian header, then the encoded picture.

    ====== ======= =====================================================================
    offset type    field
    ====== ======= =====================================================================
    0      4s      magic ``b"IMF1"``
    4      u8      protocol version (1)
    5      u8      codec: 1 H.264 (Annex B access unit), 2 JPEG
    6      u8      flags: bit 0 keyframe (an H.264 IDR; every JPEG)
    7      u8      reserved, 0
    8      u32     frame number (the room's render counter)
    12     u16     frames skipped for this viewer since the previous one it was sent
    14     u16     width, pixels
    16     u16     height, pixels
    18     u16     reserved, 0
    20     f64     capture time: when the pose in the picture was captured, room clock (s)
    28     f64     render time: when the picture was read back, room clock (s)
    36     f64     send time: when this message was handed to the socket, room clock (s)
    44     u32     payload length, bytes
    ====== ======= =====================================================================

    The room clock is seconds since the room started; ``status`` messages carry its current
    value, so a viewer can line it up with its own clock.
  * **Audio**, a binary message (:data:`AUDIO`): the 16-byte header below, then one Opus packet
    (48 kHz, mono, 20 ms), relayed as the actor's page (or the room's source) made it.

    ====== ======= =====================================================================
    0      4s      magic ``b"IMA1"``
    4      u8      what: 1 the actor's voice, 2 a director's talkback (to the actor only),
                   3 the reader's voice (the take a scene partner plays)
    5      u8      reserved, 0
    6      u16     sequence number, per what (wraps)
    8      f64     capture time, room clock (s)
    ====== ======= =====================================================================
  * **Control and status**, JSON text objects with a ``type`` (:data:`ServerMessage`):
    ``welcome`` (role, the room's choices, the limits the viewer must respect), ``status``
    (several a second; rates fall to 0 when nothing happens), ``takes`` (the newest takes with
    their newest notes, once on connecting), then deltas: ``take`` (one take started, ended or
    was cut short) and ``note`` (one note added); ``cued`` (a director's cue, and where it went);
    ``error`` (``scope`` "request": your message was refused; "room": something went wrong in
    the room and was dealt with; shown once, then it clears).

Actor or director → server, binary (:data:`UPSTREAM`): the 16-byte header below, then a body.

    ====== ======= =====================================================================
    0      4s      magic ``b"IMU1"``
    4      u8      kind: 1 pose landmarks (actors), 2 voice (actors), 3 talkback (directors)
    5      u8      reserved, 0
    6      u16     landmark count (33) for a pose, 0 otherwise
    8      f64     capture time, room clock (s), from the page's own clock and ``clock`` replies
    ====== ======= =====================================================================

    A pose's body is 33 world landmarks (x, y, z as i16 tenths of a millimetre, MediaPipe's
    world axes), 33 image landmarks (x, y, z as i16 ten-thousandths of the picture) and 33
    visibilities (u8, /255): 429 bytes, the camera picture never. A voice body is one Opus
    packet of at most :data:`MAX_OPUS_BYTES`.

    A pose's header byte 5 (:class:`PoseParts`, 0 for a voice) flags optional parts that follow
    the 429 bytes, in this order, each there only when its bit is set (the length must then be
    exactly what the flags add up to; an unknown bit is refused):

    ====== ============= ==========================================================================
    bit    bytes         part
    ====== ============= ==========================================================================
    0      61            face: 52 blendshape weights (u8, /255, :data:`capture.face.ARKIT` order),
                         the head's rotation as a quaternion x, y, z, w (4 × i16, /32767; all 0:
                         not known) in MediaPipe's face-geometry space (+y up, +z toward the camera), and the face's score (u8, /255)
    1      127           the actor's own left hand: 21 world landmarks (x, y, z as i16 tenths of
                         a millimetre, MediaPipe hand world axes), then its score (u8, /255)
    2      127           the actor's own right hand, the same
    ====== ============= ==========================================================================

Viewer → server, JSON text objects with a ``type``:
  * anyone: ``hello`` {codecs: [...], audio: bool} (what it decodes, H.264 preferred; whether
    it wants the actor's voice); ``clock`` {t} (answered at once with ``clock`` {t, room}: a
    page lines its clock up with the room's); ``ack`` {frame,
    drawn} (every frame up to ``frame`` is done with; ``drawn`` is false for one received but
    not shown, e.g. while waiting for a keyframe; frames in flight are bounded by acks);
    ``codec`` {codec} (switch, e.g. to JPEG after a decoder error).
  * directors only: ``camera`` {name}, ``scene`` {name}, ``avatar`` {name}, ``take``
    {action: start|stop}, ``note`` {text}, ``marker`` {label}, ``cue`` {text} (shown to the
    actor in the headset and on the actor's page; taking a take up or down cues "rolling" and
    "cut" by itself), ``sides`` {text} (the scene's text, plain or Markdown, up to
    ``sidesChars`` characters and 1,000 lines, onto the actor's teleprompter; every viewer is
    sent ``sides`` {text, line}, and a viewer joining later gets the current one);
    ``reader`` {action: start|pause|resume|restart|stop, take, avatar} (a scene partner on the
    pack's second mark plays a take: ``take`` is a file name from the welcome's ``takes``,
    ``avatar`` a catalogue name, both for ``start`` only; its state is the status's ``reader``);
    ``replay`` {action: start|pause|resume|seek|stop|voice, take | takes, align, position,
    index} (the main avatar performs a take again with its voice, instead of the live source
    until it stops; two to four ``takes`` play side by side, a strip each, ``align``-ed at
    their starts or at a mark's index each; ``position`` in seconds for ``seek``; ``index``,
    whose voice is heard, for ``voice``; its state, with the takes' notes and markers as
    ``marks`` [{t, kind, text}], is the status's ``replay``).
  * directors and observers: ``library`` {query?, role?, actor?} (the casting record's takes,
    answered with ``library`` {takes: [{file, production, role, actor, date, duration, notes,
    rating, select, myRating}], more}; ``query`` is found in notes and actor and role names).
    Directors only: ``rate`` {take, value: 1-5|null} and ``select`` {take, number|null}: saved
    at once; every director and observer is then sent ``libraryChanged`` {takes} with the rows
    that changed (a filed take too). A room without a casting record refuses all three.
  * directors and the actor: ``scroll`` {line} (the teleprompter's top line).
  * actors only: ``consent`` {version} (the actor agreed to the page's consent text of that
    version: the room records it, and from then on their landmarks drive the avatar; a pose
    before it is refused); ``leave`` {} (the actor ends their session; the room's own source
    resumes at once instead of holding their last pose for a reconnect); ``picture`` {width,
    height} (the size of the camera picture the landmarks come from, pixels: image landmarks
    are fractions of it, and root motion's camera model needs it; the picture itself never);
    ``calibrate`` {} (the actor relaxes and looks at the camera: the next second of their face
    and head becomes the avatar's rest).
  * the audition the room files its takes under, chosen by a director (``audition``), and the
    actor's consent to the use of the takes in their own words (``terms``); everyone is sent
    ``audition``: see :mod:`immersion.feed.audition_wire`.

Presentations (:mod:`immersion.feed.guests`, :mod:`immersion.feed.presenting`):
  * directors: ``presentation`` {action: create, title, takes: [file, ...] (1-24), days (above
    0, at most 366; default 7), showNotes} (answered with ``presentationMade`` {id, title,
    token}: the link's token, once), {action: revoke, id} (its guests are cut off at once) and
    {action: list}; every director is sent ``presentations`` {presentations: [{id, title,
    created, createdBy, expires, revoked, showNotes, state: open|revoked|expired, takes:
    [{file, viewed: [{presentation, take, viewer, at}]}]}]} on asking and on each change.
  * a guest connects to ``/feed?present=TOKEN&name=NAME`` (the page at ``/?present=TOKEN``);
    refused links get ``error`` {message, scope: "presentation"} and a close (1008, reason
    unknown|revoked|expired|name). Otherwise it is sent ``presentation`` {presentation:
    {title, expires, showNotes, viewer, takes: [{file, role, actor, duration, notes?}]},
    limits}, then its own ``status`` {now, replay (only when the room replays its takes;
    marks only with showNotes), busy (why it cannot start one now, or null)}. It may send
    ``hello``, ``clock``, ``ack``, ``codec`` and ``replay`` (start with takes of its
    presentation; pause, resume, seek, stop, voice while the replay is of them); it gets video
    and the replay's voice only while the room plays its takes.

Every viewer message is bounded (:class:`~immersion.config.Limits`: bytes, characters, control
messages and acks a second, each with its own burst). Bad messages become :class:`Reject`
events (answered with an ``error``); they never end the connection.
"""

from __future__ import annotations

import dataclasses
import json
import math
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import IntEnum, IntFlag
from typing import Any, ClassVar, TypeGuard

import numpy as np
from numpy.typing import NDArray

from capture.errors import LandmarkShapeError
from capture.face import ARKIT_COUNT
from capture.landmarks import HAND_LANDMARK_COUNT, FaceLandmarks, HandLandmarks
from capture.rotations import matrix_to_quat, quat_to_matrix
from immersion.casting.presentations import MAX_DAYS as MAX_PRESENTATION_DAYS
from immersion.casting.presentations import MAX_TAKES as MAX_PRESENTED_TAKES
from immersion.config import Limits
from immersion.feed.audition_wire import (
    AuditionChoices,
    AuditionControl,
    AuditionShown,
    FieldError,
    TermsAgreed,
    parse_audition,
    parse_terms,
)
from immersion.room.replay import ACTIONS as REPLAY_ACTIONS
from immersion.room.replay import MAX_TAKES as REPLAY_TAKES
from immersion.text_checks import hidden

VERSION = 1
MAGIC = b"IMF1"
HEADER = struct.Struct(">4sBBBxIHHHxxdddI")
AUDIO = struct.Struct(">4sBxHd")
AUDIO_MAGIC = b"IMA1"
UPSTREAM = struct.Struct(">4sBBHd")
UPSTREAM_MAGIC = b"IMU1"
LANDMARKS = 33
POSE_BODY = LANDMARKS * 13  # 6 × i16 and 1 × u8 a landmark
MAX_OPUS_BYTES = 1275  # RFC 6716's largest frame
WORLD_UNIT = 1e-4  # metres per i16 step: ±3.27 m from the hips
IMAGE_UNIT = 1e-4  # picture widths per i16 step
QUAT_UNIT = 1 / 32767
FACE_PART = ARKIT_COUNT + 4 * 2 + 1  # weights, quaternion, score: 61 bytes
HAND_PART = HAND_LANDMARK_COUNT * 3 * 2 + 1  # landmarks, score: 127 bytes
MAX_PICTURE_PIXELS = 8192  # a side: no webcam is larger
ROLES = ("director", "observer", "actor", "guest")  # guest: a presentation's link


class Codec(IntEnum):
    H264 = 1
    JPEG = 2

    @property
    def label(self) -> str:
        return self.name.lower()


class ProtocolError(ValueError):
    """A message that does not follow this protocol; the text says what is wrong."""


@dataclass(frozen=True, slots=True)
class VideoHeader:
    codec: Codec
    keyframe: bool
    frame: int
    skipped: int
    width: int
    height: int
    capture_t: float
    render_t: float
    send_t: float


def encode_video(header: VideoHeader, payload: bytes) -> bytes:
    """One binary video message."""
    return (
        HEADER.pack(
            MAGIC,
            VERSION,
            int(header.codec),
            1 if header.keyframe else 0,
            header.frame & 0xFFFFFFFF,
            min(header.skipped, 0xFFFF),
            header.width,
            header.height,
            header.capture_t,
            header.render_t,
            header.send_t,
            len(payload),
        )
        + payload
    )


def decode_video(message: bytes) -> tuple[VideoHeader, bytes]:
    """The header and payload of a binary video message (what a viewer does)."""
    if len(message) < HEADER.size:
        raise ProtocolError(f"video message of {len(message)} bytes is shorter than its header")
    magic, version, codec, flags, frame, skipped, w, h, tc, tr, ts, size = HEADER.unpack_from(
        message
    )
    if magic != MAGIC or version != VERSION:
        raise ProtocolError(f"not an IMF{VERSION} video message")
    if codec not in Codec._value2member_map_:
        raise ProtocolError(f"unknown codec {codec}")
    if size != len(message) - HEADER.size:
        raise ProtocolError(f"payload length {size} != {len(message) - HEADER.size} bytes sent")
    header = VideoHeader(Codec(codec), bool(flags & 1), frame, skipped, w, h, tc, tr, ts)
    return header, message[HEADER.size :]


class AudioSource(IntEnum):
    VOICE = 1
    TALKBACK = 2
    READER = 3


@dataclass(frozen=True, slots=True)
class AudioPacket:
    """One Opus packet and when it was captured (room clock)."""

    source: AudioSource
    seq: int
    capture_t: float
    opus: bytes


def encode_audio(packet: AudioPacket) -> bytes:
    return (
        AUDIO.pack(AUDIO_MAGIC, int(packet.source), packet.seq & 0xFFFF, packet.capture_t)
        + packet.opus
    )


def decode_audio(message: bytes) -> AudioPacket:
    """What a viewer does with a binary audio message."""
    if len(message) < AUDIO.size:
        raise ProtocolError(f"audio message of {len(message)} bytes is shorter than its header")
    magic, source, seq, t = AUDIO.unpack_from(message)
    if magic != AUDIO_MAGIC or source not in AudioSource._value2member_map_:
        raise ProtocolError("not an IMA1 audio message")
    return AudioPacket(AudioSource(source), seq, t, message[AUDIO.size :])


def is_audio(message: bytes) -> bool:
    return message[:4] == AUDIO_MAGIC


# Server messages -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Welcome:
    kind: ClassVar[str] = "welcome"
    role: str
    room: Mapping[str, Any]
    status: Mapping[str, Any]
    limits: Mapping[str, float]
    protocol: int = 2


@dataclass(frozen=True, slots=True)
class Status:
    kind: ClassVar[str] = "status"
    status: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Takes:
    kind: ClassVar[str] = "takes"
    takes: Sequence[Mapping[str, Any]]


@dataclass(frozen=True, slots=True)
class TakeUpdate:
    kind: ClassVar[str] = "take"
    take: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class NoteUpdate:
    kind: ClassVar[str] = "note"
    file: str
    note: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Cued:
    kind: ClassVar[str] = "cued"
    text: str
    where: str


@dataclass(frozen=True, slots=True)
class Error:
    kind: ClassVar[str] = "error"
    message: str
    scope: str = "request"  # "request": the viewer's message was refused; "room": a problem


@dataclass(frozen=True, slots=True)
class ClockReply:
    """The answer to a ``clock``: the page's own time sent back, and the room's when it came."""

    kind: ClassVar[str] = "clock"
    t: float
    room: float


@dataclass(frozen=True, slots=True)
class SidesShown:
    """To every viewer: the sides (the scene's text) on the actor's teleprompter, and the line
    at its top."""

    kind: ClassVar[str] = "sides"
    text: str
    line: int


@dataclass(frozen=True, slots=True)
class ActorCue:
    """Sent to the actor's page: a director's cue (``kind`` note, rolling or cut)."""

    kind: ClassVar[str] = "cue"
    cue: str
    text: str


@dataclass(frozen=True, slots=True)
class LibraryList:
    """The answer to a ``library``: the matching takes (rows of
    :meth:`~immersion.casting.library.LibraryTake.to_json`); ``more``: some were left out."""

    kind: ClassVar[str] = "library"
    takes: Sequence[Mapping[str, Any]]
    more: bool = False


@dataclass(frozen=True, slots=True)
class LibraryChanged:
    """To the casting team: takes whose rows changed (filed, rated, selected, renumbered);
    ``myRating`` only in the copy sent to the one who rated."""

    kind: ClassVar[str] = "libraryChanged"
    takes: Sequence[Mapping[str, Any]]


@dataclass(frozen=True, slots=True)
class PresentationList:
    """To directors: every presentation (presentations.to_json rows, never a token), on
    asking and whenever one is made, revoked or viewed."""

    kind: ClassVar[str] = "presentations"
    presentations: Sequence[Mapping[str, Any]]


@dataclass(frozen=True, slots=True)
class PresentationMade:
    """To the director who made it, once: the link's token (the record keeps its hash)."""

    kind: ClassVar[str] = "presentationMade"
    id: int
    title: str
    token: str


@dataclass(frozen=True, slots=True)
class PresentationShown:
    """A guest's welcome: the presentation's title, expiry, the name they gave, its takes
    (presenting.presentation_message) and the limits their page respects."""

    kind: ClassVar[str] = "presentation"
    presentation: Mapping[str, Any]
    limits: Mapping[str, float]


ServerMessage = (
    Welcome
    | LibraryList
    | LibraryChanged
    | Status
    | Takes
    | TakeUpdate
    | NoteUpdate
    | Cued
    | Error
    | ClockReply
    | ActorCue
    | SidesShown
    | AuditionShown
    | AuditionChoices
    | PresentationList
    | PresentationMade
    | PresentationShown
)


def encode_server(message: ServerMessage) -> str:
    """One JSON text message; a status's fields sit at the top level, beside ``type``."""
    if isinstance(message, Status):
        fields: dict[str, Any] = dict(message.status)
    else:
        fields = {f.name: getattr(message, f.name) for f in dataclasses.fields(message)}
    return json.dumps(
        {"type": message.kind, **fields}, separators=(",", ":"), allow_nan=False, default=_plain
    )


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


# Viewer events -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Hello:
    codecs: tuple[Codec, ...]
    audio: bool = False  # wants the actor's voice


@dataclass(frozen=True, slots=True)
class Ack:
    frame: int
    drawn: bool = True


@dataclass(frozen=True, slots=True)
class SwitchCodec:
    codec: Codec


@dataclass(frozen=True, slots=True)
class Steer:
    """A director's command: ``what`` is camera, scene or avatar; ``name`` the choice."""

    what: str
    name: str


@dataclass(frozen=True, slots=True)
class TakeControl:
    start: bool


@dataclass(frozen=True, slots=True)
class Note:
    text: str


@dataclass(frozen=True, slots=True)
class Marker:
    label: str


@dataclass(frozen=True, slots=True)
class Cue:
    text: str


@dataclass(frozen=True, slots=True)
class Clock:
    t: float  # the page's own clock, echoed back


@dataclass(frozen=True, slots=True)
class Leave:
    pass


@dataclass(frozen=True, slots=True)
class Consent:
    version: int  # of the consent text the actor's page showed


@dataclass(frozen=True, slots=True)
class Sides:
    """A director puts the scene's text (plain text or Markdown) on the actor's teleprompter."""

    text: str


@dataclass(frozen=True, slots=True)
class Scroll:
    """A director or the actor moves the teleprompter: ``line`` is its new top line."""

    line: int


@dataclass(frozen=True, slots=True)
class ReaderControl:
    """A director steers the reader; ``take`` and ``avatar`` come with ``start`` only."""

    action: str
    take: str | None = None
    avatar: str | None = None


@dataclass(frozen=True, slots=True)
class ReplayControl:
    """A director replays takes: one on the main avatar, or up to four side by side.
    ``takes`` (and ``align``: a mark's index per take, None for its start) come with ``start``
    only, ``position`` (seconds on the shared timeline) with ``seek``, ``voice`` (a take's
    index, None for silence) with ``voice``."""

    action: str
    takes: tuple[str, ...] = ()
    position: float | None = None
    align: tuple[int | None, ...] = ()
    voice: int | None = None


@dataclass(frozen=True, slots=True)
class LibraryRequest:
    """The casting team asks for the take library: ``text`` in notes or actor/role names;
    ``role``, ``actor`` exact names."""

    text: str = ""
    role: str | None = None
    actor: str | None = None


@dataclass(frozen=True, slots=True)
class RateTake:
    """A director rates a take (its file name) 1 to 5; None takes the rating back."""

    take: str
    value: int | None


@dataclass(frozen=True, slots=True)
class SelectTake:
    """A director makes a take its role's select ``number``; None: no longer a select."""

    take: str
    number: int | None


@dataclass(frozen=True, slots=True)
class Calibrate:
    """The actor relaxes and looks at the camera for a second: their neutral face and head."""


@dataclass(frozen=True, slots=True)
class PictureSize:
    """The actor's camera picture size, pixels (never the picture)."""

    width: int
    height: int


@dataclass(frozen=True, slots=True)
class ActorPose:
    """One frame of the actor's landmarks as their page estimated it, read-only arrays:
    ``world`` (33, 3) metres in MediaPipe world axes, ``image`` (33, 3) in picture widths,
    ``visibility`` (33,) in [0, 1]; ``face`` and each hand (the actor's own sides) when the
    page's face and hand landmarkers found them."""

    capture_t: float
    world: NDArray[np.float64]
    image: NDArray[np.float64]
    visibility: NDArray[np.float64]
    face: FaceLandmarks | None = None
    left_hand: HandLandmarks | None = None
    right_hand: HandLandmarks | None = None


@dataclass(frozen=True, slots=True)
class Voice:
    """One Opus packet from the actor (``talkback`` False) or a director (True)."""

    capture_t: float
    opus: bytes
    talkback: bool


@dataclass(frozen=True, slots=True)
class PresentationControl:
    """A director makes (title, takes, days until it expires, whether notes show), revokes
    (id) or lists presentations."""

    action: str
    title: str = ""
    takes: tuple[str, ...] = ()
    days: float = 7.0
    show_notes: bool = False
    id: int | None = None


@dataclass(frozen=True, slots=True)
class Reject:
    """A message refused; ``reason`` goes back to the viewer in an ``error``."""

    reason: str


Event = (
    Hello
    | Ack
    | SwitchCodec
    | Steer
    | TakeControl
    | Note
    | Marker
    | Cue
    | Clock
    | Leave
    | Consent
    | PictureSize
    | Calibrate
    | Sides
    | Scroll
    | ReaderControl
    | ReplayControl
    | LibraryRequest
    | RateTake
    | SelectTake
    | AuditionControl
    | TermsAgreed
    | ActorPose
    | Voice
    | Reject
    | PresentationControl
)

DIRECTOR_ONLY = frozenset(
    {"camera", "scene", "avatar", "take", "note", "marker", "cue", "sides", "reader", "replay",
     "rate", "select"}
)  # fmt: skip
# The casting team's: the take library is not the actor's to browse.
CASTING_TEAM_ONLY = frozenset({"library"})
MAX_SELECT = 999  # a select number; casting offices count a handful
READER_ACTIONS = ("start", "pause", "resume", "restart", "stop")
MAX_ALIGN_MARK = 1000  # a mark's index; a replay lists at most 100
MAX_REPLAY_POSITION = 24 * 3600.0  # seconds; no take runs a day
# Either the directors or the actor may do these; observers watch.
NOT_OBSERVERS = frozenset({"scroll"})
ACTOR_ONLY = frozenset({"leave", "consent", "picture", "calibrate"})
# The audition is a director's to choose; the consent to its use is the actor's to give.
DIRECTOR_ONLY = DIRECTOR_ONLY | {"audition"}
ACTOR_ONLY = ACTOR_ONLY | {"terms"}
# A presentation's guest sends only these; the feed checks its replays against the presentation.
GUEST_KINDS = frozenset({"hello", "clock", "ack", "codec", "replay"})
PRESENTATION_ACTIONS = ("create", "revoke", "list")


class Upstream(IntEnum):
    POSE = 1
    VOICE = 2
    TALKBACK = 3


class PoseParts(IntFlag):
    """A pose message's optional parts (its header's byte 5), in the order they follow."""

    FACE = 1
    LEFT_HAND = 2
    RIGHT_HAND = 4


_PART_BYTES = {PoseParts.FACE: FACE_PART, PoseParts.LEFT_HAND: HAND_PART,
               PoseParts.RIGHT_HAND: HAND_PART}  # fmt: skip
_ALL_PARTS = int(PoseParts.FACE | PoseParts.LEFT_HAND | PoseParts.RIGHT_HAND)


# Who may send each binary kind.
_UPSTREAM_ROLE = {Upstream.POSE: "actor", Upstream.VOICE: "actor", Upstream.TALKBACK: "director"}


class _Bucket:
    """A token bucket: ``rate`` messages a second (time in seconds), bursts of ``burst``."""

    __slots__ = ("_allowance", "_last", "burst", "rate")

    def __init__(self, rate: float, burst: float, now: float) -> None:
        self.rate, self.burst = rate, burst
        self._allowance, self._last = burst, now

    def take(self, now: float) -> bool:
        self._allowance = min(self.burst, self._allowance + (now - self._last) * self.rate)
        self._last = now
        if self._allowance < 1.0:
            return False
        self._allowance -= 1.0
        return True


class ViewerProtocol:
    """One viewer's side of the protocol, as the server sees it: rate limit, size bound, role.

    Time is passed in (``now``, seconds, any monotonic clock) so tests need no clock. Acks,
    control messages and binary streams (an actor's landmarks and voice, a director's talkback)
    have separate rate limits, so a fast video stream cannot starve a director's controls, a
    flood of controls cannot hide behind the ack allowance, and a voice cannot crowd out a cue.
    """

    __slots__ = ("_acks", "_controls", "_streams", "limits", "role")

    def __init__(self, role: str, now: float, limits: Limits | None = None) -> None:
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}")
        self.role = role
        self.limits = limits = limits or Limits()
        self._acks = _Bucket(limits.acks_per_s, limits.acks_burst, now)
        self._controls = _Bucket(limits.controls_per_s, limits.controls_burst, now)
        self._streams = _Bucket(limits.stream_per_s, limits.stream_burst, now)

    def receive(self, message: str | bytes, now: float) -> Event:
        """The event for one message from the viewer."""
        if isinstance(message, bytes):
            if not self._streams.take(now):
                return Reject(
                    f"too many binary messages (at most {self.limits.stream_per_s:g} a second)"
                )
            try:
                return _upstream(message, self.role)
            except ProtocolError as exc:
                return Reject(str(exc))
        data = _json_object(message, self.limits.message_bytes)
        kind = data.get("type") if isinstance(data, dict) else None
        bucket, limit = (
            (self._acks, self.limits.acks_per_s)
            if kind == "ack"
            else (self._controls, self.limits.controls_per_s)
        )
        if not bucket.take(now):  # bad messages count against the control allowance too
            return Reject(f"too many messages (at most {limit:g} a second)")
        if isinstance(data, Reject):
            return data
        if not isinstance(data, dict) or not isinstance(kind, str):
            return Reject('message must be a JSON object with a "type"')
        if self.role == "guest":  # a presentation's guest: a few kinds, its own checks after
            if kind not in GUEST_KINDS:
                return Reject(
                    f"{kind[:40]}: a presentation's guest only watches and replays its takes"
                )
            try:
                return _parse(kind, data, self.limits)
            except ProtocolError as exc:
                return Reject(f"{kind[:40]}: {exc}")
        if kind == "presentation" and self.role != "director":
            return Reject("presentation: only directors make and revoke presentations")
        if kind in DIRECTOR_ONLY and self.role != "director":
            if kind in ("rate", "select"):
                return Reject(f"{kind}: observers see ratings and selects; directors set them")
            return Reject(f"{kind}: only directors steer the room")
        if kind in ACTOR_ONLY and self.role != "actor":
            return Reject(f"{kind}: only the actor's page sends this")
        if kind in CASTING_TEAM_ONLY and self.role == "actor":
            return Reject(f"{kind}: the take library is the casting team's")
        if kind in NOT_OBSERVERS and self.role == "observer":
            return Reject(f"{kind}: observers watch; a director or the actor does this")
        try:
            return _parse(kind, data, self.limits)
        except ProtocolError as exc:
            return Reject(f"{kind[:40]}: {exc}")


def _upstream(message: bytes, role: str) -> ActorPose | Voice:
    """An actor's pose or voice, or a director's talkback, from one binary message."""
    if len(message) < UPSTREAM.size or message[:4] != UPSTREAM_MAGIC:
        raise ProtocolError("binary messages must be IMU1 landmarks or voice")
    _, kind, flags, count, t = UPSTREAM.unpack_from(message)
    if kind not in Upstream._value2member_map_:
        raise ProtocolError(f"unknown binary message kind {kind}")
    kind = Upstream(kind)
    if _UPSTREAM_ROLE[kind] != role:
        if kind is Upstream.TALKBACK:
            raise ProtocolError("only directors may talk back")
        raise ProtocolError("only the actor's link may send a performance")
    if not math.isfinite(t):
        raise ProtocolError("capture time must be finite seconds")
    body = message[UPSTREAM.size :]
    if kind is Upstream.POSE:
        return _pose(t, count, flags, body)
    if flags:
        raise ProtocolError(f"a voice packet has no parts: header byte 5 must be 0, got {flags}")
    if not 0 < len(body) <= MAX_OPUS_BYTES:
        raise ProtocolError(
            f"a voice packet is 1 to {MAX_OPUS_BYTES} bytes of Opus, got {len(body)}"
        )
    return Voice(t, bytes(body), kind is Upstream.TALKBACK)


def _pose(t: float, count: int, flags: int, body: bytes) -> ActorPose:
    if flags & ~_ALL_PARTS:
        raise ProtocolError(f"a pose's parts flags {flags:#04x} name unknown parts")
    parts = PoseParts(flags)
    size = POSE_BODY + sum(n for part, n in _PART_BYTES.items() if part in parts)
    if count != LANDMARKS or len(body) != size:
        raise ProtocolError(
            f"a pose is {LANDMARKS} landmarks in {POSE_BODY} bytes"
            + (f" and its parts ({parts.name}) in {size - POSE_BODY}" if parts else "")
            + f", got {count} in {len(body)}"
        )
    coords = np.frombuffer(body, ">i2", LANDMARKS * 6).reshape(LANDMARKS, 6)
    world = coords[:, :3] * WORLD_UNIT
    image = coords[:, 3:] * IMAGE_UNIT
    visibility = np.frombuffer(body, np.uint8, LANDMARKS, LANDMARKS * 12) / 255.0
    for arr in (world, image, visibility):
        arr.flags.writeable = False
    at = POSE_BODY
    face = None
    found: dict[PoseParts, HandLandmarks] = {}
    if PoseParts.FACE in parts:
        face = _face(body[at : at + FACE_PART])
        at += FACE_PART
    for side in (PoseParts.LEFT_HAND, PoseParts.RIGHT_HAND):
        if side in parts:
            found[side] = _hand(body[at : at + HAND_PART], side)
            at += HAND_PART
    return ActorPose(
        t,
        world,
        image,
        visibility,
        face,
        found.get(PoseParts.LEFT_HAND),
        found.get(PoseParts.RIGHT_HAND),
    )


def _face(part: bytes) -> FaceLandmarks:
    weights = np.frombuffer(part, np.uint8, ARKIT_COUNT) / 255.0
    q = np.frombuffer(part, ">i2", 4, ARKIT_COUNT) * QUAT_UNIT
    rotation = None
    if np.any(q):
        norm = float(np.linalg.norm(q))
        if not 0.99 <= norm <= 1.01:
            raise ProtocolError(f"the face's rotation is not a unit quaternion (norm {norm:.3f})")
        rotation = quat_to_matrix(q / norm)
    return FaceLandmarks(weights, rotation, part[-1] / 255.0)


def _hand(part: bytes, side: PoseParts) -> HandLandmarks:
    world = np.frombuffer(part, ">i2", HAND_LANDMARK_COUNT * 3).reshape(-1, 3) * WORLD_UNIT
    try:
        return HandLandmarks(world, part[-1] / 255.0)
    except LandmarkShapeError as exc:
        which = "left" if side is PoseParts.LEFT_HAND else "right"
        raise ProtocolError(f"{which} hand: {exc}") from None


def encode_pose(pose: ActorPose) -> bytes:
    """What an actor's page sends for one frame (the tests' and benchmarks' page stand-in
    uses it; the page's own encoder is in ``web/actor.js``)."""
    world = np.clip(np.round(pose.world / WORLD_UNIT), -32768, 32767)
    image = np.clip(np.round(pose.image / IMAGE_UNIT), -32768, 32767)
    coords = np.concatenate([world, image], axis=1).astype(">i2")
    parts = [coords.tobytes(), _unit_bytes(pose.visibility)]
    flags = PoseParts(0)
    if pose.face is not None:
        flags |= PoseParts.FACE
        rotation = pose.face.rotation
        q = np.zeros(4) if rotation is None else matrix_to_quat(rotation)
        parts += [
            _unit_bytes(pose.face.blendshapes),
            np.round(q / QUAT_UNIT).astype(">i2").tobytes(),
            _unit_bytes(np.array([pose.face.score])),
        ]
    for side, hand in (
        (PoseParts.LEFT_HAND, pose.left_hand),
        (PoseParts.RIGHT_HAND, pose.right_hand),
    ):
        if hand is not None:
            flags |= side
            xyz = np.clip(np.round(hand.world / WORLD_UNIT), -32768, 32767).astype(">i2")
            parts += [xyz.tobytes(), _unit_bytes(np.array([hand.score]))]
    head = UPSTREAM.pack(UPSTREAM_MAGIC, int(Upstream.POSE), int(flags), LANDMARKS, pose.capture_t)
    return head + b"".join(parts)


def _unit_bytes(values: NDArray[np.float64]) -> bytes:
    """Values in [0, 1] as u8 /255."""
    return np.clip(np.round(values * 255), 0, 255).astype(np.uint8).tobytes()


def encode_voice(voice: Voice) -> bytes:
    kind = Upstream.TALKBACK if voice.talkback else Upstream.VOICE
    return UPSTREAM.pack(UPSTREAM_MAGIC, int(kind), 0, 0, voice.capture_t) + voice.opus


def _json_object(message: str, max_bytes: int) -> Any:
    """The decoded JSON of a text message within the size bound, or the Reject for it."""
    if len(message.encode("utf-8", "replace")) > max_bytes:
        return Reject(f"message over {max_bytes} bytes")
    try:
        return json.loads(message)
    except RecursionError:
        return Reject("message is nested too deeply")
    except ValueError:
        return Reject("message is not JSON")


def _parse(kind: str, data: dict[str, Any], limits: Limits) -> Event:
    if kind == "hello":
        codecs = data.get("codecs")
        if not isinstance(codecs, list) or len(codecs) > 8:
            raise ProtocolError("codecs must be a list of at most 8 names")
        known = tuple(
            Codec[c.upper()]
            for c in codecs
            if isinstance(c, str) and c.upper() in Codec.__members__
        )
        audio = data.get("audio", False)
        if not isinstance(audio, bool):
            raise ProtocolError("audio must be true or false")
        return Hello(known, audio)
    if kind == "clock":
        t = data.get("t")
        if not isinstance(t, int | float) or isinstance(t, bool) or not math.isfinite(t):
            raise ProtocolError("t must be a finite number")
        return Clock(float(t))
    if kind == "leave":
        return Leave()
    if kind == "calibrate":
        return Calibrate()
    if kind == "picture":
        width, height = data.get("width"), data.get("height")
        if not (_pixels(width) and _pixels(height)):
            raise ProtocolError(f"width and height must be whole pixels, 1 to {MAX_PICTURE_PIXELS}")
        return PictureSize(width, height)
    if kind == "consent":
        version = data.get("version")
        if not isinstance(version, int) or isinstance(version, bool) or not 0 < version < 1000:
            raise ProtocolError("version must be the consent text's version number")
        return Consent(version)
    if kind == "ack":
        frame = data.get("frame")
        if not isinstance(frame, int) or isinstance(frame, bool) or not 0 <= frame < 2**32:
            raise ProtocolError("frame must be a frame number")
        drawn = data.get("drawn", True)
        if not isinstance(drawn, bool):
            raise ProtocolError("drawn must be true or false")
        return Ack(frame, drawn)
    if kind == "codec":
        return SwitchCodec(_codec(data.get("codec")))
    if kind in ("camera", "scene", "avatar"):
        return Steer(kind, _text(data, "name", limits.name_chars))
    if kind == "take":
        action = data.get("action")
        if action not in ("start", "stop"):
            raise ProtocolError('action must be "start" or "stop"')
        return TakeControl(action == "start")
    if kind == "note":
        return Note(_text(data, "text", limits.note_chars))
    if kind == "marker":
        return Marker(_text(data, "label", limits.name_chars))
    if kind == "cue":
        return Cue(_text(data, "text", limits.cue_chars))
    if kind == "sides":
        text = _text(data, "text", limits.sides_chars)
        if text.count("\n") >= limits.sides_lines:
            raise ProtocolError(f"text is over {limits.sides_lines} lines")
        return Sides(text)
    if kind == "reader":
        return _reader(data, limits)
    if kind == "replay":
        return _replay(data, limits)
    if kind == "library":
        return _library(data, limits)
    if kind == "rate":
        value = data.get("value", False)  # missing is not null: null takes a rating back
        if value is not None and (type(value) is not int or not 1 <= value <= 5):
            raise ProtocolError("value must be a whole number from 1 to 5, or null")
        return RateTake(_take_name(data, limits), value)
    if kind == "select":
        number = data.get("number", False)
        if number is not None and (type(number) is not int or not 1 <= number <= MAX_SELECT):
            raise ProtocolError(f"number must be a whole number from 1 to {MAX_SELECT}, or null")
        return SelectTake(_take_name(data, limits), number)
    if kind == "scroll":
        line = data.get("line")
        if (
            not isinstance(line, int)
            or isinstance(line, bool)
            or not 0 <= line < limits.sides_lines
        ):
            raise ProtocolError(f"line must be a whole number from 0 to {limits.sides_lines - 1}")
        return Scroll(line)
    if kind in ("audition", "terms"):
        try:
            return parse_audition(data) if kind == "audition" else parse_terms(data)
        except FieldError as exc:
            raise ProtocolError(str(exc)) from None
    if kind == "presentation":
        return _presentation(data, limits)
    raise ProtocolError("unknown message type")


def _presentation(data: dict[str, Any], limits: Limits) -> PresentationControl:
    """A director's ``presentation`` {action: create, title, takes, days?, showNotes?} |
    {action: revoke, id} | {action: list}."""
    action = data.get("action")
    if action not in PRESENTATION_ACTIONS:
        raise ProtocolError(f"action must be one of {', '.join(PRESENTATION_ACTIONS)}")
    if action == "list":
        return PresentationControl(action)
    if action == "revoke":
        pid = data.get("id")
        if type(pid) is not int or not 0 < pid < 2**53:
            raise ProtocolError("id must be a presentation's number")
        return PresentationControl(action, id=pid)
    title = _text(data, "title", limits.name_chars)
    takes = data.get("takes")
    if not isinstance(takes, list) or not 1 <= len(takes) <= MAX_PRESENTED_TAKES:
        raise ProtocolError(f"takes must be a list of 1 to {MAX_PRESENTED_TAKES} take names")
    names = tuple(_take_name({"take": t}, limits) for t in takes)
    days = data.get("days", 7)
    if (
        not isinstance(days, int | float)
        or isinstance(days, bool)
        or not 0 < days <= MAX_PRESENTATION_DAYS  # NaN fails too
    ):
        raise ProtocolError(
            f"days must be a number of days above 0, at most {MAX_PRESENTATION_DAYS}"
        )
    show = data.get("showNotes", False)
    if not isinstance(show, bool):
        raise ProtocolError("showNotes must be true or false")
    return PresentationControl(action, title, names, float(days), show)


def _reader(data: dict[str, Any], limits: Limits) -> ReaderControl:
    action = data.get("action")
    if action not in READER_ACTIONS:
        raise ProtocolError(f"action must be one of {', '.join(READER_ACTIONS)}")
    if action != "start":
        extra = next((k for k in ("take", "avatar") if k in data), None)
        if extra is not None:
            raise ProtocolError(f"{extra} comes with start only")
        return ReaderControl(action)
    take = _text(data, "take", limits.name_chars)
    if "/" in take or "\\" in take or take.startswith("."):
        raise ProtocolError("take must be a take's file name from the room's list, not a path")
    return ReaderControl(action, take, _text(data, "avatar", limits.name_chars))


def _replay(data: dict[str, Any], limits: Limits) -> ReplayControl:
    action = data.get("action")
    if action not in REPLAY_ACTIONS:
        raise ProtocolError(f"action must be one of {', '.join(REPLAY_ACTIONS)}")
    owners = {"take": "start", "takes": "start", "align": "start", "position": "seek"}
    stray = next((k for k, own in owners.items() if k in data and own != action), None)
    if stray is not None:
        raise ProtocolError(f"{stray} comes with {owners[stray]} only")
    if action == "voice" and "index" not in data:
        raise ProtocolError("voice needs index: a take's index, or null for silence")
    if action != "voice" and "index" in data:
        raise ProtocolError("index comes with voice only")
    if action == "start":
        takes = _replay_takes(data, limits)
        align = data.get("align", [None] * len(takes))
        if not isinstance(align, list) or len(align) != len(takes):
            raise ProtocolError("align must be a list with an entry per take")
        if not all(a is None or _index(a, MAX_ALIGN_MARK) for a in align):
            raise ProtocolError("align entries must be a mark's index or null (its start)")
        return ReplayControl(action, takes=takes, align=tuple(align))
    if action == "seek":
        position = data.get("position")
        if not isinstance(position, int | float) or isinstance(position, bool):
            raise ProtocolError("position must be a number of seconds into the take")
        if not 0.0 <= position <= MAX_REPLAY_POSITION:  # NaN fails too
            raise ProtocolError("position must be a number of seconds into the take")
        return ReplayControl(action, position=float(position))
    if action == "voice":
        index = data["index"]
        if not (index is None or _index(index, REPLAY_TAKES)):
            raise ProtocolError(f"index must be a take's index (0 to {REPLAY_TAKES - 1}) or null")
        return ReplayControl(action, voice=index)
    return ReplayControl(action)


def _replay_takes(data: dict[str, Any], limits: Limits) -> tuple[str, ...]:
    """A start's takes: ``take`` (one) or ``takes`` (1 to 4 distinct names), not both."""
    if "take" in data and "takes" in data:
        raise ProtocolError("take or takes, not both")
    if "takes" not in data:
        return (_take_name(data, limits),)
    names = data["takes"]
    if not isinstance(names, list) or not 1 <= len(names) <= REPLAY_TAKES:
        raise ProtocolError(f"takes must be a list of 1 to {REPLAY_TAKES} take names")
    takes = tuple(_take_name({"take": name}, limits) for name in names)
    if len(set(takes)) != len(takes):
        raise ProtocolError("takes must differ: side by side compares different takes")
    return takes


def _index(value: Any, bound: int) -> TypeGuard[int]:
    return type(value) is int and 0 <= value < bound


def _library(data: dict[str, Any], limits: Limits) -> LibraryRequest:
    text = data.get("query", "")
    if not isinstance(text, str) or len(text) > limits.query_chars:
        raise ProtocolError(f"query must be text of at most {limits.query_chars} characters")
    if hidden(text):
        raise ProtocolError("query has control or invisible formatting characters")
    names = {k: _text(data, k, limits.query_chars) if data.get(k) is not None else None
             for k in ("role", "actor")}  # fmt: skip
    return LibraryRequest(text.strip(), names["role"], names["actor"])


def _take_name(data: dict[str, Any], limits: Limits) -> str:
    take = _text(data, "take", limits.name_chars)
    if "/" in take or "\\" in take or take.startswith("."):
        raise ProtocolError("take must be a take's file name from the library, not a path")
    return take


def _pixels(value: Any) -> TypeGuard[int]:
    return type(value) is int and 0 < value <= MAX_PICTURE_PIXELS


def _codec(value: Any) -> Codec:
    if not isinstance(value, str) or value.upper() not in Codec.__members__:
        raise ProtocolError(f"codec must be one of {', '.join(c.label for c in Codec)}")
    return Codec[value.upper()]


def _text(data: dict[str, Any], key: str, limit: int) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ProtocolError(f"{key} must be a non-empty string")
    if len(value) > limit:
        raise ProtocolError(f"{key} is over {limit} characters")
    if hidden(value, "\n\t"):  # a note may hold lines and tabs, nothing invisible
        raise ProtocolError(f"{key} has control or invisible formatting characters")
    return value.strip()
