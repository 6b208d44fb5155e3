"""``immersion render``: a take (or a video, captured first) on a set, to a PNG, frames or MP4."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from tqdm import tqdm

from capture.pose import Pose
from capture.take import read_take
from capture.voice import Voice, read_voice, take_voice
from immersion.avatars.vrm import load_bone_map
from immersion.catalogue import find_avatar, find_pack
from immersion.errors import RenderError
from immersion.scenes.manifest import load_pack
from immersion.stage.avatar_actor import AvatarActor
from immersion.stage.pose_feed import LatestPose
from immersion.stage.stage import Stage
from immersion.voice_track import VoiceTrack

MAX_FRAMES = 100_000


@dataclass(frozen=True)
class Performance:
    poses: list[Pose]
    fps: float
    name: str
    voice: Path | None = None  # the take's voice file, for an MP4's sound


def parse_size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must be WIDTHxHEIGHT, got {text!r}") from None
    if not (16 <= w <= 4096 and 16 <= h <= 4096):
        raise argparse.ArgumentTypeError(f"size {w}x{h} out of range (16..4096)")
    return w, h


def run_render(args: argparse.Namespace) -> int:
    out: Path = args.out
    kind = (
        "png"
        if out.suffix.lower() == ".png"
        else "mp4"
        if out.suffix.lower() == ".mp4"
        else "folder"
    )
    if kind != "folder" and out.exists():
        raise RenderError(f"{out}: already exists (renders never overwrite)")
    if kind != "folder" and not out.parent.is_dir():
        raise RenderError(f"{out.parent}: no such folder")
    if kind == "folder" and out.exists() and any(out.iterdir()):
        raise RenderError(f"{out}: folder is not empty (renders never overwrite)")

    pack = load_pack(find_pack(args.scene))
    avatar = load_avatar(args)
    performance = _performance(args)
    width, height = args.size
    stage = Stage.open(
        pack,
        avatar,
        width=width,
        height=height,
        mark=args.mark,
        camera=args.camera,
        shading=args.shading,
    )
    quiet = args.quiet
    if not quiet:
        print(f"scene:  {pack.title} ({pack.production})", file=sys.stderr)
        print(f"avatar: {avatar.spec.licence.summary()}", file=sys.stderr)
        print(
            f"camera: {stage.camera_preset.name}; mark: {stage.mark.name}; "
            f"shading: {stage.shading}",
            file=sys.stderr,
        )

    times = _frame_times(performance, kind, args.at)
    voice = _voice(performance, kind, quiet)
    sink = _open_sink(kind, out, performance.fps, width, height, voice, times[0])
    try:
        with tqdm(
            total=len(times), desc="render", unit="frame", disable=quiet, file=sys.stderr
        ) as bar:
            for _t, pose in _poses_at(performance.poses, times):
                stage.show(pose)
                sink.write(stage)
                bar.update(1)
    except KeyboardInterrupt:
        print("immersion: render stopped; the frames written so far are kept", file=sys.stderr)
        return 130
    finally:
        sink.close()
        stage.close()
    if not quiet:
        print(
            f"wrote {out} ({len(times)} frame{'s' if len(times) != 1 else ''}, {width}x{height})",
            file=sys.stderr,
        )
    return 0


def load_avatar(args: argparse.Namespace) -> AvatarActor:
    """The avatar the render options name (``--avatar``, ``--use``, licence, bone map)."""
    return AvatarActor.load(
        find_avatar(args.avatar),
        use=args.use,
        licensed=args.avatar_licensed,
        bone_map=load_bone_map(args.bone_map) if args.bone_map else None,
    )


def _performance(args: argparse.Namespace) -> Performance:
    if args.take is not None:
        take = read_take(args.take)
        # Frames without a pose are left out: the feed holds the previous pose over them.
        poses: list[Pose] = [p for p in take.poses if p is not None]
        if not poses:
            raise RenderError(f"{args.take}: the take has no frame with a pose")
        voice = take_voice(args.take, take.header)
        return Performance(poses, args.fps or take.fps or 30.0, args.take.name, voice)
    if args.source is not None:
        from capture.pipeline import pose_stream
        from capture.sources import open_source
        from immersion.capture_cmd import capture_settings

        source = open_source(str(args.source), None)
        poses = []
        with tqdm(
            total=source.total, desc="capture", unit="frame", disable=args.quiet, file=sys.stderr
        ) as bar:
            for frame in pose_stream(source, capture_settings(args)):
                if frame.pose is not None:
                    poses.append(frame.pose)
                bar.update(1)
        if not poses:
            raise RenderError(f"{args.source}: nobody was found in the video")
        return Performance(
            poses, args.fps or float(getattr(source, "fps", 30.0) or 30.0), Path(args.source).name
        )
    return Performance([Pose.rest(hips_height=0.9)], args.fps or 30.0, "rest pose")


def _voice(perf: Performance, kind: str, quiet: bool) -> Voice | None:
    """The take's voice, read before rendering starts, for an MP4 (stills have no sound)."""
    if perf.voice is None or kind != "mp4":
        return None
    voice = read_voice(perf.voice)
    if not voice.packets:
        if not quiet:
            print(f"voice:  {perf.voice.name} holds no sound; the MP4 has none", file=sys.stderr)
        return None
    if not quiet:
        print(f"voice:  {perf.voice.name} ({voice.duration:.1f} s) as AAC", file=sys.stderr)
    return voice


def _frame_times(perf: Performance, kind: str, at: float | None) -> list[float]:
    start, end = perf.poses[0].t, perf.poses[-1].t
    if kind == "png":
        return [start + (at if at is not None else (end - start) / 2)]
    count = min(int((end - start) * perf.fps) + 1, MAX_FRAMES)
    return [start + k / perf.fps for k in range(count)]


def _poses_at(poses: list[Pose], times: list[float]) -> Iterator[tuple[float, Pose | None]]:
    """The frame loop's view of a take: the feed receives poses as their time comes (and the
    next one, so a frame between two poses is interpolated)."""
    feed = LatestPose()
    i = 0
    for t in times:
        while i < len(poses) and (i == 0 or poses[i - 1].t <= t):
            feed.push(poses[i])
            i += 1
        yield t, feed.at(t)


class _Sink:
    def write(self, stage: Stage) -> None:
        raise NotImplementedError

    def close(self) -> None:
        pass


def _write_png(stage: Stage, path: Path) -> None:
    from panda3d.core import Filename

    if not stage.target.texture.write(Filename.fromOsSpecific(str(path))):
        raise RenderError(f"{path}: could not be written")


class _Png(_Sink):
    def __init__(self, path: Path) -> None:
        self.path = path

    def write(self, stage: Stage) -> None:
        _write_png(stage, self.path)


class _Folder(_Sink):
    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.count = 0

    def write(self, stage: Stage) -> None:
        self.count += 1
        _write_png(stage, self.folder / f"frame_{self.count:06d}.png")


class _Mp4(_Sink):
    """H.264 in MP4 through PyAV's bundled libx264, straight from the BGRA read-back; with a
    voice, an AAC track on the same clock (frame k at ``start + k / fps`` on the take's)."""

    def __init__(
        self,
        path: Path,
        fps: float,
        width: int,
        height: int,
        voice: Voice | None = None,
        start: float = 0.0,
    ) -> None:
        import av

        self.av: Any = av
        self.container = av.open(str(path), mode="w")
        # The exact rate, not a rounded one, or a voice would drift from the picture.
        self.rate = Fraction(fps).limit_denominator(1001)
        self.stream = self.container.add_stream("libx264", rate=self.rate)
        self.stream.width, self.stream.height = width - width % 2, height - height % 2
        self.stream.pix_fmt = "yuv420p"
        self.stream.options = {"preset": "veryfast", "crf": "20"}
        self.frames = 0
        self.voice: VoiceTrack | None = None
        if voice is not None:
            self.voice = VoiceTrack(self.container, voice, start)

    def write(self, stage: Stage) -> None:
        bgra = stage.target.bgra()[::-1, : self.stream.width]
        frame = self.av.VideoFrame.from_ndarray(bgra[: self.stream.height], format="bgra")
        for packet in self.stream.encode(frame):
            self.container.mux(packet)
        self.frames += 1
        if self.voice is not None:
            self.voice.until(float(self.frames / self.rate))

    def close(self) -> None:
        for packet in self.stream.encode():
            self.container.mux(packet)
        if self.voice is not None:  # as long as the frames written, an interrupted render too
            self.voice.close(float(self.frames / self.rate))
        self.container.close()


def _open_sink(
    kind: str, out: Path, fps: float, width: int, height: int, voice: Voice | None, start: float
) -> _Sink:
    if kind == "png":
        return _Png(out)
    if kind == "mp4":
        return _Mp4(out, fps, width, height, voice, start)
    return _Folder(out)
