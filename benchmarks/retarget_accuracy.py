"""Retargeting accuracy against motion-capture ground truth (DeepMimic clips from pybullet).

Forward kinematics of each clip gives true landmarks; they are turned into MediaPipe-convention
world landmarks, optionally with Gaussian noise (σ per axis), retargeted, and each bone's
direction in avatar space is compared with the truth. Targets: mean ≤ 2° on clean input
(smoothing off), ≤ 6° with 1 cm noise (smoothing on), with the actor facing the camera and
turned ±35°.

    .venv/bin/python benchmarks/retarget_accuracy.py
"""

from __future__ import annotations

import sys

import numpy as np
from _table import print_table

from capture.cache import fixtures_dir
from capture.filters import LandmarkSmoother
from capture.retarget import retarget
from capture.synthetic import (
    CHECKED_BONES,
    Humanoid,
    MotionClip,
    TruthFrame,
    clip_truth,
    direction_errors,
    frame_from_avatar_points,
)

CLIPS = ("walk", "run", "jump", "punch", "kick", "dance_a", "spinkick")
CASES = ((0.0, False), (0.01, True), (0.02, True), (0.03, True))
YAWS = (0.0, 35.0, -35.0)


def errors(truth: list[TruthFrame], noise: float, smoothing: bool, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    smoother = LandmarkSmoother() if smoothing else None
    out = []
    for tf in truth:
        frame = frame_from_avatar_points(tf.t, tf.points + rng.normal(0.0, noise, tf.points.shape))
        if smoother is not None:
            frame = smoother(frame)
        out.append(direction_errors(retarget(frame), tf.points))
    return np.array(out)


def main() -> int:
    folder = fixtures_dir() / "deepmimic"
    if not (folder / "humanoid.urdf").is_file():
        print(f"missing fixtures in {folder}; run ./dev setup", file=sys.stderr)
        return 1
    body = Humanoid.load(folder / "humanoid.urdf")
    clips = {name: MotionClip.load(folder / f"humanoid3d_{name}.txt") for name in CLIPS}
    summary = []
    per_bone: dict[tuple[float, bool], list[np.ndarray]] = {}
    for noise, smoothing in CASES:
        for yaw in YAWS:
            errs = np.concatenate(
                [
                    errors(clip_truth(c, body, yaw), noise, smoothing, i)
                    for i, c in enumerate(clips.values())
                ]
            )
            per_bone.setdefault((noise, smoothing), []).append(errs)
            target = 2.0 if noise == 0 else 6.0 if noise == 0.01 else None
            mean = errs.mean()
            verdict = "-" if target is None else ("ok" if mean <= target else "MISSED")
            summary.append(
                [
                    f"{noise * 100:.0f} cm",
                    "on" if smoothing else "off",
                    f"{yaw:+.0f}°",
                    len(errs),
                    f"{mean:.2f}",
                    f"{np.percentile(errs, 95):.2f}",
                    f"≤ {target:.0f}" if target else "-",
                    verdict,
                ]
            )
    print_table(
        f"Retarget bone-direction error, degrees ({len(CLIPS)} DeepMimic clips: {', '.join(CLIPS)})",
        ["noise σ/axis", "smoothing", "actor yaw", "frames", "mean", "p95", "target", ""],
        summary,
    )
    rows = []
    for i, bone in enumerate(CHECKED_BONES):
        row: list[object] = [bone.vrm_name]
        for case in CASES:
            e = np.concatenate(per_bone[case])[:, i]
            row += [f"{e.mean():.2f}", f"{np.percentile(e, 95):.2f}"]
        rows.append(row)
    headers = ["bone"]
    for noise, smoothing in CASES:
        tag = f"{noise * 100:.0f}cm{'+s' if smoothing else ''}"
        headers += [f"{tag} mean", f"{tag} p95"]
    print_table("Per bone, all yaws (degrees; +s = smoothing on)", headers, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
