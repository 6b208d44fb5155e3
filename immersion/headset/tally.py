"""The tally camera: a film camera standing where the director's active preset is.

An actor plays to a camera; in the headset there is none, so this prop shows where the
picture is taken from: a small camera body on a tripod at the active preset's position, its
lens aimed along the preset (position → look_at), and a red tally lamp on top that glows while
a take rolls, with "● ROLLING" above it. Seen in the headset only (hidden from the mirror,
which looks out of it), unlit flat colours so the lamp reads as a light in any set. About
half a metre, so it marks the spot without hiding the set behind it.

A preset often stands outside the set's walls, beyond the fourth wall the eyes see: there the
prop would be walled off from the actor. It then stands in line with the preset instead,
just inside the first wall between the actor's eyes on the mark and the preset, so the actor
still plays towards the lens.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from immersion.headset.font import use_panel_font
from immersion.scenes.manifest import CameraPreset
from immersion.stage import space
from immersion.stage.stage import Stage

LAMP_ON = (1.0, 0.05, 0.03, 1.0)
LAMP_OFF = (0.22, 0.05, 0.05, 1.0)
BODY = (0.16, 0.16, 0.18, 1.0)
LENS = (0.07, 0.07, 0.08, 1.0)
LABEL_HEIGHT = 0.26  # metres above the camera body's centre
LAMP_SIZE = 0.08  # metres: the lamp's edge; the label's letters are twice as tall
EYE_HEIGHT = 1.6  # metres above the mark: where the walls between actor and preset are sought
INSIDE = 0.5  # metres: how far inside a wall in the way the prop stands
FOOT = 0.3  # metres above the floor: the lowest sight lines to the prop...
SPREAD = 0.3  # ...to either side of it, as wide as its tripod


class TallyCamera:
    def __init__(self, hidden_from: Any) -> None:
        from panda3d.core import NodePath, TextNode, TransparencyAttrib

        self.node = NodePath("tally-camera")
        self.node.setShaderOff(30)  # flat colours: a lamp is a light, not a lit surface
        self.node.setLightOff(30)
        self.node.setTwoSided(True)
        _box(self.node, (0.14, 0.30, 0.18), (0.0, 0.0, 0.0), BODY)  # the body (+Y: the lens)
        _box(self.node, (0.09, 0.12, 0.09), (0.0, 0.21, 0.0), LENS)
        for y in (-0.08, 0.07):  # two film reels on top
            _box(self.node, (0.025, 0.14, 0.14), (0.0, y, 0.15), BODY)
        self.lamp = _box(self.node, (LAMP_SIZE,) * 3, (0.0, 0.17, 0.12), LAMP_OFF)
        self.legs = self.node.attachNewNode("tripod")
        label = self.node.attachNewNode("rolling")
        label.setPos(0.0, 0.0, LABEL_HEIGHT)
        label.setBillboardPointEye()  # readable from wherever the actor stands
        text = TextNode("rolling-text")
        use_panel_font(text)
        text.setText("● ROLLING")
        text.setAlign(TextNode.ACenter)
        text.setTextColor(1.0, 0.1, 0.08, 1.0)
        text.setCardColor(0.05, 0.05, 0.05, 0.9)
        text.setCardAsMargin(0.3, 0.3, 0.25, 0.2)
        text.setCardDecal(True)  # the letters over their card, in the depth test
        label.attachNewNode(text).setScale(2 * LAMP_SIZE)
        label.setTransparency(TransparencyAttrib.MAlpha)
        self.label = label
        self.node.hide(hidden_from)
        self.preset: CameraPreset | None = None
        self.rolling = True
        self.show_rolling(False)

    def place(self, stage: Stage) -> None:
        """Stand on ``stage``'s active preset (or in line with it), aimed along it."""
        preset = stage.camera_preset
        if self.node.getParent() != stage.root:
            self.node.reparentTo(stage.root)
            self.preset = None
        if preset == self.preset:
            return
        self.preset = preset
        mark = stage.mark.position
        eye = np.array(space.point((mark[0], EYE_HEIGHT, mark[1])))
        at = np.array(space.point(preset.position))
        at = _in_view(stage.root, stage.set_node, eye, at)
        self.node.setPos(*at)
        self.node.lookAt(*space.point(preset.look_at))
        self._tripod(float(at[2]))

    def detach(self) -> None:
        """Off the set before the set is freed; :meth:`place` puts it on the next one."""
        self.node.detachNode()
        self.preset = None

    def show_rolling(self, rolling: bool) -> None:
        if rolling == self.rolling:
            return
        self.rolling = rolling
        self.lamp.setColor(*(LAMP_ON if rolling else LAMP_OFF))
        if rolling:  # stash, not hide(): show() would also undo the mirror's hide
            self.label.unstash()
        else:
            self.label.stash()

    def _tripod(self, height: float) -> None:
        """Three legs from under the body to the floor ``height`` below, upright whatever
        the preset's tilt."""
        from panda3d.core import LineSegs

        self.legs.getChildren().detach()
        if height <= 0.1:
            return
        self.legs.setHpr(self.node.getParent(), 0, 0, 0)  # level, whatever the aim
        segs = LineSegs("legs")
        segs.setThickness(3)
        segs.setColor(*LENS)
        spread = min(0.35, 0.3 * height)
        for k in range(3):
            a = 2 * math.pi * k / 3
            segs.moveTo(0.0, 0.0, -0.09)
            segs.drawTo(spread * math.sin(a), spread * math.cos(a), -height)
        self.legs.attachNewNode(segs.create())


def _in_view(root: Any, set_node: Any, eye: Any, at: Any) -> Any:
    """``at``, or the point just inside the first of the set's surfaces between ``eye`` and
    the prop (Panda points under ``root``), but no nearer the eye than a metre. The sight
    lines go to the prop's head and to its tripod's feet: a camera seen over a half-height
    door or through a gap, its legs behind it, is brought inside too."""
    along = at - eye
    length = float(np.linalg.norm(along))
    foot = np.array([at[0], at[1], min(at[2], FOOT)])
    side = np.array([-along[1], along[0], 0.0])  # level, across the sight line
    side *= SPREAD / max(float(np.linalg.norm(side)), 1e-6)
    ends = (at, foot, foot + side, foot - side)
    share = min(_first_hit(root, set_node, eye, end) for end in ends)
    if share >= 1.0:
        return at
    reach = max(share * length - INSIDE, min(1.0, length))
    return eye + along / length * reach


def _first_hit(root: Any, set_node: Any, start: Any, end: Any) -> float:
    """How far along ``start`` → ``end`` (0 to 1) the set's first surface is; 1: none."""
    from panda3d.core import (
        CollisionHandlerQueue,
        CollisionNode,
        CollisionSegment,
        CollisionTraverser,
        GeomNode,
        Point3,
    )

    ray = CollisionNode("tally-sight")
    ray.addSolid(CollisionSegment(Point3(*start), Point3(*end)))
    ray.setFromCollideMask(GeomNode.getDefaultCollideMask())  # visible geometry
    ray.setIntoCollideMask(0)
    held = root.attachNewNode(ray)
    hits = CollisionHandlerQueue()
    traverser = CollisionTraverser("tally-sight")
    traverser.addCollider(held, hits)
    traverser.traverse(set_node)
    held.removeNode()
    if hits.getNumEntries() == 0:
        return 1.0
    hits.sortEntries()  # nearest the start first
    hit = np.array(hits.getEntry(0).getSurfacePoint(root))
    length = max(float(np.linalg.norm(end - start)), 1e-6)
    return float(np.linalg.norm(hit - start)) / length


def _box(
    parent: Any, size: tuple[float, float, float], centre: tuple[float, ...], colour: Any
) -> Any:
    """A box of ``size`` (x, y, z) centred on ``centre``; its faces shaded a little
    differently so it reads as a solid without lights."""
    from panda3d.core import CardMaker

    box = parent.attachNewNode("box")
    sx, sy, sz = (s / 2 for s in size)
    faces = (  # (heading, pitch, half-extent along the normal, half width, half height, shade)
        (0, 0, sy, sx, sz, 0.85),
        (180, 0, sy, sx, sz, 0.85),
        (90, 0, sx, sy, sz, 0.7),
        (270, 0, sx, sy, sz, 0.7),
        (0, 90, sz, sx, sy, 1.0),
        (0, -90, sz, sx, sy, 0.5),
    )
    for heading, pitch, depth, w, h, shade in faces:
        cm = CardMaker("face")
        cm.setFrame(-w, w, -h, h)
        face = box.attachNewNode(cm.generate())
        face.setHpr(heading, pitch, 0)
        face.setY(face, -depth)
        face.setColorScale(shade, shade, shade, 1.0)
    box.setPos(*centre)
    box.setColor(*colour)
    return box
