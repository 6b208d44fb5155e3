"""The teleprompter in the headset: the sides, from the line at the top, on a floor monitor.

World-anchored below the cue panel, in front of the mark and tilted up towards the eyes, where
a stage's confidence monitor stands: the actor glances down to it and up to play. It shows
:data:`ROWS` rows from the sides' top line, long lines wrapped, and under a header naming the
line. Markdown is shown as plain text: heading marks, emphasis and code marks are dropped,
the words kept (:func:`plain`). Seen in the headset only.
"""

from __future__ import annotations

import re
import textwrap
from typing import Any

from immersion.headset.font import use_panel_font
from immersion.room.messages import SidesState

ROWS = 10  # rows of text on the panel
WIDTH = 42  # characters a row
_MARKS = re.compile(r"\*\*|__|`|(?<!\w)[*_](?=\S)|(?<=\S)[*_](?!\w)")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+")


def plain(line: str) -> str:
    """A Markdown line as readable text: no ``#`` heading marks, ``**``/``*``/``_``
    emphasis or code ticks (a quote's ``>`` and a list's ``-`` are read as they are)."""
    return _MARKS.sub("", _HEADING.sub("", line)).rstrip()


def rows(sides: SidesState, count: int = ROWS, width: int = WIDTH) -> list[str]:
    """The panel's rows: the sides from their top line, each line wrapped to ``width``."""
    out: list[str] = []
    for line in sides.text.split("\n")[sides.line :]:
        out.extend(textwrap.wrap(plain(line), width) or [""])
        if len(out) >= count:
            break
    return out[:count]


def header(sides: SidesState) -> str:
    return f"SIDES   line {sides.line + 1} of {sides.lines}"


class Prompter:
    def __init__(self, origin: Any, hidden_from: Any) -> None:
        """``origin``: the headset's floor node on the mark (+Y is the actor's forward)."""
        from panda3d.core import TextNode, TransparencyAttrib

        self.text = TextNode("prompter")
        use_panel_font(self.text)
        self.text.setAlign(TextNode.ALeft)
        self.text.setTextColor(0.97, 0.95, 0.86, 1.0)
        self.text.setCardColor(0.04, 0.05, 0.08, 0.92)
        self.text.setCardAsMargin(0.8, 0.8, 0.5, 0.5)
        self.node = origin.attachNewNode(self.text)
        scale = 0.04  # a row 4 cm tall, a metre away
        self.node.setScale(scale)
        self.node.setPos(-WIDTH * scale * 0.22, 0.95, 1.05)  # under the cue panel (z 1.3)
        self.node.setP(-38)  # tilted back, facing the eyes
        self.node.setShaderOff(30)
        self.node.setLightOff(30)
        self.node.setTransparency(TransparencyAttrib.MAlpha)
        self.node.setBin("fixed", 0)
        self.node.setDepthTest(False)  # always readable, even with the avatar's hands in it
        self.node.setDepthWrite(False)
        self.node.hide(hidden_from)
        self.node.stash()
        self.shown: SidesState | None = None

    def show(self, sides: SidesState | None) -> None:
        """Put up ``sides`` from their top line; None leaves the panel off."""
        if sides == self.shown:
            return
        self.shown = sides
        if sides is None:
            self.node.stash()
            return
        self.text.setText("\n".join([header(sides), "", *rows(sides)]))
        self.node.unstash()  # stash, not hide(): show() would also undo the mirror's hide
