"""One typed configuration for a room: what it plays, how it captures, renders, records and
serves. Every bound and rate the room enforces lives here, not in module constants, so a test
or a benchmark can tighten one without patching a module, and the page learns the ones it must
respect from the ``welcome`` message instead of copying them.

Units: seconds, bytes, characters, frames per second, pixels.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from capture.pipeline import CaptureSettings


@dataclass(frozen=True, slots=True)
class HeadsetSettings:
    """The room's ``headset`` section. ``eye_size`` None: what the runtime recommends."""

    eye_size: tuple[int, int] | None = None
    near: float = 0.05  # metres; the avatar's own head is cut away, not clipped by this


@dataclass(frozen=True, slots=True)
class EncoderSettings:
    """The feed's encoders: H.264 (libx264, baseline) and JPEG."""

    gop: int = 60  # frames between H.264 keyframes when nobody asks for one
    crf: int = 23
    jpeg_quality: int = 80


@dataclass(frozen=True, slots=True)
class Limits:
    """What a viewer may send, and what it is sent at most. The page is told these."""

    message_bytes: int = 48 * 1024  # full sides of 4-byte characters, with room to spare
    note_chars: int = 2000
    name_chars: int = 80  # a scene, avatar, camera or marker name
    cue_chars: int = 200  # a cue is a panel for the actor, not a script
    sides_chars: int = 10_000  # the scene's text: a few pages
    sides_lines: int = 1_000
    controls_per_s: float = 20.0  # control messages (everything but acks)
    controls_burst: float = 40.0
    acks_per_s: float = 120.0  # one per frame: room for 60 fps and then some
    acks_burst: float = 240.0
    # Binary messages: an actor's landmarks (up to 60 fps) and voice (50 packets a second), or
    # a director's talkback.
    stream_per_s: float = 150.0
    stream_burst: float = 150.0
    welcome_takes: int = 50  # the newest takes a viewer is sent on connecting
    welcome_notes: int = 100  # the newest notes of each of those
    query_chars: int = 200  # a take library search

    def for_page(self) -> dict[str, float]:
        return {
            "messageBytes": self.message_bytes,
            "noteChars": self.note_chars,
            "nameChars": self.name_chars,
            "cueChars": self.cue_chars,
            "sidesChars": self.sides_chars,
            "queryChars": self.query_chars,
            "controlsPerSecond": self.controls_per_s,
        }


@dataclass(frozen=True, slots=True)
class FeedSettings:
    """The mirror feed: fan-out bounds, the status rate, who may connect."""

    window: int = 2  # frames in flight to one viewer before it acknowledges one
    stall_s: float = 5.0  # a viewer that acknowledges nothing this long is dropped
    write_limit: int = 64 * 1024  # a viewer's socket buffer above which it skips a status
    status_period_s: float = 0.25
    keyframe_gap_s: float = 0.5  # at most one H.264 keyframe request this often
    open_timeout_s: float = 5.0  # a socket that sends no request in this time is closed
    max_viewers: int = 64  # sockets past the handshake; more are refused with 503
    limits: Limits = field(default_factory=Limits)
    # The names browsers reach the room by (serve_cmd.host_names: --name, then the listening
    # address); a request's Host and a browser's Origin must name one. Empty: no browser origin.
    hosts: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RoomSettings:
    """What the room plays and how its stages run."""

    source: str  # a video, a take (.jsonl), a landmarks file, or a camera index
    scene: str
    avatar: str
    camera: str | None = None
    width: int = 1280
    height: int = 720
    fps: float = 30.0  # the mirror's render rate
    takes_dir: Path = Path("takes")
    loop: bool = True  # replay a finite source forever (the demo)
    shading: str = "auto"
    use: str = "corporation"  # checked against every avatar's licence, at start and on a switch
    licensed: bool = False
    bone_map: dict[str, str] | None = None  # for the starting avatar, when a plain glTF
    show_camera: bool = False  # the actor's camera picture goes to viewers only when asked
    headset: HeadsetSettings | None = None  # render to an OpenXR headset too (--headset)
    capture: CaptureSettings = field(default_factory=CaptureSettings)
    switch_gap_s: float = 2.0  # at most one scene or avatar load this often; newest wins
    camera_retry_s: float = 2.0  # a live camera that drops is reopened after this pause
    min_free_bytes: int = 2 << 20  # a take is refused when its disk has less free space
    # An actor's page that drops: the avatar holds their last pose, then eases to standing,
    # and the room's own source resumes if they are not back within the grace period.
    actor_hold_s: float = 1.0
    actor_ease_s: float = 2.0
    actor_grace_s: float = 30.0
    record_talkback: bool = False  # a director's talkback goes into the take's voice file
    vmc: tuple[str, int] | None = None  # send the avatar's pose as VMC (OSC/UDP) to (host, port)


@dataclass(frozen=True, slots=True)
class Config:
    room: RoomSettings
    feed: FeedSettings = field(default_factory=FeedSettings)
    encoder: EncoderSettings = field(default_factory=EncoderSettings)
