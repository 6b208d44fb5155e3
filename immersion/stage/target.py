"""An offscreen colour buffer with a camera, read back to RAM each frame.

The read-back is zero-copy: :meth:`RenderTarget.bgra` is a view of Panda's RAM image, BGRA and
bottom-up as OpenGL leaves it. Encoders that take BGRA should use it directly; converting to
RGB top-down (:meth:`RenderTarget.rgb`) costs ~3 ms at 720p.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from immersion.errors import RenderError
from immersion.stage.engine import Engine

MAX_SIDE = 4096


@dataclass(slots=True)
class Column:
    """One strip of a split picture: a camera riding on the target's (same place, same aim,
    same vertical field of view, the strip's aspect) and a backdrop of its own, aimed for it."""

    camera: Any  # NodePath, a child of the target's camera
    lens: Any
    width: int  # pixels
    region: Any
    backdrop: Any  # the strip's own backdrop scene (a copy of the full frame's card)
    backdrop_region: Any


class RenderTarget:
    """A ``width`` x ``height`` buffer: a backdrop region behind a scene region.

    ``read_back`` False keeps the picture on the GPU (a headset eye, copied from texture to
    texture); :meth:`bgra` then has nothing to return. With a ``host``, the buffer is a
    framebuffer object in the host's GL context: on ``p3headlessgl`` every host-less buffer
    gets a context of its own, and textures cannot be copied between contexts.
    """

    buffer: Any  # Panda's GraphicsOutput

    def __init__(
        self,
        eng: Engine,
        width: int,
        height: int,
        name: str = "stage",
        *,
        read_back: bool = True,
        host: RenderTarget | None = None,
    ) -> None:
        from panda3d.core import (
            Camera,
            FrameBufferProperties,
            GraphicsOutput,
            GraphicsPipe,
            NodePath,
            OrthographicLens,
            PerspectiveLens,
            Texture,
            WindowProperties,
        )

        if not (16 <= width <= MAX_SIDE and 16 <= height <= MAX_SIDE):
            raise RenderError(f"frame size {width}x{height} out of range (16..{MAX_SIDE})")
        fbp = FrameBufferProperties()
        fbp.setRgbColor(True)
        fbp.setRgbaBits(8, 8, 8, 8)
        fbp.setDepthBits(24)
        fbp.setStencilBits(8)
        flags = GraphicsPipe.BFRefuseWindow
        shared: tuple[object, ...] = ()
        if host is not None:
            flags |= GraphicsPipe.BFRefuseParasite
            shared = (host.buffer.getGsg(), host.buffer)
        buffer = eng.graphics.makeOutput(
            eng.pipe,
            name,
            0,  # after Panda's shadow-map buffers (sort -10), so shadows are this frame's
            fbp,
            WindowProperties.size(width, height),
            flags,
            *shared,
        )
        if buffer is None:
            raise RenderError(f"cannot open a {width}x{height} offscreen buffer on {eng.renderer}")
        self.engine = eng
        self.width, self.height = width, height
        self.buffer = buffer
        self.texture = Texture(name)
        mode = GraphicsOutput.RTMCopyRam if read_back else GraphicsOutput.RTMBindOrCopy
        buffer.addRenderTexture(self.texture, mode)
        buffer.setClearColorActive(True)
        buffer.setClearColor((0, 0, 0, 1))
        self.lens = PerspectiveLens()
        self.lens.setNearFar(0.05, 200.0)
        self.camera = NodePath(Camera(f"{name}-camera", self.lens))
        self.scene_region = buffer.makeDisplayRegion()
        self.scene_region.setSort(10)
        self.scene_region.setClearDepthActive(True)
        self.scene_region.setClearStencilActive(True)
        self.scene_region.setCamera(self.camera)
        # The backdrop: its own scene, drawn first by an orthographic camera over (-1..1)².
        self.backdrop = NodePath(f"{name}-backdrop")
        flat = OrthographicLens()
        flat.setFilmSize(2, 2)
        flat.setNearFar(-10, 10)
        region = buffer.makeDisplayRegion()
        region.setSort(0)
        region.setCamera(self.backdrop.attachNewNode(Camera(f"{name}-backdrop-camera", flat)))
        self.backdrop_region = region
        self.columns: list[Column] = []  # none: the one full-frame view

    def is_software(self) -> bool:
        """Whether the GL driver rasterises on the CPU (Mesa llvmpipe and kin)."""
        renderer = str(self.buffer.getGsg().getDriverRenderer()).lower()
        return any(name in renderer for name in ("llvmpipe", "softpipe", "swrast"))

    def set_fov(self, vertical_deg: float) -> None:
        _set_fov(self.lens, vertical_deg, self.width / self.height)
        for column in self.columns:
            _set_fov(column.lens, vertical_deg, column.width / self.height)

    def split(self, masks: Sequence[Any]) -> None:
        """Draw the picture as ``len(masks)`` side-by-side strips, strip k by a camera with
        camera mask ``masks[k]``; fewer than two: the one full-frame view again. Strips are
        whole pixels wide (within one of each other). Copies the backdrop card as it is now:
        split again after building a new one."""
        from panda3d.core import Camera, NodePath, OrthographicLens, PerspectiveLens

        for column in self.columns:
            self.buffer.removeDisplayRegion(column.region)
            self.buffer.removeDisplayRegion(column.backdrop_region)
            column.camera.removeNode()
            column.backdrop.removeNode()
        self.columns = []
        whole = len(masks) < 2
        self.scene_region.setActive(whole)
        self.backdrop_region.setActive(whole)
        if whole:
            return
        vertical = float(self.lens.getFov()[1])
        edges = [round(k * self.width / len(masks)) for k in range(len(masks) + 1)]
        for k, mask in enumerate(masks):
            left, right = edges[k] / self.width, edges[k + 1] / self.width
            lens = PerspectiveLens()
            lens.setNearFar(self.lens.getNear(), self.lens.getFar())
            camera = self.camera.attachNewNode(Camera(f"{self.buffer.getName()}-column-{k}", lens))
            camera.node().setCameraMask(mask)
            region = self.buffer.makeDisplayRegion(left, right, 0, 1)
            region.setSort(10)
            region.setClearDepthActive(True)
            region.setClearStencilActive(True)
            region.setCamera(camera)
            backdrop = NodePath(f"{self.buffer.getName()}-backdrop-{k}")
            for card in self.backdrop.findAllMatches("=backdrop-card"):
                card.copyTo(backdrop)
            flat = OrthographicLens()
            flat.setFilmSize(2, 2)
            flat.setNearFar(-10, 10)
            behind = self.buffer.makeDisplayRegion(left, right, 0, 1)
            behind.setSort(0)
            behind.setCamera(backdrop.attachNewNode(Camera(f"column-{k}-backdrop-camera", flat)))
            column = Column(camera, lens, edges[k + 1] - edges[k], region, backdrop, behind)
            _set_fov(lens, vertical, column.width / self.height)
            self.columns.append(column)

    def texture_id(self) -> int:
        """The GL texture name the frame is drawn into (this thread's context)."""
        gsg = self.buffer.getGsg()
        return int(self.texture.prepareNow(0, gsg.getPreparedObjects(), gsg).getNativeId())

    def render(self) -> None:
        from panda3d.core import RenderState, TransformState

        self.engine.graphics.renderFrame()
        # ShowBase's frame loop does this; without it every transform a posed joint ever had
        # stays cached, and a live performance (new matrices every frame) grows without end.
        TransformState.garbageCollect()
        RenderState.garbageCollect()

    def bgra(self) -> NDArray[np.uint8]:
        """The last frame, (height, width, 4) BGRA, bottom row first; a view, no copy."""
        image = self.texture.getRamImage()
        if not image:
            raise RenderError("the renderer returned no frame")
        return np.frombuffer(memoryview(image), np.uint8).reshape(self.height, self.width, 4)

    def rgb(self) -> NDArray[np.uint8]:
        """The last frame as (height, width, 3) RGB, top row first (a copy)."""
        return np.ascontiguousarray(self.bgra()[::-1, :, 2::-1])

    def close(self) -> None:
        self.engine.graphics.removeWindow(self.buffer)


def _set_fov(lens: Any, vertical_deg: float, aspect: float) -> None:
    """The vertical field of view kept; the horizontal one as ``aspect`` gives."""
    v = np.radians(vertical_deg)
    h = 2 * np.degrees(np.arctan(np.tan(v / 2) * aspect))
    lens.setFov(float(h), float(vertical_deg))
