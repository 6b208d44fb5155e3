"""The pose feed: a render rate above the capture rate interpolates, never steps or guesses."""

from __future__ import annotations

import threading
from dataclasses import replace

import numpy as np
import pytest

from capture.face import ARKIT, Face
from capture.pose import Pose
from capture.rotations import axis_angle_quat, quat_angle
from capture.skeleton import Bone
from immersion.stage.pose_feed import MAX_PERIOD_S, LatestPose

pytestmark = pytest.mark.pure

CAPTURE_HZ = 30.0
RENDER_HZ = 90.0


def _turning(t: float, deg_per_s: float = 90.0) -> Pose:
    """A pose at ``t`` whose head has turned ``deg_per_s`` a second about y, hips walking
    1 m/s along x, jaw opening a quarter a second."""
    rest = Pose.rest(t, hips_height=0.9)
    rotations = np.array(rest.rotations)
    rotations[Bone.HEAD] = axis_angle_quat([0.0, 1.0, 0.0], np.radians(deg_per_s * t))
    face = Face.from_named({"jawOpen": min(t / 4, 1.0)})
    return replace(rest, hips=np.array([t, 0.9, 0.0]), rotations=rotations, face=face)


def _head_deg(pose: Pose) -> float:
    rest = np.array([0.0, 0.0, 0.0, 1.0])
    return float(np.degrees(quat_angle(rest, pose.rotation(Bone.HEAD))))


def test_a_30fps_capture_rendered_at_90hz_moves_every_frame_by_the_same_step() -> None:
    feed = LatestPose()
    shown: list[Pose] = []
    capture_t = 0.0
    for k in range(int(RENDER_HZ)):  # one second of rendering, capture pushing as it comes
        now = 0.5 + k / RENDER_HZ
        while capture_t <= now + 1e-9:
            feed.push(_turning(capture_t))
            capture_t += 1 / CAPTURE_HZ
        pose = feed.for_frame(now)
        assert pose is not None
        shown.append(pose)
    heads = np.array([_head_deg(p) for p in shown])
    steps = np.diff(heads)
    # 90°/s at 90 Hz is 1° a frame, every frame: no frame repeats, none jumps by three.
    assert steps == pytest.approx(np.ones_like(steps), abs=1e-6)
    # Shown one capture period late: at render time `now` the head is where it was at now - 1/30.
    assert heads[0] == pytest.approx(90.0 * (0.5 - 1 / CAPTURE_HZ), abs=1e-6)
    hips = np.array([p.hips[0] for p in shown])
    assert np.diff(hips) == pytest.approx(np.full(len(hips) - 1, 1 / RENDER_HZ), abs=1e-9)
    jaw = ARKIT.index("jawOpen")
    assert all(p.face is not None for p in shown)
    opened = np.array([p.face.weights[jaw] for p in shown if p.face is not None])
    assert np.diff(opened) == pytest.approx(np.full(len(opened) - 1, 0.25 / RENDER_HZ), abs=1e-9)


def test_the_period_is_the_captures_own_spacing_and_a_gap_does_not_become_a_delay() -> None:
    feed = LatestPose()
    assert feed.period() == 0.0 and feed.for_frame(1.0) is None
    feed.push(_turning(0.0))
    assert feed.period() == 0.0  # one pose: nothing to measure, shown as it is
    for k in range(1, 6):
        feed.push(_turning(k / 24))
    assert feed.period() == pytest.approx(1 / 24)
    feed.push(_turning(5 / 24 + 3.0))  # a dropped camera came back three seconds later
    assert feed.period() == pytest.approx(1 / 24)  # the median ignores one long gap
    gappy = LatestPose()
    for t in (0.0, 2.0, 4.0):
        gappy.push(_turning(t))
    assert gappy.period() == MAX_PERIOD_S


def test_a_frame_past_the_newest_pose_holds_it_and_one_before_the_oldest_holds_that() -> None:
    feed = LatestPose()
    feed.push(_turning(1.0))
    feed.push(_turning(1.1))
    newest = feed.at(5.0)
    assert newest is not None and newest.t == 1.1  # never extrapolated
    assert _head_deg(newest) == pytest.approx(99.0)
    oldest = feed.at(0.0)
    assert oldest is not None and oldest.t == 1.0
    halfway = feed.at(1.05)
    assert halfway is not None and _head_deg(halfway) == pytest.approx(94.5)


def test_a_clock_that_goes_back_starts_afresh() -> None:
    feed = LatestPose()
    for t in (10.0, 10.1, 10.2):
        feed.push(_turning(t))
    feed.push(_turning(0.0))  # a looped take starts again
    pose = feed.at(10.15)
    assert pose is not None and pose.t == 0.0  # not blended across the loop
    assert feed.period() == 0.0


def test_bones_take_the_short_way_round_and_stay_unit() -> None:
    feed = LatestPose()
    a, b = _turning(0.0, deg_per_s=170.0), _turning(2.0, deg_per_s=170.0)  # 0° then 340°
    feed.push(a)
    feed.push(b)
    mid = feed.at(1.0)
    assert mid is not None
    assert _head_deg(mid) == pytest.approx(10.0, abs=1e-6)  # through 350°, not 170°
    assert np.linalg.norm(mid.rotations, axis=1) == pytest.approx(np.ones(len(mid.rotations)))


def test_memory_is_bounded_and_the_feed_is_safe_across_threads() -> None:
    feed = LatestPose(keep=4)
    done = threading.Event()

    def capture() -> None:
        for k in range(2000):
            feed.push(_turning(k / 1000))
        done.set()

    thread = threading.Thread(target=capture)
    thread.start()
    while not done.is_set():
        pose = feed.for_frame(1.0)
        assert pose is None or 0.0 <= pose.t <= 2.0
    thread.join()
    assert len(feed._poses) == len(feed._times) == 4
    held = feed.at(10.0)
    assert held is not None and held.t == pytest.approx(1.999)
    with pytest.raises(ValueError, match="two poses"):
        LatestPose(keep=1)


def test_poses_that_arrive_late_are_shown_later_still_and_still_move_every_frame() -> None:
    """An actor's page stamps its own capture times: its poses reach the room ~150 ms after
    them, give or take; shown one period before the newest, the frame would be past it."""
    feed = LatestPose()
    rng = np.random.default_rng(7)
    arrivals = [
        (k / CAPTURE_HZ + 0.15 + rng.uniform(-0.01, 0.01), k / CAPTURE_HZ) for k in range(90)
    ]
    shown: list[Pose] = []
    pending = sorted(arrivals)
    for k in range(int(RENDER_HZ)):
        now = 1.5 + k / RENDER_HZ
        while pending and pending[0][0] <= now:
            arrived, t = pending.pop(0)
            feed.push(_turning(t, deg_per_s=45.0), arrived=arrived)
        pose = feed.for_frame(now)
        assert pose is not None
        shown.append(pose)
    assert 0.15 < feed.lag() < 0.17  # the lag, and a margin for its jitter
    steps = np.diff([_head_deg(p) for p in shown])
    # Half a degree a frame, give or take the lag's jitter: no frame held, none doubled.
    assert steps == pytest.approx(np.full_like(steps, 0.5), abs=0.15)
    unstamped = LatestPose()
    unstamped.push(_turning(1.0))
    unstamped.push(_turning(1.1), arrived=1.1)
    assert unstamped.lag() == 0.0
