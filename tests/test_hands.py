"""Fingers from hand landmarks: the solver on synthetic hands, and the tracker over time."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from capture.hands import (
    FINGER_SEGMENTS,
    NATURAL_CURL,
    HandTracker,
    curl_axes,
    finger_bones,
    hand_rotation,
    rest_directions,
    solve_fingers,
)
from capture.landmarks import SIDES, HandLandmarks, LandmarkFrame, Side
from capture.landmarks import HandLandmark as H
from capture.pose import Pose
from capture.rotations import axis_angle_quat, quat_angle, quat_to_matrix
from capture.skeleton import FINGER_BONES, Bone
from tests.hand_fixtures import IDENTITY, curled, mirrored, synthetic_hand

pytestmark = pytest.mark.pure


def _degrees(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.degrees(quat_angle(a, b))


def _spread_and_curl(side: Side, seed: int) -> np.ndarray:
    """A hand in a varied but anatomical pose: knuckles bent and spread, hinges curled."""
    rng = np.random.default_rng(seed)
    axes, rest = curl_axes(side), rest_directions(side)
    out = np.empty((FINGER_SEGMENTS, 4))
    for f in range(5):
        up = np.cross(rest[f], axes[f])  # the other axis perpendicular to the segment
        first = axes[f] * rng.uniform(-0.2, 1.2) + up * rng.uniform(-0.3, 0.3)
        out[3 * f] = axis_angle_quat(first, float(np.linalg.norm(first)))
        for k in (1, 2):
            out[3 * f + k] = axis_angle_quat(axes[f], rng.uniform(-0.1, 1.4))
    return out


@pytest.mark.parametrize("side", SIDES)
def test_a_flat_hand_is_the_rest_pose(side: Side) -> None:
    rotations, confidence = solve_fingers(synthetic_hand(IDENTITY, side, score=0.9), side)
    assert rotations.shape == (15, 4)
    assert np.all(_degrees(rotations, IDENTITY) < 1e-4)
    assert np.allclose(confidence, 0.9)


@pytest.mark.parametrize("side", SIDES)
def test_a_fist_curls_every_joint_toward_the_palm(side: Side) -> None:
    rotations, confidence = solve_fingers(synthetic_hand(curled(side, 80.0), side), side)
    axes, rest = curl_axes(side), rest_directions(side)
    for f in range(1, 5):
        for k in range(3):
            q = rotations[3 * f + k]
            angle = np.degrees(2 * np.arccos(min(q[3], 1.0)))
            assert 60.0 <= angle <= 100.0, (f, k, angle)
            axis = q[:3] / np.linalg.norm(q[:3])
            assert axis @ axes[f] > 0.99, (f, k, axis)
            # Seen from its parent, each segment turns down toward the palm (-Y).
            assert (quat_to_matrix(q) @ rest[f])[1] < -0.9
    assert np.all(confidence == 1.0)


@pytest.mark.parametrize("side", SIDES)
def test_the_thumb_follows_its_own_segments(side: Side) -> None:
    local = IDENTITY.copy()
    local[0:3] = curled(side, 0.0, thumb=35.0)[0:3]
    rotations, _ = solve_fingers(synthetic_hand(local, side), side)
    assert np.all(_degrees(rotations[0:3], local[0:3]) < 1e-4)
    assert np.all(_degrees(rotations[3:], IDENTITY[3:]) < 1e-4)
    tip = quat_to_matrix(rotations[0]) @ rest_directions(side)[0]
    assert tip[1] < -0.5  # the metacarpal turned toward the palm


@pytest.mark.parametrize("side", SIDES)
@pytest.mark.parametrize("seed", range(4))
def test_varied_hands_come_back_as_they_were_posed(side: Side, seed: int) -> None:
    local = _spread_and_curl(side, seed)
    rotations, confidence = solve_fingers(synthetic_hand(local, side), side)
    assert np.all(_degrees(rotations, local) < 1e-4)
    assert np.all(confidence == 1.0)


@pytest.mark.parametrize("seed", range(4))
def test_left_and_right_are_mirror_images(seed: int) -> None:
    left = synthetic_hand(_spread_and_curl("left", seed), "left")
    # The same hand seen in a mirror: the camera's x flips.
    right = HandLandmarks(left.world * [-1.0, 1.0, 1.0], left.score)
    got_left, conf_left = solve_fingers(left, "left")
    got_right, conf_right = solve_fingers(right, "right")
    assert np.all(_degrees(got_right, mirrored(got_left)) < 1e-4)
    assert np.array_equal(conf_left, conf_right)
    assert np.all(
        _degrees(hand_rotation(right, "right"), mirrored(hand_rotation(left, "left"))) < 1e-4
    )


@pytest.mark.parametrize("side", SIDES)
@pytest.mark.parametrize("seed", range(3))
def test_turning_the_whole_hand_leaves_the_fingers_alone(side: Side, seed: int) -> None:
    rng = np.random.default_rng(10 + seed)
    turn = axis_angle_quat(rng.normal(size=3), rng.uniform(0.5, 3.0))
    local = _spread_and_curl(side, seed)
    held = synthetic_hand(local, side, hand=turn)
    rotations, _ = solve_fingers(held, side)
    assert np.all(_degrees(rotations, local) < 1e-4)
    assert _degrees(hand_rotation(held, side), turn) < 1e-4
    assert _degrees(hand_rotation(synthetic_hand(local, side), side), IDENTITY[0]) < 1e-4


def test_confidence_drops_for_the_finger_at_fault_only() -> None:
    hand = synthetic_hand(curled("left", 30.0), "left", score=0.8)
    world = hand.world.copy()
    world[H.RING_TIP] += [0.0, 0.0, 0.3]  # a ring tip 30 cm off: no such finger
    _, confidence = solve_fingers(HandLandmarks(world, 0.8), "left")
    by_finger = confidence.reshape(5, 3)
    assert np.all(by_finger[3] == 0.0)
    assert np.allclose(np.delete(by_finger, 3, axis=0), 0.8)


def test_a_hinge_bent_sideways_is_trusted_less() -> None:
    # The index's middle joint turned 30° about the vertical (a way no finger bends), then 60°.
    confs = []
    for degrees in (0.0, 30.0, 60.0):
        local = IDENTITY.copy()
        local[4] = axis_angle_quat([0.0, 1.0, 0.0], np.radians(degrees))
        _, confidence = solve_fingers(synthetic_hand(local, "left"), "left")
        confs.append(confidence[3])
        assert np.all(np.delete(confidence, [3, 4, 5]) == 1.0)
    assert confs[0] == 1.0 and confs[0] > confs[1] > confs[2] == 0.0


def test_a_collapsed_palm_is_not_trusted() -> None:
    world = synthetic_hand(IDENTITY, "left").world.copy()
    world[H.PINKY_MCP] = world[H.INDEX_MCP]
    _, confidence = solve_fingers(HandLandmarks(world), "left")
    assert np.all(confidence == 0.0)


def test_finger_bones_are_in_skeleton_order() -> None:
    assert finger_bones("left") + finger_bones("right") == list(FINGER_BONES)
    assert finger_bones("right")[0] is Bone.RIGHT_THUMB_METACARPAL
    assert finger_bones("left")[-1] is Bone.LEFT_LITTLE_DISTAL


# --- the tracker ---------------------------------------------------------------------------

LEFT = finger_bones("left")
RIGHT = finger_bones("right")


def _frame(
    t: float, left: HandLandmarks | None = None, right: HandLandmarks | None = None
) -> LandmarkFrame:
    body = LandmarkFrame.from_array(t, np.zeros((33, 3)))
    return replace(body, left_hand=left, right_hand=right)


def test_frames_without_hands_leave_the_body_pose_alone() -> None:
    tracker = HandTracker()
    for t in (0.0, 0.5, 2.0):
        pose = Pose.rest(t, 0.9)
        out = tracker(pose, _frame(t))
        assert np.array_equal(out.rotations, pose.rotations)
        assert np.array_equal(out.confidence, pose.confidence)
        assert out.to_json() == pose.to_json()  # a body-only take stays as it was


def test_the_actors_left_hand_drives_the_avatars_left_fingers() -> None:
    tracker = HandTracker()
    fist = synthetic_hand(curled("left", 80.0), "left", score=0.7)
    pose = Pose.rest(0.0)
    frame = _frame(0.0, left=fist)
    before = (pose.rotations.copy(), fist.world.copy())
    out = tracker(pose, frame)
    assert np.all(_degrees(out.rotations[LEFT], curled("left", 80.0)) < 1e-4)
    assert np.allclose(out.confidence[LEFT], 0.7)
    assert np.array_equal(out.rotations[RIGHT], pose.rotations[RIGHT])
    assert np.all(out.confidence[RIGHT] == 0.0)
    assert np.array_equal(pose.rotations, before[0])
    assert frame.left_hand is fist and np.array_equal(fist.world, before[1])
    assert not out.rotations.flags.writeable


def test_a_sudden_fist_is_smoothed_then_reached() -> None:
    tracker = HandTracker()
    flat = synthetic_hand(IDENTITY, "right")
    fist_q = curled("right", 80.0)
    fist = synthetic_hand(fist_q, "right")
    tracker(Pose.rest(0.0), _frame(0.0, right=flat))
    first = tracker(Pose.rest(1 / 30), _frame(1 / 30, right=fist)).rotations[RIGHT]
    gone = _degrees(first, IDENTITY)
    assert np.all((gone > 5.0) & (gone < 75.0))  # on its way, neither still nor there
    t = 1 / 30
    while t < 0.5:
        t += 1 / 30
        last = tracker(Pose.rest(t), _frame(t, right=fist)).rotations[RIGHT]
    assert np.all(_degrees(last, fist_q) < 1.0)


def test_a_lost_hand_holds_then_relaxes_to_a_natural_curl() -> None:
    tracker = HandTracker(hold=0.4, relax=0.5)
    fist_q = curled("left", 80.0)
    tracker(Pose.rest(0.0), _frame(0.0, left=synthetic_hand(fist_q, "left")))
    times = np.arange(1, 40) / 30
    outs = [tracker(Pose.rest(float(t)), _frame(float(t))) for t in times]
    rot = np.array([o.rotations[LEFT] for o in outs])
    conf = np.array([o.confidence[LEFT] for o in outs])
    holding = times <= 0.4
    assert np.all(_degrees(rot[holding], fist_q) < 1e-4)
    relaxed = times >= 0.9
    assert np.all(_degrees(rot[relaxed], NATURAL_CURL["left"]) < 1e-4)
    assert np.all(conf[relaxed] == 0.0)
    assert np.all(np.diff(conf[~relaxed], axis=0) < 0.0)  # trusted less and less
    # Between, it moves steadily from one to the other.
    to_curl = _degrees(rot[:, 3], NATURAL_CURL["left"][3])
    assert np.all(np.diff(to_curl[~holding]) <= 1e-9)
    # A natural curl: every finger bent a little, nothing straight and nothing clenched.
    angles = _degrees(NATURAL_CURL["left"], IDENTITY)
    assert np.all((angles > 5.0) & (angles < 40.0))
    # And the right hand, never seen, stayed at rest.
    assert all(np.all(o.confidence[RIGHT] == 0.0) for o in outs)


def test_a_hand_found_again_eases_in_from_where_it_was() -> None:
    tracker = HandTracker()
    flat = synthetic_hand(IDENTITY, "left")
    tracker(Pose.rest(0.0), _frame(0.0, left=flat))
    curl = tracker(Pose.rest(2.0), _frame(2.0)).rotations[LEFT]  # lost long ago: curled
    back = tracker(Pose.rest(2.05), _frame(2.05, left=flat)).rotations[LEFT]
    assert np.all(_degrees(back, IDENTITY) > 1.0)  # not a jump back to flat
    assert np.all(_degrees(back, IDENTITY) < _degrees(curl, IDENTITY))


def test_a_source_starting_again_starts_the_hands_afresh() -> None:
    tracker = HandTracker()
    tracker(Pose.rest(5.0), _frame(5.0, left=synthetic_hand(curled("left", 80.0), "left")))
    out = tracker(Pose.rest(0.0), _frame(0.0))  # looped back: nothing seen since the start
    assert np.all(out.confidence[LEFT] == 0.0)
    assert np.all(_degrees(out.rotations[LEFT], IDENTITY) < 1e-9)


@pytest.mark.parametrize("bad", [{"hold": -1.0}, {"min_cutoff": 0.0}, {"beta": float("nan")}])
def test_bad_tracker_settings_are_refused(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        HandTracker(**bad)
