"""The mirror beside a headset: rendered only on the frames the viewers are sent."""

from __future__ import annotations

from typing import Any

import pytest

from immersion.catalogue import shipped_packs
from immersion.room.render_loop import MirrorPace
from immersion.scenes.manifest import load_pack
from immersion.stage.stage import Stage
from immersion.stage.target import RenderTarget

HEADSET_HZ = 90
MIRROR_HZ = 30


def _ticks(seconds: float, hz: int, jitter: float = 0.0) -> list[float]:
    """Frame times, a little after each due time (none on a due time to the last bit),
    every other one later by ``jitter``."""
    return [k / hz + 5e-4 + (jitter if k % 2 else 0.0) for k in range(round(seconds * hz))]


@pytest.mark.pure
def test_a_90hz_headset_sends_the_mirror_every_third_frame_even_with_jitter() -> None:
    for jitter in (0.0, 0.002):
        pace = MirrorPace(1 / MIRROR_HZ, 0.0)
        due = [pace.due(now) for now in _ticks(2.0, HEADSET_HZ, jitter)]
        assert sum(due) == 2 * MIRROR_HZ
        assert all(due[k] for k in range(0, len(due), 3))  # evenly: frames 0, 3, 6...


@pytest.mark.pure
def test_a_stalled_loop_makes_up_one_mirror_frame_not_the_whole_stall() -> None:
    pace = MirrorPace(0.1, 0.0)
    assert pace.due(0.0005)
    assert pace.due(1.0005)  # after a second's stall (a scene load): ten frames missed
    after = [pace.due(1.0105 + k * 0.01) for k in range(49)]  # the next half second at 100 Hz
    assert sum(after) == 5 + 1
    assert after[0] and not any(after[2:9])  # the one extra comes at once, then the pace
    slower = MirrorPace(0.1, 0.0)  # a loop slower than the mirror: every tick is sent
    assert all(slower.due(k * 0.15) for k in range(20))
    level = MirrorPace(0.05, 0.0)  # a 20 Hz headset and a 20 fps mirror, ticks a little early
    assert all(level.due(k * 0.05 - (0.004 if k % 3 else 0.0)) for k in range(1, 40))


def _counted(region: Any, counts: dict[str, int], name: str) -> None:
    from panda3d.core import PythonCallbackObject

    def draw(data: Any) -> None:
        counts[name] += 1
        data.upcall()

    region.setDrawCallback(PythonCallbackObject(draw))


def test_the_mirror_renders_only_on_the_frames_it_sends_while_the_eyes_render_every_one() -> None:
    stage = Stage.open(load_pack(shipped_packs()[0]), None, width=160, height=90)
    eye = RenderTarget(stage.engine, 64, 64, "eye", host=stage.target, read_back=True)
    try:
        eye.camera.reparentTo(stage.root)
        eye.camera.setMat(stage.target.camera.getMat())
        counts = {"mirror": 0, "eye": 0}
        _counted(stage.target.scene_region, counts, "mirror")
        _counted(eye.scene_region, counts, "eye")
        pace = MirrorPace(1 / MIRROR_HZ, 0.0)
        frames = _ticks(1.0, HEADSET_HZ)
        sent = 0
        for now in frames:  # as the render loop does on each headset frame
            due = pace.due(now)
            stage.show(None, mirror=due)
            sent += due
        assert counts == {"mirror": sent, "eye": len(frames)}
        assert sent == MIRROR_HZ
        assert eye.rgb().std() > 5  # the eye's last frame, a mirror-less one, holds the set
        assert stage.target.buffer.isActive()  # left as found for the next frame
    finally:
        eye.close()
        stage.close()
