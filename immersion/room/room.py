"""The audition room: capture, stage and takes, each at its own pace.

Two threads do the work and never wait on each other or on a viewer:

* **capture** reads the source (camera, video or take) at its own rate and pushes each pose
  into :class:`LatestPose`; while a take is rolling it also appends the pose to the take.
* **render** owns Panda3D: it applies queued director commands between frames, renders the
  newest pose, flips the read-back once to top-down BGRA, encodes it once per codec that some
  viewer wants, and hands the result to ``on_frame`` (the feed's fan-out).

Director actions arrive from the feed's event loop; they are checked at once (a bad name gets an
error reply) and carried out by the render thread. Take files are append-only and flushed per
line, so a killed room leaves a readable take.
"""

from __future__ import annotations

import itertools
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from capture.errors import CaptureError, TakeFormatError
from capture.pose import Pose
from capture.skeleton import Bone
from capture.take import TAKE_FORMAT, TakeWriter, iter_json_lines, read_take
from immersion.avatars.vrm import check_use, inspect_avatar
from immersion.catalogue import avatars_dir, find_avatar, find_pack, shipped_packs
from immersion.errors import StageError
from immersion.feed.encoders import Encoded, H264Encoder, JpegEncoder
from immersion.feed.protocol import Codec
from immersion.headset.headset import Headset, HeadsetSettings
from immersion.scenes.manifest import ScenePack, load_pack
from immersion.stage.avatar_actor import AvatarActor
from immersion.stage.pose_feed import LatestPose
from immersion.stage.stage import Stage

# Limbs a director reads tracking confidence for: the least confident bone of each.
LIMBS: dict[str, tuple[Bone, ...]] = {
    "head": (Bone.NECK, Bone.HEAD),
    "torso": (Bone.HIPS, Bone.SPINE, Bone.CHEST),
    "leftArm": (Bone.LEFT_UPPER_ARM, Bone.LEFT_LOWER_ARM, Bone.LEFT_HAND),
    "rightArm": (Bone.RIGHT_UPPER_ARM, Bone.RIGHT_LOWER_ARM, Bone.RIGHT_HAND),
    "leftLeg": (Bone.LEFT_UPPER_LEG, Bone.LEFT_LOWER_LEG, Bone.LEFT_FOOT),
    "rightLeg": (Bone.RIGHT_UPPER_LEG, Bone.RIGHT_LOWER_LEG, Bone.RIGHT_FOOT),
}
STAGES = ("capture", "render", "encode", "send")


@dataclass(frozen=True, slots=True)
class RoomSettings:
    source: str  # a video, a take (.jsonl), a landmarks file, or "camera:N"
    scene: str
    avatar: str
    camera: str | None = None
    width: int = 1280
    height: int = 720
    fps: float = 30.0
    takes_dir: Path = Path("takes")
    loop: bool = True  # replay a finite source forever (the demo)
    shading: str = "auto"
    use: str = "corporation"  # checked against every avatar's licence, at start and on a switch
    licensed: bool = False
    bone_map: dict[str, str] | None = None  # for the starting avatar, when a plain glTF
    show_camera: bool = False  # the actor's camera picture goes to viewers only when asked
    headset: HeadsetSettings | None = None  # render to an OpenXR headset too (--headset)


@dataclass(frozen=True, slots=True)
class RenderedFrame:
    """One rendered picture, encoded once per codec in demand (room clock, seconds)."""

    frame: int
    capture_t: float
    render_t: float
    width: int
    height: int
    encoded: dict[Codec, Encoded]


@dataclass
class _Meter:
    """Rates and medians over the last few seconds, for status."""

    times: deque[float] = field(default_factory=lambda: deque(maxlen=90))
    ms: dict[str, deque[float]] = field(default_factory=dict)

    def tick(self, now: float) -> None:
        self.times.append(now)

    def add(self, stage: str, value: float) -> None:
        self.ms.setdefault(stage, deque(maxlen=90)).append(value)

    def fps(self) -> float:
        t = self.times
        return (len(t) - 1) / (t[-1] - t[0]) if len(t) > 1 and t[-1] > t[0] else 0.0

    def median(self, stage: str) -> float | None:
        values = self.ms.get(stage)
        return float(np.median(values)) if values else None


class Room:
    def __init__(self, settings: RoomSettings) -> None:
        self.settings = settings
        self.started = time.monotonic()
        # Checked now, so a bad argument fails the command before anything starts.
        self.pack: ScenePack = load_pack(find_pack(settings.scene))
        self.avatar_path = find_avatar(settings.avatar)
        _, spec = inspect_avatar(self.avatar_path, settings.bone_map)
        check_use(spec.licence, settings.use, settings.licensed, self.avatar_path.name)
        self.camera = self.pack.camera(settings.camera).name
        self.scene_name = settings.scene
        self.avatar_name = Path(settings.avatar).stem
        self.latest = LatestPose()
        self.on_frame: Callable[[RenderedFrame], None] = lambda frame: None
        self.codecs_wanted: set[Codec] = {Codec.H264}
        self._keyframe = threading.Event()
        self._commands: queue.Queue[tuple[str, str]] = queue.Queue()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._capture_meter, self._render_meter = _Meter(), _Meter()
        self._confidence = dict.fromkeys(LIMBS, 0.0)
        self._take_lock = threading.Lock()
        self._take: TakeWriter | None = None
        self._take_started = 0.0
        self.takes: list[dict[str, Any]] = []
        self.errors: list[str] = []  # failures in the worker threads, for status and the CLI
        self.frame_count = 0
        self._camera_image: NDArray[np.uint8] | None = None  # only kept when show_camera
        self.takes_version = 0  # bumped when the take list changes outside a viewer's request
        self.headset_status: dict[str, Any] = {"state": "off"} if settings.headset else {}
        self._cue: tuple[str, str] = ("note", "")  # what the actor's cue panel should show
        self._headset: Headset | None = None  # the render thread's

    # Clock and state ---------------------------------------------------------------------

    def now(self) -> float:
        """The room clock: seconds since the room started."""
        return time.monotonic() - self.started

    def status(self) -> dict[str, Any]:
        latency = {
            "capture": self._capture_meter.median("capture"),
            "render": self._render_meter.median("render"),
            "encode": self._render_meter.median("encode"),
        }
        with self._take_lock:
            take = (
                {"rolling": True, "file": self._take.path.name, "since": self._take_started}
                if self._take is not None
                else {"rolling": False}
            )
        return {
            "now": round(self.now(), 4),
            "scene": self.scene_name,
            "avatar": self.avatar_name,
            "camera": self.camera,
            "take": take,
            "captureFps": round(self._capture_meter.fps(), 1),
            "renderFps": round(self._render_meter.fps(), 1),
            "latencyMs": {k: (round(v, 1) if v is not None else None) for k, v in latency.items()},
            "confidence": {k: round(v, 2) for k, v in self._confidence.items()},
            "frame": self.frame_count,
            "errors": self.errors[-3:],
            **({"headset": dict(self.headset_status)} if self.headset_status else {}),
        }

    def choices(self) -> dict[str, Any]:
        return {
            "scenes": [p.name for p in shipped_packs()],
            "avatars": sorted(p.stem for p in avatars_dir().glob("*.vrm")),
            "cameras": [c.name for c in self.pack.cameras],
            "size": [self.settings.width, self.settings.height],
        }

    # Director actions (feed thread) ------------------------------------------------------

    def steer(self, what: str, name: str) -> str | None:
        """Queue a camera/scene/avatar switch; an error message when ``name`` is unknown."""
        if what == "camera" and name not in {c.name for c in self.pack.cameras}:
            return f"no camera preset {name!r} in {self.scene_name}"
        if what == "scene" and name not in {p.name for p in shipped_packs()}:
            return f"no scene pack {name!r}"
        if what == "avatar" and not (avatars_dir() / f"{name}.vrm").is_file():
            return f"no avatar {name!r}"
        self._commands.put((what, name))
        return None

    def take_start(self) -> str | None:
        with self._take_lock:
            if self._take is not None:
                return f"a take is already rolling ({self._take.path.name})"
            stamp = time.strftime("%Y%m%d-%H%M%S")
            number = len(self.takes) + 1
            path = self.settings.takes_dir / f"take-{stamp}-{number:02d}.jsonl"
            header = {
                "source": self.settings.source,
                "scene": self.scene_name,
                "avatar": self.avatar_name,
                "camera": self.camera,
                "fps": self.settings.fps,
                "roomTime": round(self.now(), 4),
            }
            try:
                self._take = TakeWriter(path, header)
            except CaptureError as exc:
                return str(exc)
            self._take_started = self.now()
            self.takes.append({"file": path.name, "started": self._take_started, "notes": []})
        self._cue = ("rolling", "● ROLLING")
        return None

    def take_stop(self) -> str | None:
        with self._take_lock:
            if self._take is None:
                return "no take is rolling"
            self._take.close()
            entry = self.takes[-1]
            entry["duration"] = round(self.now() - self._take_started, 2)
            entry["frames"] = self._take.frames
            self._take = None
        self._cue = ("cut", "CUT")
        return None

    def annotate(self, kind: str, text: str) -> dict[str, Any]:
        """A note or marker: into the rolling take (if any) and the room's take list."""
        t = round(self.now(), 3)
        item = {"kind": kind, "text": text, "t": t}
        with self._take_lock:
            if self._take is not None:
                self._take.write_event(t - self._take_started, kind, text=text)
                item["takeT"] = round(t - self._take_started, 3)
            if not self.takes:  # notes before any take are kept under an unnamed entry
                self.takes.append({"file": "", "started": 0.0, "notes": []})
            self.takes[-1]["notes"].append(item)  # else the rolling take, or the last one
        return item

    def cue(self, text: str) -> None:
        """Show the director's ``text`` on the actor's in-headset panel (empty clears it)."""
        self._cue = ("note", text)

    def actor_press(self, button: str) -> None:
        """The actor pressed "ready" or "again" in the headset: into the take and the list."""
        self.annotate("actor", button)
        self.headset_status["lastPress"] = {"button": button, "t": round(self.now(), 3)}
        self.takes_version += 1

    def want_keyframe(self) -> None:
        self._keyframe.set()

    # Threads -----------------------------------------------------------------------------

    def start(self) -> None:
        for name, target in (("capture", self._capture_loop), ("render", self._render_loop)):
            thread = threading.Thread(target=self._guard(name, target), name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        """Stop both threads and close a rolling take (it stays readable either way)."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=10)
        self.take_stop()

    def _guard(self, name: str, body: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                body()
            except (CaptureError, StageError) as exc:
                self.errors.append(f"{name}: {exc}")
            except Exception as exc:  # a worker must report, not vanish silently
                self.errors.append(f"{name}: {type(exc).__name__}: {exc}")

        return run

    def _poses(self) -> Iterator[tuple[float, Pose | None, float, NDArray[np.uint8] | None]]:
        """(source time, pose, capture ms, camera picture) from the source, looped."""
        spec = self.settings.source
        take = read_take(Path(spec)) if spec.endswith(".jsonl") and _is_take(Path(spec)) else None
        offset = 0.0
        while not self._stop.is_set():
            last_t = 0.0
            if take is not None:
                fps = float(take.header.get("fps") or 30.0)
                for k, pose in enumerate(take.poses):
                    last_t = k / fps
                    yield offset + last_t, pose, 0.0, None
            else:
                from capture.pipeline import CaptureSettings, pose_stream
                from capture.sources import open_source

                source = open_source(spec, None)
                for frame in pose_stream(source, CaptureSettings()):
                    last_t = frame.t
                    ms = sum(frame.timings.values())
                    yield offset + frame.t, frame.pose, ms, frame.image
                    if self._stop.is_set():
                        break
            if not self.settings.loop:
                return
            offset += last_t + 1 / 30

    def _capture_loop(self) -> None:
        t0 = time.monotonic()
        for t, pose, ms, image in self._poses():
            if self._stop.is_set():
                return
            if self.settings.show_camera and image is not None:
                self._camera_image = image
            # Pace a recorded source to real time: a live camera paces itself.
            delay = t0 + t - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            now = self.now()
            self._capture_meter.tick(now)
            self._capture_meter.add("capture", ms)
            if pose is None:
                continue
            self.latest.push(Pose(now, pose.hips, pose.rotations, pose.confidence))
            self._confidence = {
                limb: float(min(pose.confidence[b] for b in bones)) for limb, bones in LIMBS.items()
            }
            with self._take_lock:
                if self._take is not None:
                    shifted = Pose(
                        now - self._take_started, pose.hips, pose.rotations, pose.confidence
                    )
                    self._take.write(shifted.t, shifted)

    def _render_loop(self) -> None:
        s = self.settings
        stage = Stage.open(
            self.pack,
            self._load_avatar(self.avatar_path, s.bone_map),
            width=s.width,
            height=s.height,
            camera=self.camera,
            shading=s.shading,
        )
        encoders: dict[Codec, H264Encoder | JpegEncoder] = {
            Codec.H264: H264Encoder(s.width, s.height, s.fps),
            Codec.JPEG: JpegEncoder(),
        }
        period = 1.0 / s.fps
        self._headset = self._open_headset(stage)
        ticks: Iterator[object] = self._ticks(period)
        headset_frames = None
        if self._headset is not None:  # the headset paces the loop while it runs
            headset_frames = self._headset_frames(self._headset, period)
            ticks = itertools.chain(headset_frames, ticks)
        next_mirror = time.monotonic()
        try:
            for _ in ticks:
                stage = self._apply_commands(stage)
                pose = self.latest.at(self.now())
                t0 = time.perf_counter()
                stage.show(pose)
                if time.monotonic() < next_mirror:
                    continue  # a headset faster than the mirror: the viewers get every n-th
                next_mirror = max(next_mirror + period, time.monotonic() - period)
                bgra = np.ascontiguousarray(stage.target.bgra()[::-1])  # the room's own copy
                if self._camera_image is not None:
                    draw_inset(bgra, self._camera_image)
                render_t = self.now()
                t1 = time.perf_counter()
                if self._keyframe.is_set():
                    self._keyframe.clear()
                    encoders[Codec.H264].want_keyframe()
                encoded = {c: encoders[c].encode(bgra) for c in sorted(self.codecs_wanted)}
                t2 = time.perf_counter()
                self.frame_count += 1
                self._render_meter.tick(render_t)
                self._render_meter.add("render", (t1 - t0) * 1e3)
                self._render_meter.add("encode", (t2 - t1) * 1e3)
                self.on_frame(
                    RenderedFrame(
                        self.frame_count,
                        pose.t if pose is not None else render_t,
                        render_t,
                        s.width,
                        s.height,
                        encoded,
                    )
                )
        finally:
            if headset_frames is not None:
                headset_frames.close()  # ends its frame, then closes the headset
            stage.close()

    def _ticks(self, period: float) -> Iterator[None]:
        """The room's own pace, without a headset: one tick per ``period`` until stopped."""
        next_at = time.monotonic()
        while not self._stop.is_set():
            yield None
            next_at += period
            delay = next_at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            else:
                next_at = time.monotonic()  # late: do not try to catch up in a burst

    def _open_headset(self, stage: Stage) -> Headset | None:
        """The headset, when asked for and found; otherwise one line in errors, and None."""
        if self.settings.headset is None:
            return None
        stage.show(None)  # leaves Panda's GL context current on this thread, for the binding
        headset = Headset(self.settings.headset, lambda press: self.actor_press(press.button))
        try:
            headset.open(stage)
        except StageError as exc:
            self.headset_status = {"state": "unavailable", "reason": str(exc)}
            self.errors.append(f"headset: {exc}; the room runs without it")
            return None
        xs = headset.session
        chain = xs.swapchains[0]
        self.headset_status = {
            "state": xs.lifecycle.state.name,
            "runtime": xs.runtime_name,
            "system": xs.system_name,
            "eye": [chain.width, chain.height],
            "space": xs.space_type,
        }
        return headset

    def _headset_frames(self, headset: Headset, period: float) -> Generator[object, None, None]:
        """The headset's frames until its session ends (the room then paces itself) or the
        room stops (the session is then asked to exit, and given a moment to)."""
        meter = _Meter()
        deadline = None
        try:
            for frame in headset.frames(period):
                if self._stop.is_set() and deadline is None:
                    headset.request_exit()
                    deadline = time.monotonic() + 2.0
                if deadline is not None and time.monotonic() > deadline:
                    break
                headset.cue(*self._cue)
                if frame.views:
                    meter.tick(time.monotonic())
                self.headset_status["state"] = headset.session.lifecycle.state.name
                self.headset_status["fps"] = round(meter.fps(), 1)
                yield frame
        except Exception as exc:  # a runtime that fails mid-take must not take the room with it
            self.errors.append(f"headset: {type(exc).__name__}: {exc}; the room plays on")
        finally:
            self.headset_status["state"] = "ended"
            self.headset_status["fps"] = 0.0
            headset.close()
            self._headset = None

    def _apply_commands(self, stage: Stage) -> Stage:
        """Carry out queued switches; one that fails is reported and the room plays on."""
        while True:
            try:
                what, name = self._commands.get_nowait()
            except queue.Empty:
                return stage
            try:
                stage = self._switch(stage, what, name)
            except (CaptureError, StageError, OSError) as exc:
                self.errors.append(f"{what} {name!r}: {exc}")
            self.want_keyframe()  # the picture changed all at once: restart the H.264 stream

    def _switch(self, stage: Stage, what: str, name: str) -> Stage:
        if what == "camera":
            stage.set_camera(stage.pack.camera(name))
            self.camera = name
        elif what == "avatar":
            path = find_avatar(name)
            stage.place_avatar(self._load_avatar(path, None), stage.mark)
            self.avatar_path, self.avatar_name = path, name
        elif what == "scene":
            pack = load_pack(find_pack(name))  # a bad pack fails here, before the set is touched
            if self._headset is not None:
                self._headset.detach()  # its nodes would go with the old set
            try:
                stage = stage.reopen(pack)
            except StageError as exc:
                stage = stage.reopen(self.pack)  # put the old set back, then report
                self.errors.append(f"scene {name!r}: {exc}")
                return stage
            finally:
                if self._headset is not None:
                    self._headset.attach(stage)
            self.pack, self.scene_name, self.camera = pack, name, stage.camera_preset.name
        return stage

    def _load_avatar(self, path: Path, bone_map: dict[str, str] | None) -> AvatarActor:
        s = self.settings
        return AvatarActor.load(path, use=s.use, licensed=s.licensed, bone_map=bone_map)


def draw_inset(bgra: NDArray[np.uint8], rgb: NDArray[np.uint8]) -> None:
    """Draw ``rgb`` (H, W, 3) into the bottom-right quarter-width corner of ``bgra``, in place.

    The actor's camera picture beside their avatar, for rooms started with ``--show-camera``:
    a director can tell a tracking artefact from the performance at a glance.
    """
    import cv2

    height, width = bgra.shape[:2]
    w = max(width // 4, 8)
    h = max(round(w * rgb.shape[0] / rgb.shape[1]), 8)
    margin, border = max(width // 80, 2), 2
    y1, x1 = height - margin, width - margin
    y0, x0 = max(y1 - h, border), max(x1 - w, border)
    bgra[y0 - border : y1 + border, x0 - border : x1 + border] = (255, 255, 255, 255)
    small = cv2.resize(rgb, (x1 - x0, y1 - y0), interpolation=cv2.INTER_AREA)
    bgra[y0:y1, x0:x1, :3] = small[:, :, ::-1]
    bgra[y0:y1, x0:x1, 3] = 255


def _is_take(path: Path) -> bool:
    """A take (pose frames), rather than a landmarks file, by its header line."""
    try:
        _, first = next(iter_json_lines(path), (0, None))
    except TakeFormatError:
        return False
    return first is not None and first.get("format") == TAKE_FORMAT
