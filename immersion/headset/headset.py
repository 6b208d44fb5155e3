"""The headset, as the room's render thread sees it: the stage through the actor's eyes.

:class:`Headset` joins the OpenXR session (:mod:`immersion.xr.session`) to the stage: the two
eye buffers, the sky around the set, the cue panel, the teleprompter, the tally camera on the
active preset and the actor's controllers. Its
:meth:`Headset.frames` wraps the session's frame loop: before each frame is yielded the eyes
are posed and the controllers read; after the caller has rendered, the eyes are copied into
the swapchain and the frame is submitted.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

import numpy as np

from capture.skeleton import Bone
from immersion.config import HeadsetSettings
from immersion.headset.cues import CuePanel
from immersion.headset.eyes import Eyes, masks
from immersion.headset.prompter import Prompter
from immersion.headset.sky import sky_dome
from immersion.headset.tally import TallyCamera
from immersion.room.messages import SidesState
from immersion.stage import space
from immersion.stage.stage import Stage
from immersion.xr.controls import Placement, Press
from immersion.xr.maths import pose_matrix
from immersion.xr.session import Frame, XrSession

HAND_SIZE = 0.09  # metres: the controller marker's length
HEAD_CUTAWAY = (0.09, 0.25)  # metres: sphere centre above the avatar's head joint, radius


def _never() -> bool:
    return False


class Headset:
    def __init__(
        self,
        settings: HeadsetSettings,
        on_press: Callable[[Press], None],
        rolling: Callable[[], bool] = _never,
    ) -> None:
        """``rolling``: whether a take rolls now (the recorder's word), read each frame for
        the tally lamp."""
        self.settings = settings
        self.on_press = on_press
        self.rolling = rolling
        self.session = XrSession(eye_size=settings.eye_size)
        self.eyes: Eyes | None = None
        self.cues: CuePanel | None = None
        self.prompter: Prompter | None = None
        self.tally: TallyCamera | None = None
        self._sky: Any = None
        self._hands: dict[str, Any] = {}
        self._head: Any = None  # the avatar's exposed head joint
        self._head_of: Any = None

    def open(self, stage: Stage) -> None:
        """Start the session on the GL context current on this thread (the stage's), then
        build what the actor sees. Raises :class:`~immersion.xr.errors.HeadsetError`."""
        self.session.__enter__()
        try:
            chain = self.session.swapchains[0]
            self.eyes = Eyes.open(stage, chain.width, chain.height, near=self.settings.near)
            mirror, _ = masks()
            self.cues = CuePanel(self.eyes.origin, mirror)
            self.prompter = Prompter(self.eyes.origin, mirror)
            self.tally = TallyCamera(mirror)
            self._hands = {
                side: _hand_marker(self.eyes.origin, mirror) for side in ("left", "right")
            }
            self._dress(stage)
        except BaseException:
            self.close()
            raise

    def attach(self, stage: Stage) -> None:
        """Carry the headset over to a new stage (scene switch)."""
        if self.eyes is None:
            return
        self.eyes.attach(stage)
        self._dress(stage)

    def detach(self) -> None:
        """Take the headset's nodes off the set before the set is freed (scene switch)."""
        if self.eyes is not None:
            self.eyes.origin.detachNode()
        if self._sky is not None:
            self._sky.removeNode()
            self._sky = None
        if self.tally is not None:
            self.tally.detach()

    def _dress(self, stage: Stage) -> None:
        if self._sky is not None:
            self._sky.removeNode()
        mirror, _ = masks()
        self._sky = sky_dome(stage.pack, stage.root, mirror)
        if self.tally is not None:
            self.tally.place(stage)

    def frames(self, idle_period: float) -> Generator[Frame, None, None]:
        """The session's frames, with the eyes posed before and submitted after each."""
        assert self.eyes is not None, "open() first"
        for frame in self.session.frames(idle_period):
            self.eyes.place(frame.views)
            self._cut_away_head()
            if frame.views:
                centre = np.mean([v.position for v in frame.views], axis=0)
                self._sky.setPos(self.eyes.origin, *space.point(centre))
            self._place_hands(frame.hands)
            if self.tally is not None:  # follows the director's camera switches
                self.tally.place(self.eyes.stage)
                self.tally.show_rolling(self.rolling())
            for press in frame.presses:
                self.on_press(press)
            yield frame
            self.eyes.submit(frame)

    def _cut_away_head(self) -> None:
        """The avatar's head, where the actor's eyes are, is left out of the eyes' view."""
        assert self.eyes is not None
        stage = self.eyes.stage
        if stage.avatar is None:
            self.eyes.cut_away((0.0, 0.0, 0.0), 0.0)
            return
        if self._head is None or self._head_of is not stage.avatar:
            avatar = stage.avatar
            self._head = avatar.actor.exposeJoint(None, "modelRoot", avatar.spec.bones[Bone.HEAD])
            self._head_of = avatar
        p = self._head.getPos(stage.root)
        up, radius = HEAD_CUTAWAY
        self.eyes.cut_away((p[0], p[1], p[2] + up), radius)

    def _place_hands(self, hands: dict[str, Placement]) -> None:
        from panda3d.core import LMatrix4f

        for side, marker in self._hands.items():
            placed = hands.get(side)
            if placed is None:
                marker.stash()
                continue
            marker.unstash()
            pose = pose_matrix(np.array(placed.orientation), np.array(placed.position))
            marker.setMat(LMatrix4f(*space.pose_to_panda(pose)))

    def cue(self, kind: str, text: str) -> None:
        if self.cues is not None:
            self.cues.show(kind, text)

    def show_sides(self, sides: SidesState | None) -> None:
        if self.prompter is not None:
            self.prompter.show(sides)

    def request_exit(self) -> None:
        self.session.request_exit()

    def close(self) -> None:
        if self.eyes is not None:
            self.eyes.close()
            self.eyes = None
        if self._sky is not None:
            self._sky.removeNode()
            self._sky = None
        if self.tally is not None:
            self.tally.node.removeNode()
            self.tally = None
        self.session.close()


def _hand_marker(origin: Any, hidden_from: Any) -> Any:
    """A small box where a controller is, seen only in the headset."""
    from panda3d.core import CardMaker, NodePath

    marker = NodePath("hand")
    cm = CardMaker("hand-face")
    h = HAND_SIZE / 2
    cm.setFrame(-h / 3, h / 3, -h, h)
    for heading, pitch in ((0, 0), (90, 0), (180, 0), (270, 0), (0, 90), (0, -90)):
        face = marker.attachNewNode(cm.generate())
        face.setHpr(heading, pitch, 0)
        face.setY(face, -h / 3)
    marker.setColor(0.85, 0.85, 0.9, 1)
    marker.setShaderOff(30)
    marker.setTwoSided(True)
    marker.reparentTo(origin)
    marker.hide(hidden_from)
    marker.stash()
    return marker
