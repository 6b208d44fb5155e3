"""The cue panel: a small card in front of the actor's mark showing what the director sends.

World-anchored (a panel that follows the head is tiring to read), about a metre ahead of the
mark and a little below eye level, turned towards the actor. Seen in the headset only.
"""

from __future__ import annotations

from typing import Any

from immersion.headset.font import use_panel_font

MAX_CUE = 200  # characters shown; the protocol bounds what a director may send
_STYLE = {  # kind -> (text colour, card colour), RGBA
    "note": ((0.95, 0.95, 0.92, 1.0), (0.2, 0.23, 0.3, 0.9)),
    "rolling": ((1.0, 1.0, 1.0, 1.0), (0.72, 0.06, 0.08, 0.92)),
    "cut": ((0.1, 0.1, 0.1, 1.0), (0.95, 0.8, 0.2, 0.92)),
}


class CuePanel:
    def __init__(self, origin: Any, hidden_from: Any) -> None:
        """``origin``: the headset's floor node on the mark (+Y is the actor's forward)."""
        from panda3d.core import TextNode, TransparencyAttrib

        self.text = TextNode("cue")
        use_panel_font(self.text)
        self.text.setAlign(TextNode.ACenter)
        self.text.setWordwrap(16.0)
        self.text.setCardAsMargin(0.6, 0.6, 0.4, 0.4)
        self.node = origin.attachNewNode(self.text)
        self.node.setPos(0.0, 1.1, 1.3)  # metres: ahead of the mark, below eye level
        self.node.setP(-12)  # tilted back, towards the eyes
        self.node.setScale(0.06)  # a text line 6 cm tall, a metre away
        self.node.setShaderOff(30)  # fixed-function text, not the set's lighting
        self.node.setLightOff(30)
        self.node.setTransparency(TransparencyAttrib.MAlpha)
        self.node.setBin("fixed", 0)
        self.node.setDepthTest(False)  # always readable, even inside a prop
        self.node.setDepthWrite(False)
        self.node.hide(hidden_from)
        self.shown = ("", "")
        self.show("note", "")

    def show(self, kind: str, text: str) -> None:
        """Put up a cue (``kind`` note, rolling or cut); empty text hides the panel."""
        text = " ".join(text.split())[:MAX_CUE]
        if (kind, text) == self.shown:
            return
        self.shown = (kind, text)
        colour, card = _STYLE.get(kind, _STYLE["note"])
        self.text.setText(text)
        self.text.setTextColor(*colour)
        self.text.setCardColor(*card)
        if text:  # stash, not hide(): show() would also undo the mirror's hide
            self.node.unstash()
        else:
            self.node.stash()
