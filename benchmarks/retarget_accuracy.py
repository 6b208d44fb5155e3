"""Retargeting accuracy against motion-capture ground truth (DeepMimic clips from pybullet).

Forward kinematics of each clip gives true landmarks; they are turned into MediaPipe-convention
world landmarks, optionally with Gaussian noise (σ per axis), retargeted, and each bone's
direction in avatar space is compared with the truth. Targets: mean ≤ 2° on clean input
(smoothing off), ≤ 6° with 1 cm noise (smoothing on), with the actor facing the camera and
turned ±35°.

Moving across the set: the walk, run and jump clips keep their root's path and are seen by a
fixed level camera (1.2 m high, 3.5 m from the path's middle, 43° vertical field of view,
1280×720) with image landmarks by projection; :class:`capture.motion.RootMotion` places the hips.
Root position error (after aligning the start) and foot skate while in contact (how far a
planted heel or toe strays, per contact) are measured, clean and with noise (σ pixels on the
image landmarks, σ metres per axis on the world landmarks, smoothing on), plus the bone error
on those moving clips. Targets: skate ≤ 1 cm per contact (mean), root error ≤ 10 cm (max).

    .venv/bin/python benchmarks/retarget_accuracy.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from _table import print_table

from capture.cache import fixtures_dir
from capture.filters import LandmarkSmoother
from capture.motion import SOLE_POINTS, RootMotion
from capture.retarget import retarget
from capture.synthetic import (
    CHECKED_BONES,
    Humanoid,
    MotionClip,
    RoomTake,
    TruthFrame,
    clip_truth,
    contact_skate,
    direction_errors,
    frame_from_avatar_points,
    room_take,
    root_errors,
)

CLIPS = ("walk", "run", "jump", "punch", "kick", "dance_a", "spinkick")
# Moving clips and how many times each is played end to end (a walk cycle is 1.2 m).
MOVING = (("walk", 3), ("run", 1), ("jump", 1))
MOVING_NOISE = ((0.0, 0.0), (1.0, 0.005), (2.0, 0.01))  # (image σ px, world σ m)
SKATE_TARGET_CM = 1.0
ROOT_TARGET_CM = 10.0
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


def play(take: RoomTake, smoothing: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hips (T, 3), sole points (T, 4, 3) and bone errors (T, bones) of one room take."""
    smoother = LandmarkSmoother() if smoothing else None
    motion = RootMotion()
    hips, soles, bones = [], [], []
    for raw, truth in zip(take.frames, take.points, strict=True):
        frame = smoother(raw) if smoother is not None else raw
        pose = motion(frame, retarget(frame), take.camera)
        hips.append(pose.hips)
        soles.append(pose.hips + frame.avatar_xyz()[list(SOLE_POINTS)])
        bones.append(direction_errors(pose, truth))
    return np.array(hips), np.array(soles), np.array(bones)


def moving_tables(body: Humanoid, folder: Path) -> None:
    motion_rows, bone_rows = [], []
    for name, cycles in MOVING:
        clip = MotionClip.load(folder / f"humanoid3d_{name}.txt")
        for px, metres in MOVING_NOISE:
            take = room_take(
                clip, body, cycles=cycles, image_noise_px=px, world_noise_m=metres, seed=3
            )
            noisy = px > 0 or metres > 0
            hips, soles, bones = play(take, smoothing=noisy)
            root = root_errors(hips, take.root) * 100
            skate = contact_skate(soles, take.contact) * 100
            own = contact_skate(take.soles, take.contact) * 100
            ok = skate.mean() <= SKATE_TARGET_CM and root.max() <= ROOT_TARGET_CM
            motion_rows.append(
                [
                    name,
                    f"{px:g} px, {metres * 100:g} cm",
                    len(hips),
                    f"{take.distance.mean():.1f}",
                    f"{root.mean():.1f}",
                    f"{root.max():.1f}",
                    len(skate),
                    f"{skate.mean():.2f}",
                    f"{skate.max():.2f}",
                    f"{own.mean():.2f}",
                    "ok" if ok else "MISSED",
                ]
            )
            bone_rows.append(
                [
                    name,
                    f"{px:g} px, {metres * 100:g} cm",
                    f"{bones.mean():.2f}",
                    f"{np.percentile(bones, 95):.2f}",
                ]
            )
    print_table(
        "Root motion on moving clips (fixed level camera 1.2 m high, 3.5 m from the path; cm;"
        f" targets: skate mean ≤ {SKATE_TARGET_CM:g}, root max ≤ {ROOT_TARGET_CM:g})",
        ["clip", "noise", "frames", "depth m", "root mean", "root max", "contacts",
         "skate mean", "skate max", "truth's own", ""],
        motion_rows,
    )  # fmt: skip
    print_table(
        "Bone-direction error on the moving clips, degrees (the camera fixed, the actor turning)",
        ["clip", "noise", "mean", "p95"],
        bone_rows,
    )


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
    moving_tables(body, folder)
    return 0


if __name__ == "__main__":
    sys.exit(main())
