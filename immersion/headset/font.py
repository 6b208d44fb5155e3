"""The headset panels' font: DejaVu Sans Bold (Debian's fonts-dejavu-core, which the set-up
installs), with the "●" of "● ROLLING" and the accents, dashes and quotes a script holds;
Panda's built-in font has none of them. Where it is missing, the panels fall back to the
built-in font (a letter it lacks shows as nothing) and say so once in the log.
"""

from __future__ import annotations

import logging
from functools import cache
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

FONTS = (
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"),
    Path("/usr/share/fonts/truetype/liberation/LiberationSans-Bold.ttf"),
)
PIXELS_PER_UNIT = 48  # glyph texels per text line: crisp at a panel's size a metre away


@cache
def panel_font() -> Any | None:
    """The first of :data:`FONTS` found, loaded once; None: Panda's built-in font."""
    from panda3d.core import DynamicTextFont, Filename

    for path in FONTS:
        if path.is_file():
            font = DynamicTextFont(Filename.fromOsSpecific(str(path)))
            if font.isValid():
                font.setPixelsPerUnit(PIXELS_PER_UNIT)
                return font
    log.warning("no panel font (%s): the headset's panels use Panda's own", FONTS[0])
    return None


def use_panel_font(text: Any) -> None:
    """Set ``text`` (a TextNode) in the panel font, when there is one."""
    font = panel_font()
    if font is not None:
        text.setFont(font)
