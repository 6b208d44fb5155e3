"""Export time for a 60 s take: `immersion takes export` in each format, on this CPU.

A synthetic 60 s take at 30 fps (every body and finger bone swinging, the hips walking, a face
track) is written once, then exported to BVH (normalized skeleton and an avatar's), VRMA (with
its expressions) and GLB (the avatar with the animation). Each export is timed end to end, as
the command runs it: reading the take, solving every frame with the room's Rig, writing the
file. The best of ``REPEATS`` runs is reported (the machine is shared).

    .venv/bin/python benchmarks/exports.py [--avatar NAME]
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from pathlib import Path

import numpy as np
from _table import print_table

from capture.face import ARKIT_COUNT, Face
from capture.pose import Pose
from capture.rotations import axis_angle_quat
from capture.skeleton import BONE_COUNT
from capture.take import TakeWriter
from immersion.catalogue import DEFAULT_AVATAR
from immersion.exports import export_take

SECONDS, FPS, REPEATS = 60.0, 30.0, 3


def write_take(path: Path, seconds: float = SECONDS) -> int:
    """The synthetic take, ``seconds`` long; returns its frame count."""
    rng = np.random.default_rng(17)
    axes = rng.normal(size=(BONE_COUNT, 3))
    phases = rng.uniform(0, 2 * math.pi, BONE_COUNT)
    frames = int(seconds * FPS)
    with TakeWriter(path, {"fps": FPS}) as w:
        for k in range(frames):
            t = k / FPS
            rot = np.array(
                [
                    axis_angle_quat(axes[b], 0.4 * math.sin(2 * math.pi * 0.5 * t + phases[b]))
                    for b in range(BONE_COUNT)
                ]
            )
            weights = 0.5 + 0.5 * np.sin(2 * math.pi * 0.3 * t + np.arange(ARKIT_COUNT))
            face = Face(weights, np.array([0.2 * math.sin(t), 0.1 * math.cos(t)]))
            hips = np.array([0.3 * math.sin(0.2 * t), 0.93, 0.5 * t])
            w.write(t, Pose(t, hips, rot, np.ones(BONE_COUNT), face))
    return frames


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--avatar", default=DEFAULT_AVATAR, help="avatar for bvh/glb/vrma")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        take = Path(tmp) / "take.jsonl"
        frames = write_take(take)
        rows = []
        for fmt, avatar in (
            ("bvh", None), ("bvh", args.avatar), ("vrma", None), ("vrma", args.avatar),
            ("glb", args.avatar),
        ):  # fmt: skip
            out = Path(tmp) / f"out.{fmt}"
            best = math.inf
            for _ in range(REPEATS):
                start = time.perf_counter()
                export_take(take, fmt, out, avatar, progress=False)
                best = min(best, time.perf_counter() - start)
            rows.append(
                (
                    fmt,
                    avatar or "normalized",
                    frames,
                    f"{best:.2f}",
                    f"{frames / best:.0f}",
                    f"{out.stat().st_size / 1e6:.1f}",
                )
            )
    print_table(
        f"Export time for a {SECONDS:.0f} s take ({FPS:.0f} fps, face track), best of {REPEATS}",
        ("format", "skeleton", "frames", "seconds", "frames/s", "MB"),
        rows,
    )


if __name__ == "__main__":
    main()
