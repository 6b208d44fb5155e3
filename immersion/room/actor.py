"""The remote actor: their page's landmarks into the room's one capture pipeline.

The feed (on its event loop) tells an :class:`ActorLink` that an actor's page joined, sent a
frame, or left; the capture worker (on its thread) reads the link through an
:class:`ActorSource`, which is a :class:`~capture.sources.Source` like a camera's, so the
actor's landmarks are filtered and retargeted by the same ``pose_stream`` as a local camera's.

One actor performs at a time: a newer page (a reconnect, or the link opened on a second
device) takes over from the older, whose late goodbye is then ignored.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, replace

import numpy as np

from capture.camera import DEFAULT_VFOV_DEG, CameraModel
from capture.landmarks import FloatArray, LandmarkFrame
from capture.pose import Pose
from capture.rotations import axis_angle_quat
from capture.skeleton import Bone

FRAMES_KEPT = 4  # landmark frames waiting for the capture thread; older ones are dropped
# A page's capture time this far off the room's clock is not believed (a clock jump, or a
# page that never lined its clock up); the frame is stamped with its arrival instead.
CLOCK_TRUST_S = 2.0


def believable(capture_t: float, now: float) -> float:
    """A page's capture time (room clock) as the room takes it: never later than ``now``, and
    ``now`` itself when it is off by more than :data:`CLOCK_TRUST_S`."""
    return min(capture_t, now) if abs(capture_t - now) <= CLOCK_TRUST_S else now


@dataclass(frozen=True, slots=True)
class Departure:
    """The actor's page went away: ``explicit`` when they pressed Leave, else a dropped link."""

    explicit: bool


class ActorLink:
    """The mailbox between the feed's loop (writes) and the capture thread (reads)."""

    __slots__ = (
        "_calibrate",
        "_cond",
        "_departure",
        "_frames",
        "_gone",
        "_held",
        "_last_t",
        "_picture",
        "_session",
    )

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._session: int | None = None
        self._picture: tuple[int, int] | None = None  # the actor's camera picture, pixels
        self._calibrate = False  # the actor asked to be calibrated; the capture thread takes it
        self._frames: deque[LandmarkFrame] = deque(maxlen=FRAMES_KEPT)
        self._departure: Departure | None = None
        self._last_t = float("-inf")
        self._held = False  # a dropped page's last pose is held for it
        self._gone = False  # the actor left for good while their dropped page was held

    # The feed's side -------------------------------------------------------------------------

    def join(self, session: int) -> None:
        with self._cond:
            self._session = session
            self._departure = None
            self._picture = None  # until this page says its own
            self._calibrate = False  # a request from the page before is not this one's
            self._held = self._gone = False
            self._cond.notify_all()

    def frame(self, session: int, capture_t: float, now: float, frame: LandmarkFrame) -> bool:
        """Queue one frame of ``session``'s landmarks; False when that page is no longer the
        actor. ``capture_t`` (the page's, on the room clock) is kept when believable, and
        never goes back or past ``now``."""
        t = believable(capture_t, now)
        with self._cond:
            if session != self._session:
                return False
            t = max(t, self._last_t + 1e-3)
            self._last_t = t
            self._frames.append(replace(frame, t=t))
            self._cond.notify_all()
        return True

    def picture(self, session: int, width: int, height: int) -> bool:
        """``session``'s camera picture is ``width`` × ``height`` pixels; False when that page
        is no longer the actor."""
        with self._cond:
            if session != self._session:
                return False
            self._picture = (width, height)
        return True

    def calibrate(self, session: int) -> bool:
        """``session``'s actor relaxes and looks at the camera now: their resting face and head
        become the avatar's rest. False when that page is no longer the actor."""
        with self._cond:
            if session != self._session:
                return False
            self._calibrate = True
        return True

    def leave(self, session: int, explicit: bool) -> bool:
        """``session``'s page went away; False (and nothing changes) when a newer one had
        already taken over. An actor who leaves from a page that reconnected but had not
        performed yet ends the hold on their dropped one."""
        with self._cond:
            if session != self._session:
                if explicit and self._session is None and self._held:
                    self._held, self._gone = False, True
                    self._cond.notify_all()
                    return True
                return False
            self._session = None
            self._held = not explicit
            self._departure = Departure(explicit)
            self._cond.notify_all()
        return True

    # The capture thread's side -----------------------------------------------------------------

    def take_calibration(self) -> bool:
        """Whether the actor asked to be calibrated since the last call (the request is then
        the capture thread's)."""
        with self._cond:
            asked, self._calibrate = self._calibrate, False
            return asked

    def picture_size(self) -> tuple[int, int] | None:
        """The actor's camera picture size as their page last said, or None."""
        with self._cond:
            return self._picture

    def present(self) -> bool:
        with self._cond:
            return self._session is not None

    def wait_for_actor(self, timeout: float) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: self._session is not None, timeout)

    def stop_holding(self) -> None:
        """The grace period is over: the room's own source has the avatar again."""
        with self._cond:
            self._held = False

    def wait_while_away(self, timeout: float) -> str | None:
        """While a dropped page is held: "back" when an actor's page performs again, "gone"
        when the actor left for good, None when neither happened within ``timeout``."""
        with self._cond:
            self._cond.wait_for(lambda: self._session is not None or self._gone, timeout)
            if self._session is not None:
                return "back"
            return "gone" if self._gone else None

    def next(self, timeout: float) -> LandmarkFrame | Departure | None:
        """The oldest waiting frame, or the departure once the frames before it are taken, or
        None when nothing came within ``timeout`` seconds."""
        with self._cond:
            self._cond.wait_for(
                lambda: self._frames or self._session is None or self._departure, timeout
            )
            if self._frames:
                return self._frames.popleft()
            if self._session is None:
                departure = self._departure or Departure(explicit=True)
                self._departure = None
                return departure
            return None


class ActorSource:
    """The actor's page as a live :class:`~capture.sources.Source` of landmark frames; its
    frames end when the page goes away (:attr:`departure` then says how)."""

    name = "the actor's page"
    live = True
    total = None

    def __init__(
        self, link: ActorLink, stop: threading.Event, vfov_deg: float = DEFAULT_VFOV_DEG
    ) -> None:
        self._link = link
        self._stop = stop
        self.vfov_deg = vfov_deg  # a page cannot know its webcam's lens: the room's setting
        self.departure: Departure | None = None

    @property
    def camera(self) -> CameraModel | None:
        """The actor's camera (root motion's model), once their page said its picture size;
        read it per frame: a page may change camera."""
        size = self._link.picture_size()
        return None if size is None else CameraModel(size[0], size[1], self.vfov_deg)

    def frames(self) -> Iterator[LandmarkFrame]:
        while not self._stop.is_set():
            item = self._link.next(timeout=0.25)
            if isinstance(item, Departure):
                self.departure = item
                return
            if item is not None:
                yield item

    def close(self) -> None:
        pass  # the link outlives one stretch of performance


# How far each upper arm comes down from the T-pose for a figure standing at ease.
_ARMS_DOWN_RAD = 1.2


def at_ease(t: float, hips: FloatArray) -> Pose:
    """The pose an avatar settles into while its actor is away: standing, arms down (the
    T-pose rest would read as a frozen rig)."""
    pose = Pose.rest(t)
    rotations = pose.rotations.copy()
    # Avatar space: Y up, facing +Z, left hand on +X; about +Z, a negative turn lowers +X.
    rotations[Bone.LEFT_UPPER_ARM] = axis_angle_quat([0.0, 0.0, 1.0], -_ARMS_DOWN_RAD)
    rotations[Bone.RIGHT_UPPER_ARM] = axis_angle_quat([0.0, 0.0, 1.0], _ARMS_DOWN_RAD)
    return Pose(t, np.array(hips, dtype=np.float64), rotations, pose.confidence)
