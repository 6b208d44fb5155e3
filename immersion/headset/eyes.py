"""The actor's two eyes: a Panda3D buffer and camera each, posed and shaped by the runtime.

Each eye renders the stage's own scene graph (set, avatar, lights) into a texture that stays
on the GPU, then copies it into that frame's swapchain image. The cameras sit where the
runtime located the eyes, in the STAGE space carried onto the actor's mark, with the runtime's
asymmetric field of view as a ``MatrixLens``. A node hidden from the mirror's mask
(:func:`masks`: the cue panel, the sky, the controllers) is seen in the headset only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from immersion.stage import space
from immersion.stage.stage import Stage
from immersion.stage.target import RenderTarget
from immersion.xr.binding import copy_texture, read_texture
from immersion.xr.maths import pose_matrix, projection, stage_to_pack
from immersion.xr.session import Frame, View


def masks() -> tuple[Any, Any]:
    """(the mirror camera's mask, the eye cameras' mask)."""
    from panda3d.core import BitMask32

    return BitMask32.bit(20), BitMask32.bit(21)


COLUMN_BIT = 22  # and the three above it: a split mirror's strips (Stage.split)


def column_mask(k: int) -> Any:
    """The bit of strip ``k`` of a split mirror picture (Stage.split): strip cameras see what
    the mirror sees plus what shows this bit; the stage hides every strip bit at its root."""
    from panda3d.core import BitMask32

    return BitMask32.bit(COLUMN_BIT + k)


@dataclass
class Eyes:
    stage: Stage
    origin: Any  # the STAGE space's floor origin, on the actor's mark; the eyes are children
    targets: tuple[RenderTarget, RenderTarget]
    near: float
    far: float
    keep_images: bool = False  # read each submitted swapchain image back (tests, diagnostics)
    last_images: tuple[Any, ...] = ()

    @classmethod
    def open(
        cls, stage: Stage, width: int, height: int, *, near: float = 0.05, far: float = 200.0
    ) -> Eyes:
        from panda3d.core import MatrixLens

        _, eyes = masks()
        origin = stage.root.attachNewNode("headset-origin")
        made = []
        for side in ("left", "right"):
            target = RenderTarget(
                stage.engine, width, height, f"eye-{side}", read_back=False, host=stage.target
            )
            target.camera.node().setLens(MatrixLens())
            target.camera.node().setCameraMask(eyes)
            target.camera.reparentTo(origin)
            target.buffer.setActive(False)
            made.append(target)
        eyes_ = cls(stage, origin, (made[0], made[1]), near, far)
        eyes_.attach(stage)
        return eyes_

    def attach(self, stage: Stage) -> None:
        """Stand on ``stage``'s mark (at open, and after a scene switch or a new mark)."""
        from panda3d.core import LMatrix4f

        mirror, _ = masks()
        stage.target.camera.node().setCameraMask(mirror)
        mark = stage.mark
        self.origin.reparentTo(stage.root)
        self.origin.setMat(
            LMatrix4f(*space.pose_to_panda(stage_to_pack(mark.position, mark.facing)))
        )
        self.stage = stage

    def place(self, views: tuple[View, ...]) -> None:
        """Pose and shape both cameras for this frame; no views: the eyes skip the frame."""
        from panda3d.core import LMatrix4f

        active = len(views) == len(self.targets)
        for target in self.targets:
            target.buffer.setActive(active)
        if not active:
            return
        for target, view in zip(self.targets, views, strict=True):
            pose = pose_matrix(np.array(view.orientation), np.array(view.position))
            target.camera.setMat(LMatrix4f(*space.pose_to_panda(pose)))
            lens = target.camera.node().getLens()
            lens.setUserMat(
                LMatrix4f(*space.projection_to_panda(projection(view.fov, self.near, self.far)))
            )

    def cut_away(self, centre: tuple[float, float, float], radius: float) -> None:
        """Leave out what lies within ``radius`` of ``centre`` (Panda, relative to the set):
        from inside the avatar's head its eyes and hat would fill the view."""
        from panda3d.core import RenderState, ShaderAttrib, ShaderInput

        state = RenderState.make(
            ShaderAttrib.make().setShaderInput(ShaderInput("u_cutaway", (*centre, radius), 10))
        )  # priority 10: over the set's own "none"
        for target in self.targets:
            target.camera.node().setInitialState(state)

    def submit(self, frame: Frame) -> None:
        """Copy the rendered eyes into the frame's swapchain images (after the render)."""
        if not frame.images:
            return
        kept = []
        for target, image in zip(self.targets, frame.images, strict=True):
            copy_texture(target.texture_id(), image, target.width, target.height)
            if self.keep_images:
                kept.append(read_texture(image, target.width, target.height))
        self.last_images = tuple(kept)

    def close(self) -> None:
        for target in self.targets:
            target.close()
        self.origin.removeNode()
