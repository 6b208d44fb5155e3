"""Extra performers on the stage (the reader now, takes side by side later): named avatars on the
pack's marks, posed per frame, carried over a scene switch when the new pack has their mark."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from capture.pose import Pose
from capture.rotations import axis_angle_quat
from capture.skeleton import Bone
from immersion.catalogue import avatars_dir, find_pack
from immersion.errors import RenderError
from immersion.scenes.manifest import load_pack
from immersion.stage.avatar_actor import AvatarActor
from immersion.stage.stage import Stage


def _arms_up() -> Pose:
    rest = Pose.rest(hips_height=0.9)
    rot = rest.rotations.copy()
    rot[Bone.LEFT_UPPER_ARM] = axis_angle_quat([0, 0, 1], np.radians(80))
    rot[Bone.RIGHT_UPPER_ARM] = axis_angle_quat([0, 0, 1], np.radians(-80))
    return Pose(0.0, rest.hips, rot, np.ones(len(Bone)))


def _one_mark_pack(tmp: Path) -> Path:
    folder = shutil.copytree(find_pack("western-saloon"), tmp / "one-mark")
    toml = folder / "scene.toml"
    blocks = re.split(r"(?=^\[\[)", toml.read_text(), flags=re.M)
    marks = [b for b in blocks if b.startswith("[[marks]]")]
    toml.write_text("".join(b for b in blocks if b not in marks[1:]))
    return folder


def test_an_extra_stands_on_its_mark_moves_alone_and_follows_a_scene_switch(
    tmp_path: Path,
) -> None:
    saloon = load_pack(find_pack("western-saloon"))
    stage = Stage.open(saloon, avatars_dir() / "detective.vrm", width=160, height=90)
    try:
        extra = AvatarActor.load(avatars_dir() / "cabin-kid.vrm")
        stage.place_extra("reader", extra, 1)
        mark = saloon.marks[1]
        stage.show(Pose.rest(hips_height=0.9), extras={"reader": Pose.rest(hips_height=0.9)})
        hips = extra.joint_positions()[Bone.HIPS]
        assert hips[[0, 2]] == pytest.approx(mark.position, abs=0.15)
        assert stage.root.find("extra-shadow-reader")  # the fast shading's planar shadow
        main_before = stage.avatar.joint_positions() if stage.avatar else {}
        before = extra.joint_positions()[Bone.LEFT_HAND]
        stage.show(None, extras={"reader": _arms_up()})
        assert np.linalg.norm(extra.joint_positions()[Bone.LEFT_HAND] - before) > 0.2
        assert stage.avatar is not None
        after = stage.avatar.joint_positions()
        assert all(np.allclose(after[b], main_before[b]) for b in main_before)  # held
        with pytest.raises(RenderError, match="has 3 mark\\(s\\); reader needs mark 9"):
            stage.place_extra("reader", extra, 8)
        # Another set with a second mark: the extra stands on that one.
        bridge = load_pack(find_pack("starship-bridge"))
        stage = stage.reopen(bridge)
        assert stage.extras["reader"].actor is extra
        stage.show(None, extras={"reader": _arms_up()})
        hips = extra.joint_positions()[Bone.HIPS]
        assert hips[[0, 2]] == pytest.approx(bridge.marks[1].position, abs=0.15)
        # A set with one mark: it is left off, and the caller sees it gone.
        stage = stage.reopen(load_pack(_one_mark_pack(tmp_path)))
        assert "reader" not in stage.extras and not stage.root.find("extra-shadow-reader")
        stage.place_extra("reader", extra, 0)
        stage.remove_extra("reader")
        assert not stage.root.find("**/avatar-cabin-kid") and not stage.extras
    finally:
        stage.close()
