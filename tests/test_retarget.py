"""Retargeting conventions: left is left, up is up, rest is identity, known moves, known rotations."""

from __future__ import annotations

import numpy as np
import pytest

from capture.landmarks import Landmark as L
from capture.landmarks import LandmarkFrame
from capture.pose import Pose
from capture.retarget import HEAD_FORWARD_REST, NeutralHead, retarget
from capture.rotations import axis_angle_quat, quat_angle
from capture.skeleton import UNTRACKED, Bone
from capture.synthetic import frame_from_avatar_points, tpose_avatar_points

pytestmark = pytest.mark.pure

LEFT_ARM = (L.LEFT_ELBOW, L.LEFT_WRIST, L.LEFT_PINKY, L.LEFT_INDEX, L.LEFT_THUMB)
RIGHT_ARM = (L.RIGHT_ELBOW, L.RIGHT_WRIST, L.RIGHT_PINKY, L.RIGHT_INDEX, L.RIGHT_THUMB)
_LEGS = {
    L[f"{side}_{part}"]
    for side in ("LEFT", "RIGHT")
    for part in ("HIP", "KNEE", "ANKLE", "HEEL", "FOOT_INDEX")
}


def _rotate(
    points: np.ndarray, about: L | None, which: tuple[L, ...], axis: list[float], angle: float
) -> np.ndarray:
    """Points with ``which`` rotated rigidly about landmark ``about`` (None: the origin)."""
    out = points.copy()
    c, s = np.cos(angle), np.sin(angle)
    k = np.array(axis, dtype=float) / np.linalg.norm(axis)
    K = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    R = np.eye(3) + s * K + (1 - c) * K @ K
    pivot = np.zeros(3) if about is None else points[about]
    for lm in which:
        out[lm] = pivot + R @ (points[lm] - pivot)
    return out


def _angle_deg(q: np.ndarray, expected: np.ndarray) -> float:
    return float(np.degrees(quat_angle(q, expected)))


def test_t_pose_gives_identity_everywhere() -> None:
    pose = retarget(frame_from_avatar_points(0.0, tpose_avatar_points()))
    np.testing.assert_allclose(pose.rotations[:, 3], 1.0, atol=1e-9)
    assert pose.hips[1] == pytest.approx(0.90)  # hips above the soles


def test_actor_raising_left_arm_raises_avatar_left_arm() -> None:
    # In MediaPipe's axes the actor's left wrist goes up (y decreases) on the image's right (+x).
    frame = frame_from_avatar_points(0.0, tpose_avatar_points())
    rows = np.concatenate([frame.xyz, frame.visibility[:, None]], axis=1)
    assert rows[L.LEFT_WRIST, 0] > 0  # the actor's left is on the image right
    raised = _rotate(tpose_avatar_points(), L.LEFT_SHOULDER, LEFT_ARM, [0, 0, 1], np.pi / 2)
    pose = retarget(frame_from_avatar_points(0.0, raised))
    # +X (the avatar's left) swung up to +Y: a quarter turn about +Z.
    expected = axis_angle_quat([0, 0, 1], np.pi / 2)
    assert _angle_deg(pose.rotation(Bone.LEFT_UPPER_ARM), expected) < 0.01
    assert _angle_deg(pose.rotation(Bone.RIGHT_UPPER_ARM), axis_angle_quat([0, 0, 1], 0)) < 0.01


def test_right_arm_raise_is_the_mirror_rotation() -> None:
    raised = _rotate(tpose_avatar_points(), L.RIGHT_SHOULDER, RIGHT_ARM, [0, 0, 1], -np.pi / 2)
    pose = retarget(frame_from_avatar_points(0.0, raised))
    assert (
        _angle_deg(pose.rotation(Bone.RIGHT_UPPER_ARM), axis_angle_quat([0, 0, 1], -np.pi / 2))
        < 0.01
    )


def test_elbow_bend_is_a_hinge_of_the_lower_arm_only() -> None:
    # Forearm swings forward (+Z) by 90 degrees: about -Y for the left arm.
    bent = _rotate(tpose_avatar_points(), L.LEFT_ELBOW, LEFT_ARM[1:], [0, -1, 0], np.pi / 2)
    pose = retarget(frame_from_avatar_points(0.0, bent))
    assert (
        _angle_deg(pose.rotation(Bone.LEFT_LOWER_ARM), axis_angle_quat([0, -1, 0], np.pi / 2))
        < 0.01
    )
    assert _angle_deg(pose.rotation(Bone.LEFT_UPPER_ARM), axis_angle_quat([0, 0, 1], 0)) < 0.01


def test_knee_bend_and_flat_foot() -> None:
    leg = (L.LEFT_ANKLE, L.LEFT_HEEL, L.LEFT_FOOT_INDEX)
    bent = _rotate(tpose_avatar_points(), L.LEFT_KNEE, leg, [1, 0, 0], np.pi / 3)
    pose = retarget(frame_from_avatar_points(0.0, bent))
    # The shin swings back: +60 degrees about +X; the foot turns with it.
    assert (
        _angle_deg(pose.rotation(Bone.LEFT_LOWER_LEG), axis_angle_quat([1, 0, 0], np.pi / 3)) < 0.01
    )
    assert _angle_deg(pose.rotation(Bone.LEFT_FOOT), axis_angle_quat([1, 0, 0], 0)) < 0.01
    # The T-pose foot's ankle→toe line points down, yet a flat foot is identity.
    rest = retarget(frame_from_avatar_points(0.0, tpose_avatar_points()))
    assert _angle_deg(rest.rotation(Bone.LEFT_FOOT), axis_angle_quat([1, 0, 0], 0)) < 0.01


def test_turning_to_face_left_turns_the_hips() -> None:
    everything = tuple(L)
    turned = _rotate(tpose_avatar_points(), L.LEFT_HIP, everything, [0, 1, 0], np.radians(35))
    pose = retarget(frame_from_avatar_points(0.0, turned))
    assert _angle_deg(pose.rotation(Bone.HIPS), axis_angle_quat([0, 1, 0], np.radians(35))) < 0.01
    assert _angle_deg(pose.rotation(Bone.SPINE), axis_angle_quat([0, 1, 0], 0)) < 0.01


UPPER_BODY = tuple(lm for lm in L if lm not in _LEGS)


def test_side_bend_is_shared_by_the_spine_and_the_chest_follows_the_midline() -> None:
    # The whole upper body leans 30 degrees to the actor's right (toward -X), about the hips'
    # midpoint (the T-pose's origin): about +Z, seen from the front.
    pts = tpose_avatar_points()
    assert np.allclose(pts[L.LEFT_HIP] + pts[L.RIGHT_HIP], 0.0)
    bent = _rotate(pts, None, UPPER_BODY, [0, 0, 1], np.radians(30))
    pose = retarget(frame_from_avatar_points(0.0, bent))
    third = axis_angle_quat([0, 0, 1], np.radians(10))
    for bone in (Bone.SPINE, Bone.CHEST, Bone.UPPER_CHEST):
        assert _angle_deg(pose.rotation(bone), third) < 0.01
    assert _angle_deg(pose.rotation(Bone.HIPS), axis_angle_quat([0, 0, 1], 0)) < 0.01


def test_a_tilted_shoulder_line_does_not_bend_the_spine() -> None:
    # One shoulder up 6 cm, the other down 6 cm (a shrug and a dropped shoulder): the
    # hips→shoulders midline stays upright, so the spine stays straight (the old chest frame,
    # perpendicular to the shoulder line, leaned it by 18 degrees).
    pts = tpose_avatar_points()
    pts[[*LEFT_ARM, L.LEFT_SHOULDER], 1] += 0.06
    pts[[*RIGHT_ARM, L.RIGHT_SHOULDER], 1] -= 0.06
    pose = retarget(frame_from_avatar_points(0.0, pts))
    for bone in (Bone.SPINE, Bone.CHEST, Bone.UPPER_CHEST):
        assert _angle_deg(pose.rotation(bone), axis_angle_quat([0, 0, 1], 0)) < 0.01
    # The arms still point where their landmarks do (level, along ±X).
    world = pose.global_rotations()
    assert _angle_deg(world[Bone.LEFT_UPPER_ARM], axis_angle_quat([0, 0, 1], 0)) < 0.01


def test_straight_arm_lowered_to_the_side_never_flips() -> None:
    # Sweep a straight arm from the T-pose down past the hip; the upper arm's rotation must
    # change smoothly (no twist jump where the bend plane vanishes).
    previous = None
    for deg in np.linspace(0, 100, 101):
        pts = _rotate(tpose_avatar_points(), L.LEFT_SHOULDER, LEFT_ARM, [0, 0, 1], -np.radians(deg))
        q = retarget(frame_from_avatar_points(0.0, pts)).rotation(Bone.LEFT_UPPER_ARM)
        if previous is not None:
            assert _angle_deg(q, previous) < 1.5
        previous = q
    assert previous is not None
    np.testing.assert_allclose(
        np.degrees(quat_angle(previous, axis_angle_quat([0, 0, 1], -np.radians(100)))), 0, atol=0.01
    )


def test_occluded_bones_follow_the_model_with_a_lag_never_toward_rest() -> None:
    points = tpose_avatar_points()
    raised = _rotate(points, L.LEFT_SHOULDER, LEFT_ARM, [0, 0, 1], np.pi / 2)
    seen = retarget(frame_from_avatar_points(0.0, raised))
    # The left arm goes out of view and the model guesses it lowered a little (by 30°).
    guessed = _rotate(points, L.LEFT_SHOULDER, LEFT_ARM, [0, 0, 1], np.pi / 3)
    frame = frame_from_avatar_points(0.1, guessed)
    hidden_lms = [L.LEFT_WRIST, L.LEFT_INDEX, L.LEFT_PINKY, L.LEFT_ELBOW]

    def hidden(visibility: float, t: float = 0.1) -> LandmarkFrame:
        vis = frame.visibility.copy()
        vis[hidden_lms] = visibility
        return LandmarkFrame.from_array(t, np.concatenate([frame.xyz, vis[:, None]], axis=1))

    def moved(pose: Pose) -> float:  # degrees of the 30° toward the guess
        return 30.0 - _angle_deg(pose.rotation(Bone.LEFT_UPPER_ARM), guessed_q)

    guessed_q = axis_angle_quat([0, 0, 1], np.pi / 3)
    held = retarget(hidden(0.0), fallback=seen, hidden_lag=0.2)
    assert held.confidence[Bone.LEFT_UPPER_ARM] == 0.0
    assert held.confidence[Bone.RIGHT_UPPER_ARM] == pytest.approx(1.0)
    # Fully hidden: 0.1 s with a 0.2 s lag goes 1 - e^-0.5 of the way, on the path to the guess.
    assert moved(held) == pytest.approx(30.0 * (1.0 - np.exp(-0.5)), abs=0.01)
    assert _angle_deg(held.rotation(Bone.LEFT_UPPER_ARM), seen.rotation(Bone.LEFT_UPPER_ARM)) + (
        _angle_deg(held.rotation(Bone.LEFT_UPPER_ARM), guessed_q)
    ) == pytest.approx(30.0, abs=0.01)
    # More visibility, less lag; at the threshold and without a fallback, the guess itself.
    assert moved(held) < moved(retarget(hidden(0.3), fallback=seen, hidden_lag=0.2)) < 30.0
    assert moved(retarget(hidden(0.5), fallback=seen, hidden_lag=0.2)) == pytest.approx(30.0)
    assert moved(retarget(hidden(0.0))) == pytest.approx(30.0)
    # No time elapsed: held exactly.
    same_t = retarget(hidden(0.0, t=0.0), fallback=seen)
    assert (
        _angle_deg(same_t.rotation(Bone.LEFT_UPPER_ARM), seen.rotation(Bone.LEFT_UPPER_ARM)) < 1e-4
    )
    assert all(held.confidence[b] == 0 for b in UNTRACKED)


def test_input_frame_is_not_modified() -> None:
    # Writable arrays (LandmarkFrame.from_array would make them read-only, which hides a
    # copy-and-modify bug behind an error): retargeting must leave every input as it was.
    raised = _rotate(tpose_avatar_points(), L.LEFT_SHOULDER, LEFT_ARM, [0, 0, 1], np.pi / 2)
    source = frame_from_avatar_points(0.0, raised)
    visibility = source.visibility.copy()
    visibility[[L.LEFT_WRIST, L.LEFT_ELBOW]] = 0.1  # some bones fall back to the previous pose
    frame = LandmarkFrame(0.1, source.xyz.copy(), visibility)
    fallback = retarget(frame_from_avatar_points(0.0, raised))
    for arr in (fallback.hips, fallback.rotations, fallback.confidence):
        arr.flags.writeable = True
    inputs = (frame.xyz, frame.visibility, fallback.hips, fallback.rotations, fallback.confidence)
    assert all(arr.flags.writeable for arr in inputs)
    before = [arr.copy() for arr in inputs]
    retarget(frame, fallback=fallback)
    for arr, was in zip(inputs, before, strict=True):
        np.testing.assert_array_equal(arr, was)


def test_neutral_head_calibration_levels_a_low_nosed_actor() -> None:
    # This actor's nose sits 4 cm below the ear line (the default assumes 2.5 cm): at rest,
    # uncalibrated, the avatar's head nods down; after a second of calibration it is level.
    pts = tpose_avatar_points()
    pts[L.NOSE, 1] = pts[L.LEFT_EAR, 1] - 0.04
    level = axis_angle_quat([1, 0, 0], 0)
    before = retarget(frame_from_avatar_points(0.0, pts))
    assert _angle_deg(before.rotation(Bone.HEAD), level) > 2.0
    calibrator = NeutralHead()
    rest = None
    for i in range(31):
        rest = calibrator(frame_from_avatar_points(i / 30, pts))
        assert (rest is None) == (i < 30)
    assert rest is not None
    after = retarget(frame_from_avatar_points(1.1, pts), head_rest=rest)
    for bone in (Bone.NECK, Bone.HEAD):
        assert _angle_deg(after.rotation(bone), level) < 0.01
    # Nodding 20° from there reads as 20° (10° each for neck and head), not 20° plus the offset.
    nod = pts.copy()
    ears = 0.5 * (pts[L.LEFT_EAR] + pts[L.RIGHT_EAR])
    nod[L.NOSE] = ears + _rotate(pts - ears, None, (L.NOSE,), [1, 0, 0], np.radians(20))[L.NOSE]
    nodded = retarget(frame_from_avatar_points(1.2, nod), head_rest=rest)
    assert _angle_deg(nodded.rotation(Bone.HEAD), level) == pytest.approx(10.0, abs=0.01)


def test_neutral_head_waits_for_a_confident_head_and_recalibrates_on_demand() -> None:
    pts = tpose_avatar_points()
    hidden = frame_from_avatar_points(0.0, pts, visibility=0.2)
    calibrator = NeutralHead()
    assert calibrator(hidden) is None
    for i in range(31):  # one second at 30 fps
        first = calibrator(frame_from_avatar_points(1.0 + i / 30, pts))
    assert first is not None
    np.testing.assert_allclose(first, HEAD_FORWARD_REST, atol=1e-9)  # the T-pose nose
    lower = pts.copy()
    lower[L.NOSE, 1] -= 0.03
    calibrator.calibrate(3.0)
    assert calibrator(frame_from_avatar_points(2.9, lower)) is first  # before t: ignored
    for i in range(31):
        again = calibrator(frame_from_avatar_points(3.0 + i / 30, lower))
    assert again is not None and again[1] < first[1] - 0.1
