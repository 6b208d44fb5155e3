"""An OpenXR session for a GL renderer: a context manager that owns it all, a frame generator.

``with XrSession(...) as xs:`` creates the instance, finds the HMD, binds the GL context current
on this thread, opens the session, a floor-level reference space, one swapchain per eye and the
controller actions; leaving the block destroys them in reverse, the instance last (runtimes
crash at process exit when it is left alive). ``for frame in xs.frames():`` runs the frame loop:
each :class:`Frame` carries the views to draw and the swapchain images to draw them into;
when the loop body hands control back, the images are released and the frame is submitted
as one projection layer at the predicted display time. Session states go through
:class:`~immersion.xr.lifecycle.Lifecycle`; rendering only sees the frames.

Every call here runs on the render thread: the swapchain images live in its GL context.
"""

from __future__ import annotations

import ctypes
import os
import time
from collections.abc import Generator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from immersion.xr.binding import current_binding, pick_format
from immersion.xr.controls import Controls, Placement, Press
from immersion.xr.errors import HeadsetError
from immersion.xr.lifecycle import Lifecycle, State, Step
from immersion.xr.maths import Fov

APP_NAME = "Immersion"
DEFAULT_EYE_HEIGHT = 1.6  # metres: the floor's depth below LOCAL's origin, with no STAGE space


@dataclass(frozen=True, slots=True)
class View:
    """One eye for one frame, in the reference space (Y up, floor at 0, metres)."""

    fov: Fov
    orientation: tuple[float, float, float, float]  # x, y, z, w
    position: tuple[float, float, float]


@dataclass(slots=True)
class Frame:
    """One frame of the loop. ``views`` is empty when nothing is to be drawn (the session is
    not visible, or tracking is lost): the frame is then submitted without layers."""

    number: int
    display_time: int  # XrTime, nanoseconds
    views: tuple[View, ...] = ()
    images: tuple[int, ...] = ()  # one GL texture per view, acquired, ready to be drawn into
    presses: tuple[Press, ...] = ()
    hands: dict[str, Placement] = field(default_factory=dict)  # tracked grips, by hand


@dataclass
class _Swapchain:
    handle: Any
    width: int
    height: int
    images: list[int]


class XrSession:
    """The headset, from instance to swapchains. ``eye_size`` None takes the runtime's
    recommended size; a larger request is clamped to the runtime's maximum."""

    def __init__(self, *, eye_size: tuple[int, int] | None = None) -> None:
        self.eye_size = eye_size
        self.lifecycle = Lifecycle()
        self.runtime_name = ""
        self.system_name = ""
        self.space_type = ""
        self.binding_kind = ""
        self.image_format = 0
        self.swapchains: list[_Swapchain] = []
        self.controls: Controls | None = None
        self._instance: Any = None
        self._system: Any = None
        self._session: Any = None
        self._space: Any = None
        self._binding: Any = None
        self._exit_requested = False
        self._frames = 0

    # Set-up and tear-down ----------------------------------------------------------------

    def __enter__(self) -> XrSession:
        import xr

        try:
            self._open()
        except BaseException as exc:
            self.close()
            if isinstance(exc, xr.XrException):
                raise HeadsetError(f"OpenXR failed: {_why(exc)}") from None
            raise
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _open(self) -> None:
        import xr

        find_runtime()
        try:
            offered = {
                _text(e.extension_name) for e in xr.enumerate_instance_extension_properties()
            }
        except xr.XrException as exc:
            raise HeadsetError(f"no OpenXR runtime ({_why(exc)})") from None
        binding = current_binding(offered)
        self._binding, self.binding_kind = binding, binding.kind
        info = xr.InstanceCreateInfo(
            application_info=xr.ApplicationInfo(
                application_name=APP_NAME, engine_name="Panda3D", api_version=xr.Version(1, 0, 0)
            ),
            enabled_extension_names=list(binding.extensions),
        )
        try:
            self._instance = xr.create_instance(info)
        except xr.XrException as exc:
            raise HeadsetError(f"the OpenXR runtime would not start ({_why(exc)})") from None
        self.runtime_name = _text(xr.get_instance_properties(self._instance).runtime_name)
        try:
            self._system = xr.get_system(
                self._instance, xr.SystemGetInfo(form_factor=xr.FormFactor.HEAD_MOUNTED_DISPLAY)
            )
        except xr.XrException as exc:
            raise HeadsetError(f"{self.runtime_name} finds no headset ({_why(exc)})") from None
        props = xr.get_system_properties(self._instance, self._system)
        self.system_name = _text(props.system_name)
        # The spec requires asking before the session exists; Panda's 4.x context passes any
        # minimum a runtime states for desktop GL.
        xr.get_opengl_graphics_requirements_khr(self._instance, self._system)
        self.controls = Controls(self._instance)
        self._session = xr.create_session(
            self._instance,
            xr.SessionCreateInfo(next=binding.pointer(), system_id=self._system),
        )
        self._space = self._floor_space()
        self._make_swapchains()
        self.controls.attach(self._session)

    def _floor_space(self) -> Any:
        """STAGE (floor at y 0, where the runtime says), else LOCAL lowered to a floor guess."""
        import xr

        offered = set(xr.enumerate_reference_spaces(self._session))
        if xr.ReferenceSpaceType.STAGE in offered:
            kind, drop = xr.ReferenceSpaceType.STAGE, 0.0
        else:
            kind, drop = xr.ReferenceSpaceType.LOCAL, DEFAULT_EYE_HEIGHT
        self.space_type = kind.name
        pose = xr.Posef(position=xr.Vector3f(0.0, -drop, 0.0))
        return xr.create_reference_space(
            self._session,
            xr.ReferenceSpaceCreateInfo(reference_space_type=kind, pose_in_reference_space=pose),
        )

    def _make_swapchains(self) -> None:
        import xr

        configs = xr.enumerate_view_configuration_views(
            self._instance, self._system, xr.ViewConfigurationType.PRIMARY_STEREO
        )
        self.image_format = pick_format(list(xr.enumerate_swapchain_formats(self._session)))
        for config in configs:
            width, height = self.eye_size or (
                config.recommended_image_rect_width,
                config.recommended_image_rect_height,
            )
            width = min(width, config.max_image_rect_width)
            height = min(height, config.max_image_rect_height)
            handle = xr.create_swapchain(
                self._session,
                xr.SwapchainCreateInfo(
                    usage_flags=xr.SwapchainUsageFlags.COLOR_ATTACHMENT_BIT
                    | xr.SwapchainUsageFlags.TRANSFER_DST_BIT
                    | xr.SwapchainUsageFlags.TRANSFER_SRC_BIT,
                    format=self.image_format,
                    sample_count=1,
                    width=width,
                    height=height,
                    face_count=1,
                    array_size=1,
                    mip_count=1,
                ),
            )
            images = xr.enumerate_swapchain_images(handle, xr.SwapchainImageOpenGLKHR)
            self.swapchains.append(_Swapchain(handle, width, height, [i.image for i in images]))

    def close(self) -> None:
        """Destroy everything, the instance last; safe to call twice and after a failure."""
        import xr

        for chain in self.swapchains:
            xr.destroy_swapchain(chain.handle)
        self.swapchains = []
        if self.controls is not None:
            self.controls.close()
            self.controls = None
        if self._space is not None:
            xr.destroy_space(self._space)
            self._space = None
        if self._session is not None:
            xr.destroy_session(self._session)
            self._session = None
        if self._instance is not None:
            xr.destroy_instance(self._instance)
            self._instance = None

    # The frame loop ----------------------------------------------------------------------

    def request_exit(self) -> None:
        """Ask the runtime to end the session: the loop then runs to STOPPING and returns."""
        import xr

        if self.lifecycle.running and not self._exit_requested:
            self._exit_requested = True
            xr.request_exit_session(self._session)

    def frames(self, idle_period: float = 1 / 30) -> Generator[Frame, None, None]:
        """Yield frames until the session exits or is lost. Before the runtime starts the
        session (and between its stops and starts) this yields empty frames every
        ``idle_period`` seconds, so the caller's other work (the mirror) goes on."""
        import xr

        while True:
            self._poll_events()
            if self.lifecycle.ended:
                return
            if not self.lifecycle.running:
                time.sleep(idle_period)
                yield Frame(self._frames, 0)
                continue
            state = xr.wait_frame(self._session, xr.FrameWaitInfo())
            xr.begin_frame(self._session, xr.FrameBeginInfo())
            self._frames += 1
            frame = Frame(self._frames, state.predicted_display_time)
            if self.controls is not None and self.lifecycle.focused:
                frame.presses, frame.hands = self.controls.sync(
                    self._session, self._space, frame.display_time
                )
            layer_views: list[Any] = []
            if state.should_render and self.lifecycle.visible:
                layer_views = self._begin_views(frame)
            try:
                yield frame
            finally:
                self._end_frame(frame, layer_views)

    def _begin_views(self, frame: Frame) -> list[Any]:
        """Locate the eyes and acquire their images; nothing when tracking is not valid."""
        import xr

        view_state, views = xr.locate_views(
            self._session,
            xr.ViewLocateInfo(
                view_configuration_type=xr.ViewConfigurationType.PRIMARY_STEREO,
                display_time=frame.display_time,
                space=self._space,
            ),
        )
        need = xr.ViewStateFlags.POSITION_VALID_BIT | xr.ViewStateFlags.ORIENTATION_VALID_BIT
        if (view_state.view_state_flags & need) != need or len(views) != len(self.swapchains):
            return []
        layer_views, images, located = [], [], []
        for view, chain in zip(views, self.swapchains, strict=True):
            index = xr.acquire_swapchain_image(chain.handle, xr.SwapchainImageAcquireInfo())
            xr.wait_swapchain_image(
                chain.handle, xr.SwapchainImageWaitInfo(timeout=xr.INFINITE_DURATION)
            )
            images.append(chain.images[index])
            located.append(_view(view))
            layer_view = xr.CompositionLayerProjectionView(pose=view.pose, fov=view.fov)
            layer_view.sub_image.swapchain = chain.handle
            layer_view.sub_image.image_rect.offset[:] = [0, 0]
            layer_view.sub_image.image_rect.extent[:] = [chain.width, chain.height]
            layer_views.append(layer_view)
        frame.views, frame.images = tuple(located), tuple(images)
        return layer_views

    def _end_frame(self, frame: Frame, layer_views: list[Any]) -> None:
        import xr

        for chain in self.swapchains[: len(layer_views)]:
            xr.release_swapchain_image(chain.handle, xr.SwapchainImageReleaseInfo())
        layers = []
        layer = None
        if layer_views:
            layer = xr.CompositionLayerProjection(space=self._space, views=layer_views)
            layers.append(ctypes.byref(layer))
        xr.end_frame(
            self._session,
            xr.FrameEndInfo(
                display_time=frame.display_time,
                environment_blend_mode=xr.EnvironmentBlendMode.OPAQUE,
                layers=layers,
            ),
        )

    def _poll_events(self) -> None:
        import xr

        while True:
            try:
                event = xr.poll_event(self._instance)
            except xr.EventUnavailable:
                return
            kind = xr.StructureType(event.type)
            if kind == xr.StructureType.EVENT_DATA_INSTANCE_LOSS_PENDING:
                self.lifecycle.on_state(State.LOSS_PENDING)
            elif kind == xr.StructureType.EVENT_DATA_SESSION_STATE_CHANGED:
                changed = ctypes.cast(
                    ctypes.byref(event), ctypes.POINTER(xr.EventDataSessionStateChanged)
                ).contents
                step = self.lifecycle.on_state(int(changed.state))
                if step is Step.BEGIN:
                    xr.begin_session(
                        self._session,
                        xr.SessionBeginInfo(
                            primary_view_configuration_type=xr.ViewConfigurationType.PRIMARY_STEREO
                        ),
                    )
                elif step is Step.END:
                    xr.end_session(self._session)


def find_runtime() -> Path:
    """The runtime manifest the OpenXR loader will use, looked up as it does (Linux): said
    plainly when there is none, rather than in the loader's five lines of errors."""
    named = os.environ.get("XR_RUNTIME_JSON")
    if named:
        if not Path(named).is_file():
            raise HeadsetError(f"no OpenXR runtime: XR_RUNTIME_JSON names {named}, not a file")
        return Path(named)
    home = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    dirs = [home, *(os.environ.get("XDG_CONFIG_DIRS") or "/etc/xdg").split(":"), "/etc"]
    for folder in dirs:
        manifest = Path(folder) / "openxr" / "1" / "active_runtime.json"
        if manifest.is_file():
            return manifest
    raise HeadsetError(
        "no OpenXR runtime is installed (no active_runtime.json, no XR_RUNTIME_JSON)"
    )


def _view(view: Any) -> View:
    o, p, f = view.pose.orientation, view.pose.position, view.fov
    return View(
        Fov(f.angle_left, f.angle_right, f.angle_up, f.angle_down),
        (o.x, o.y, o.z, o.w),
        (p.x, p.y, p.z),
    )


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _why(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}".rstrip(": ")
