"""Per-frame latency of the capture pipeline on the demo clip, and retarget + filter alone.

Targets: retarget + filter ≤ 0.2 ms a frame; end-to-end ≥ 30 fps with the lite model on
2 cores. Run on an otherwise idle machine:

    .venv/bin/python benchmarks/capture_latency.py [--models lite full heavy]
"""

from __future__ import annotations

import argparse
import resource
import sys
import time

import numpy as np
from _table import print_table

from capture.cache import demo_clip
from capture.filters import LandmarkSmoother
from capture.models import MODEL_NAMES, ModelName
from capture.pipeline import STAGES, CaptureSettings, pose_stream
from capture.retarget import retarget
from capture.sources import VideoSource


def run_clip(model: ModelName) -> tuple[dict[str, np.ndarray], float, float, int]:
    source = VideoSource(demo_clip())
    timings: dict[str, list[float]] = {s: [] for s in STAGES}
    detected = frames = 0
    start = time.perf_counter()
    for frame in pose_stream(source, CaptureSettings(model=model)):
        frames += 1
        detected += frame.pose is not None
        for stage, ms in frame.timings.items():
            timings[stage].append(ms)
    wall = time.perf_counter() - start
    return {s: np.array(v) for s, v in timings.items()}, frames / wall, detected / frames, frames


def retarget_alone(repeats: int = 3000) -> tuple[np.ndarray, np.ndarray]:
    """Filter and retarget, as the pipeline calls them (previous pose as fallback), timed on the
    demo clip's own landmarks replayed ``repeats`` times."""
    frames = [f.landmarks for f in pose_stream(VideoSource(demo_clip())) if f.landmarks is not None]
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
    parser.add_argument("--models", nargs="+", choices=MODEL_NAMES, default=["lite", "full"])
    args = parser.parse_args()
    if not demo_clip().is_file():
        print(f"missing {demo_clip()}; run ./dev setup", file=sys.stderr)
        return 1
    rows = []
    for model in args.models:
        timings, fps, rate, frames = run_clip(model)
        total = sum(timings.values())
        for stage in (*STAGES, "total"):
            v = total if stage == "total" else timings[stage]
            rows.append(
                [
                    model,
                    stage,
                    f"{np.median(v):.2f}",
                    f"{np.percentile(v, 95):.2f}",
                    f"{fps:.1f}" if stage == "total" else "",
                    f"{rate:.1%}" if stage == "total" else "",
                ]
            )
    print_table(
        f"Capture of the demo clip ({frames} frames, 1768x994), ms per frame; target ≥ 30 fps (lite)",
        ["model", "stage", "median", "p95", "fps", "pose found"],
        rows,
    )
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
