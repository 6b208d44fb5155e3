"""An offscreen colour buffer with a camera, read back to RAM each frame.

The read-back is zero-copy: :meth:`RenderTarget.bgra` is a view of Panda's RAM image, BGRA and
bottom-up as OpenGL leaves it. Encoders that take BGRA should use it directly; converting to
RGB top-down (:meth:`RenderTarget.rgb`) costs ~3 ms at 720p.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from immersion.errors import RenderError
from immersion.stage.engine import Engine

MAX_SIDE = 4096


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

    def is_software(self) -> bool:
        """Whether the GL driver rasterises on the CPU (Mesa llvmpipe and kin)."""
        renderer = str(self.buffer.getGsg().getDriverRenderer()).lower()
        return any(name in renderer for name in ("llvmpipe", "softpipe", "swrast"))

    def set_fov(self, vertical_deg: float) -> None:
        aspect = self.width / self.height
        v = np.radians(vertical_deg)
        h = 2 * np.degrees(np.arctan(np.tan(v / 2) * aspect))
        self.lens.setFov(float(h), float(vertical_deg))

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
