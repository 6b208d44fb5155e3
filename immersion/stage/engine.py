"""Panda3D, started once per process: offscreen, headless (EGL) unless a display is present.

Measured on Mesa llvmpipe: ``p3headlessgl`` needs Debian's libegl1/libgl1 and renders without
X; ``pandagl`` needs $DISPLAY (Xvfb works). Panda's auto-shader emits Cg, which EGL lacks, so
every lit surface uses the stage's own GLSL (``shaders/``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache

from immersion.errors import RenderError


@dataclass(frozen=True)
class Engine:
    """The ShowBase (for its task manager and graphics engine) and the graphics pipe."""

    base: object
    pipe: object
    renderer: str

    @property
    def graphics(self):  # type: ignore[no-untyped-def]
        return self.base.graphicsEngine  # type: ignore[attr-defined]


@cache
def engine(headless: bool | None = None) -> Engine:
    """Start Panda3D once. ``headless`` None: headless unless $DISPLAY is set."""
    from panda3d.core import loadPrcFileData

    if headless is None:
        headless = not os.environ.get("DISPLAY")
    loadPrcFileData(
        "immersion",
        "\n".join(
            [
                f"load-display {'p3headlessgl' if headless else 'pandagl'}",
                "aux-display p3headlessgl" if not headless else "",
                "window-type none",
                "audio-library-name null",
                "sync-video false",
                "framebuffer-multisample false",
                "notify-level-device fatal",  # no /dev/input on servers: not our concern
                "print-pipe-types false",
                "notify-level-display error",
                "notify-level-glgsg error",
                "textures-power-2 none",
                "gl-coordinate-system default",
            ]
        ),
    )
    from direct.showbase.ShowBase import ShowBase

    try:
        base = ShowBase(windowType="none")
        base.makeDefaultPipe()
    except Exception as exc:  # Panda raises bare Exceptions for a missing pipe
        raise RenderError(
            f"cannot start Panda3D's renderer ({exc}); run ./dev setup for libegl1/libgl1"
        ) from None
    if base.pipe is None:
        raise RenderError(
            "no graphics pipe: install Debian's libegl1 libgl1 libgl1-mesa-dri (./dev setup)"
        )
    return Engine(base, base.pipe, base.pipe.getInterfaceName())
