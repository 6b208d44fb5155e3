"""The graphics binding: hands the runtime the OpenGL context Panda3D renders with.

Both kinds are read from the context current on the calling thread, so call these from the
thread that renders, after Panda has drawn once (which leaves its context current):

* **EGL** (``XR_MNDX_egl_enable``): Panda's ``p3headlessgl``; what the headless tests use.
* **GLX** (``XR_KHR_opengl_enable`` with Xlib): Panda's ``pandagl`` on an X display; what
  desktop runtimes (Monado, SteamVR) expect with a real headset.

The runtime's swapchain images are GL textures shared with that context, so copying a rendered
eye into one is a single ``glCopyImageSubData`` (OpenGL 4.3) on Panda's own context.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
from numpy.typing import NDArray

from immersion.xr.errors import HeadsetError

EGL_EXTENSION = "XR_MNDX_egl_enable"
GL_EXTENSION = "XR_KHR_opengl_enable"
_EGL_CONFIG_ID = 0x3028
_EGL_NONE = 0x3038
GL_SRGB8_ALPHA8 = 0x8C43
GL_RGBA8 = 0x8058
GL_TEXTURE_2D = 0x0DE1
_GL_TEXTURE_BINDING_2D = 0x8069
_GL_RGBA = 0x1908
_GL_UNSIGNED_BYTE = 0x1401


@dataclass(frozen=True)
class Binding:
    """A filled-in ``XrGraphicsBinding*`` and the instance extensions it needs."""

    kind: str  # "egl" or "glx"
    struct: Any  # keep alive as long as the session: the runtime reads it at xrCreateSession
    extensions: tuple[str, ...]

    def pointer(self) -> ctypes.c_void_p:
        return ctypes.cast(ctypes.pointer(self.struct), ctypes.c_void_p)


def current_binding(offered: set[str]) -> Binding:
    """The binding for the GL context current on this thread, of a kind the runtime offers."""
    import xr

    if GL_EXTENSION not in offered:
        raise HeadsetError("the OpenXR runtime does not offer OpenGL (XR_KHR_opengl_enable)")
    egl = ctypes.CDLL("libEGL.so.1")
    egl.eglGetCurrentContext.restype = ctypes.c_void_p
    egl.eglGetCurrentDisplay.restype = ctypes.c_void_p
    context = egl.eglGetCurrentContext()
    if context:
        if EGL_EXTENSION not in offered:
            raise HeadsetError(
                "Panda3D renders headless (EGL) but the OpenXR runtime does not offer "
                f"{EGL_EXTENSION}; run under X (DISPLAY set) for a GLX context"
            )
        display = egl.eglGetCurrentDisplay()
        field = dict(xr.GraphicsBindingEGLMNDX._fields_)  # PyOpenGL's EGL pointer types
        struct = xr.GraphicsBindingEGLMNDX(
            get_proc_address=ctypes.cast(egl.eglGetProcAddress, xr.PFN_xrEglGetProcAddressMNDX),
            display=ctypes.cast(display, field["display"]),
            config=ctypes.cast(_egl_config(egl, display, context), field["config"]),
            context=ctypes.cast(context, field["context"]),
        )
        return Binding("egl", struct, (GL_EXTENSION, EGL_EXTENSION))
    from OpenGL import GLX

    glx_context = GLX.glXGetCurrentContext()
    if not glx_context:
        raise HeadsetError("no OpenGL context is current on the render thread")
    struct = xr.GraphicsBindingOpenGLXlibKHR(
        x_display=GLX.glXGetCurrentDisplay(),
        glx_drawable=GLX.glXGetCurrentDrawable(),
        glx_context=glx_context,
    )
    return Binding("glx", struct, (GL_EXTENSION,))


def _egl_config(egl: ctypes.CDLL, display: int, context: int) -> int:
    """The EGLConfig the context was made with (0, EGL_NO_CONFIG, for a config-less one)."""
    config_id = ctypes.c_int(0)
    egl.eglQueryContext(
        ctypes.c_void_p(display),
        ctypes.c_void_p(context),
        _EGL_CONFIG_ID,
        ctypes.byref(config_id),
    )
    if config_id.value == 0:
        return 0
    attribs = (ctypes.c_int * 3)(_EGL_CONFIG_ID, config_id.value, _EGL_NONE)
    config = ctypes.c_void_p()
    count = ctypes.c_int(0)
    egl.eglChooseConfig(
        ctypes.c_void_p(display), attribs, ctypes.byref(config), 1, ctypes.byref(count)
    )
    return int(config.value or 0) if count.value == 1 else 0


def pick_format(offered: list[int]) -> int:
    """sRGB first: our shaders write display-ready (sRGB-encoded) colour, so an sRGB image
    tells the compositor the truth. Linear RGBA8 would show the set washed out."""
    for wanted in (GL_SRGB8_ALPHA8, GL_RGBA8):
        if wanted in offered:
            return wanted
    raise HeadsetError(
        "the OpenXR runtime offers no 8-bit RGBA swapchain format "
        f"(offered: {', '.join(hex(f) for f in offered)})"
    )


@cache
def _gl(name: str, *argtypes: Any) -> Any:
    """A GL entry point for whichever context is current (EGL's or GLX's loader: both hand
    back glvnd's dispatch stubs, which call into the current context's driver)."""
    egl = ctypes.CDLL("libEGL.so.1")
    egl.eglGetProcAddress.restype = ctypes.c_void_p
    egl.eglGetProcAddress.argtypes = [ctypes.c_char_p]
    address = egl.eglGetProcAddress(name.encode())
    if not address:
        raise HeadsetError(f"the OpenGL driver lacks {name}")
    return ctypes.CFUNCTYPE(None, *argtypes)(address)


_uint, _int = ctypes.c_uint, ctypes.c_int


def copy_texture(source: int, target: int, width: int, height: int) -> None:
    """Copy ``source``'s level 0 into ``target``'s (same size class, no conversion)."""
    copy = _gl("glCopyImageSubData", _uint, _uint, _int, _int, _int, _int,
               _uint, _uint, _int, _int, _int, _int, _int, _int, _int)  # fmt: skip
    copy(source, GL_TEXTURE_2D, 0, 0, 0, 0, target, GL_TEXTURE_2D, 0, 0, 0, 0, width, height, 1)


def read_texture(texture: int, width: int, height: int) -> NDArray[np.uint8]:
    """A texture's level 0 as (height, width, 4) RGBA, top row first (for tests and checks)."""
    get_int = _gl("glGetIntegerv", _uint, ctypes.POINTER(_int))
    bind = _gl("glBindTexture", _uint, _uint)
    get_image = _gl("glGetTexImage", _uint, _int, _uint, _uint, ctypes.c_void_p)
    bound = _int(0)
    get_int(_GL_TEXTURE_BINDING_2D, ctypes.byref(bound))  # Panda caches bindings: restore
    out = np.empty((height, width, 4), np.uint8)
    bind(GL_TEXTURE_2D, texture)
    get_image(GL_TEXTURE_2D, 0, _GL_RGBA, _GL_UNSIGNED_BYTE, out.ctypes.data)
    bind(GL_TEXTURE_2D, bound.value)
    return np.ascontiguousarray(out[::-1])
