"""Per-stage latency of the capture pipeline (body; face on a crop; hands on crops around the
wrists; filter, retarget, root motion) on the demo clip and the actor fixture, for each way of
scheduling the face and hands, all in one run; and retarget + filter alone.

Targets: retarget + filter ≤ 0.2 ms a frame; body + face + hands ≥ 25 fps with the lite model on
2 cores (the default schedule: the face every frame, one hand a frame in turn). Run on an
otherwise idle machine:

    .venv/bin/python benchmarks/capture_latency.py [--models lite full heavy] [--max-frames N]
"""

from __future__ import annotations

import argparse
import itertools
import resource
import sys
import time
from pathlib import Path

import numpy as np
from _table import print_table

from capture.cache import actor_video, demo_clip
from capture.filters import LandmarkSmoother
from capture.models import MODEL_NAMES
from capture.pipeline import STAGES, CaptureSettings, pose_stream
from capture.retarget import retarget
from capture.sources import VideoSource


class Run:
    """One clip captured: ms per stage per frame, the rate, and what was found."""

    def __init__(self, clip: Path, settings: CaptureSettings, max_frames: int | None) -> None:
        self.timings: dict[str, list[float]] = {s: [] for s in STAGES}
        self.frames = self.bodies = self.faces = self.hands = 0
        stream = pose_stream(VideoSource(clip), settings)
        start = time.perf_counter()
        for frame in itertools.islice(stream, max_frames):
            self.frames += 1
            self.bodies += frame.landmarks is not None
            self.faces += frame.landmarks is not None and frame.landmarks.face is not None
            self.hands += frame.landmarks is not None and (
                frame.landmarks.left_hand is not None or frame.landmarks.right_hand is not None
            )
            for stage in STAGES:  # a frame with nobody in it skips the stages after the body
                self.timings[stage].append(frame.timings.get(stage, 0.0))
        stream.close()
        self.fps = self.frames / (time.perf_counter() - start)


def retarget_alone(repeats: int = 3000) -> tuple[np.ndarray, np.ndarray]:
    """Filter and retarget, as the pipeline calls them (previous pose as fallback), timed on the
    demo clip's own landmarks replayed ``repeats`` times."""
    stream = pose_stream(VideoSource(demo_clip()), CaptureSettings(face=False))
    frames = [f.landmarks for f in stream if f.landmarks is not None]
    smoother = LandmarkSmoother()
    filt, ret = [], []
    previous = None
    t = 0.0
    for i in range(repeats):
        frame = frames[i % len(frames)]
        t += 1 / 30
        a = time.perf_counter()
        smooth = smoother(type(frame)(t, frame.xyz, frame.visibility))
        b = time.perf_counter()
        previous = retarget(smooth, fallback=previous)
        c = time.perf_counter()
        filt.append((b - a) * 1e3)
        ret.append((c - b) * 1e3)
    return np.array(filt), np.array(ret)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--models", nargs="+", choices=MODEL_NAMES, default=["lite"])
    parser.add_argument("--max-frames", type=int, default=300, metavar="N", help="per clip")
    args = parser.parse_args()
    clips = {"demo (1768x994)": demo_clip(), "actor.y4m (640x480)": actor_video()}
    for clip in clips.values():
        if not clip.is_file():
            print(f"missing {clip}; run ./dev setup", file=sys.stderr)
            return 1
    rows = []
    for model in args.models:
        schedules = {
            "body": CaptureSettings(model=model, face=False, hands=False),
            "body + face": CaptureSettings(model=model, hands=False),
            "+ hands, both each frame": CaptureSettings(model=model, alternate_hands=False),
            "+ hands, in turn (default)": CaptureSettings(model=model),
            "+ hands in turn, face every 2nd": CaptureSettings(model=model, face_every=2),
        }
        for name, clip in clips.items():
            for schedule, settings in schedules.items():
                run = Run(clip, settings, args.max_frames)
                timings = {s: np.array(v) for s, v in run.timings.items() if v}
                total = sum(timings.values())
                rows.append(
                    [
                        model,
                        name,
                        schedule,
                        *(f"{np.mean(timings[s]):.1f}" if s in timings else "-" for s in STAGES),
                        f"{np.median(total):.1f} / {np.percentile(total, 95):.1f}",
                        f"{run.fps:.1f}",
                        f"{run.bodies / run.frames:.0%}",
                        f"{run.faces / max(run.bodies, 1):.0%}",
                        f"{run.hands / max(run.bodies, 1):.0%}",
                    ]
                )
    print_table(
        "Capture, mean ms per frame per stage; target body + face + hands ≥ 25 fps (lite, "
        "the default schedule)",
        [
            "model", "clip", "schedule", *STAGES, "total med / p95", "fps", "body",
            "face/body", "hands/body",
        ],
        rows,
    )  # fmt: skip
    filt, ret = retarget_alone()
    both = filt + ret
    print_table(
        "Filter + retarget alone (3000 frames of real landmarks), ms; target ≤ 0.2",
        ["stage", "median", "p95"],
        [
            ["filter", f"{np.median(filt):.3f}", f"{np.percentile(filt, 95):.3f}"],
            ["retarget", f"{np.median(ret):.3f}", f"{np.percentile(ret, 95):.3f}"],
            ["filter + retarget", f"{np.median(both):.3f}", f"{np.percentile(both, 95):.3f}"],
        ],
    )
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak RSS {peak_mb:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
