"""The thread that sends the room's poses out as VMC: it owns the UDP socket.

Capture hands each pose to :meth:`VmcSender.offer`, which only puts it in a one-pose slot
(replacing one not sent yet) and wakes the thread: a slow network or a stalled receiver drops
frames, never delays capture, never queues up. Poses are immutable; the avatar's
:class:`~immersion.vmc.protocol.Body` is replaced whole by :meth:`VmcSender.use_avatar` (the
render thread calls it when it loads the room's avatar). Nothing is sent until it is known. A send
that fails (no route, a receiver's port closed) is logged once and retried with the next pose.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable

from capture.pose import Pose
from immersion.avatars.rig import Rig, Stride
from immersion.vmc.protocol import Body, VmcError, datagrams, frame_messages

log = logging.getLogger(__name__)


class VmcSender:
    """``target`` (host, port); ``clock`` stamps ``/VMC/Ext/T``."""

    def __init__(self, target: tuple[str, int], clock: Callable[[], float]) -> None:
        self.target = target
        self._body: Body | None = None  # replaced whole, read by the sender thread
        self._clock = clock
        try:
            info = socket.getaddrinfo(*target, type=socket.SOCK_DGRAM)[0]
        except (socket.gaierror, UnicodeError) as exc:
            raise VmcError(f"--vmc {target[0]}:{target[1]}: {exc}") from None
        self._family, self._address = info[0], info[4]
        self._lock = threading.Lock()
        self._slot: Pose | None = None
        self._wake = threading.Event()
        self._stopped = threading.Event()
        self.sent = 0  # frames sent, read by tests and the log
        self._failing = False

    def offer(self, pose: Pose) -> None:
        """The newest pose; one not sent yet is dropped for it."""
        with self._lock:
            self._slot = pose
        self._wake.set()

    def use_avatar(self, rig: Rig) -> None:
        """The room's avatar (re)loaded: its proportions from now on."""
        self._body = Body.of(rig)

    def stop(self) -> None:
        self._stopped.set()
        self._wake.set()

    def run(self) -> None:
        with socket.socket(self._family, socket.SOCK_DGRAM) as sock:
            stride: Stride | None = None
            owner: Body | None = None
            while True:
                self._wake.wait()
                if self._stopped.is_set():
                    return
                with self._lock:
                    pose, self._slot = self._slot, None
                    self._wake.clear()
                body = self._body
                if pose is None or body is None:
                    continue
                if body is not owner:  # another avatar: its own legs
                    owner, stride = body, Stride(body.legs)
                assert stride is not None
                packets = datagrams(frame_messages(pose, body, self._clock(), stride(pose)))
                try:
                    for packet in packets:
                        sock.sendto(packet, self._address)
                except OSError as exc:
                    if not self._failing:
                        log.warning("VMC out to %s:%d: %s", *self.target, exc)
                    self._failing = True
                    continue
                self._failing = False
                self.sent += 1
