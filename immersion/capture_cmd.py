"""``immersion capture``: run the pose stream with a progress bar or live readout, write a take."""

from __future__ import annotations

import argparse
import itertools
import sys
from typing import Any

from tqdm import tqdm

from capture.pipeline import STAGES, CaptureSettings, CaptureStats, pose_stream
from capture.sources import open_source, source_camera
from capture.take import TakeWriter


def capture_settings(args: argparse.Namespace) -> CaptureSettings:
    """The capture options any command was given (:func:`immersion.cli.add_capture_options`)."""
    return CaptureSettings(
        model=args.model,
        smoothing=args.smoothing,
        min_cutoff=args.min_cutoff,
        beta=args.beta,
        face=args.face,
        hands=args.hands,
        vfov_deg=args.camera_fov,
    )


def run_capture(args: argparse.Namespace, source_spec: str) -> int:
    settings = capture_settings(args)
    source = open_source(source_spec, args.fps)
    header: dict[str, Any] = {
        "source": source.name,
        "model": settings.model,
        "fps": getattr(source, "fps", args.fps),
        "smoothing": _smoothing_header(settings),
    }
    camera = source_camera(source, settings.vfov_deg)
    if camera is not None:  # a picture (or a landmarks file's camera): root motion's lens
        header["camera"] = camera.to_json()
    take = TakeWriter(args.out, header) if args.out else None
    stats = CaptureStats()
    stream = pose_stream(source, settings)
    total = (
        source.total
        if args.max_frames is None
        else min(source.total or args.max_frames, args.max_frames)
    )
    bar = tqdm(
        total=total,
        desc="live" if source.live else "capture",
        unit="frame",
        disable=args.quiet,
        file=sys.stderr,
        dynamic_ncols=True,
    )
    interrupted = False
    try:
        for frame in itertools.islice(stream, args.max_frames):
            if take is not None:
                take.write(frame.t, frame.pose, frame.landmarks if args.landmarks else None)
            stats.add(frame)
            bar.update(1)
            if stats.frames % 10 == 0:
                bar.set_postfix(stats.readout(), refresh=False)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        stream.close()
        bar.close()
        if take is not None:
            take.close()
    if not args.quiet:
        _summary(stats, take, interrupted)
    return 130 if interrupted else 0


def _smoothing_header(settings: CaptureSettings) -> dict[str, Any] | None:
    if not settings.smoothing:
        return None
    return {
        "filter": "one-euro",
        "minCutoffHz": settings.min_cutoff,
        "beta": settings.beta,
        "dCutoffHz": settings.d_cutoff,
    }


def _summary(stats: CaptureStats, take: TakeWriter | None, interrupted: bool) -> None:
    lines = [
        f"{'stopped' if interrupted else 'done'}: {stats.frames} frames, "
        f"pose on {stats.detected} ({stats.detection_rate:.1%}), {stats.fps:.1f} fps",
        "median ms  " + "  ".join(f"{s} {stats.median_ms(s):.2f}" for s in STAGES),
    ]
    if take is not None:
        lines.append(f"take: {take.path} ({take.frames} frames)")
    print("\n".join(lines), file=sys.stderr)
