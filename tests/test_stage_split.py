"""Side by side: the stage's mirror picture split into strips (Stage.split), one performer per
strip on the same mark, each strip the picture a single view of the strip's size would give."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from capture.pose import Pose
from immersion.catalogue import avatars_dir, find_pack
from immersion.errors import RenderError
from immersion.scenes.manifest import ScenePack, load_pack
from immersion.stage.avatar_actor import AvatarActor
from immersion.stage.stage import Stage
from immersion.stage.target import RenderTarget
from tests.assets_helpers import new_pack
from tests.test_stage_extras import _arms_up

W, H = 320, 180  # two strips of 160x180
MAIN, OTHER = "detective", "cabin-kid"


def _rest() -> Pose:
    return Pose.rest(hips_height=0.9)


def _image_pack(tmp_path: Path) -> ScenePack:
    """The template set under a panorama whose red is its u and green its v: a strip's
    backdrop aimed for the full frame's lens instead of its own shows other colours."""
    pack = new_pack(tmp_path)
    u, v = np.meshgrid((np.arange(512) + 0.5) / 512, 1 - (np.arange(256) + 0.5) / 256)
    ramp = np.stack([u * 255, v * 255, np.full_like(u, 128)], axis=-1)
    Image.fromarray(np.rint(ramp).astype(np.uint8)).save(pack / "sky.png")
    toml = pack / "scene.toml"
    toml.write_text(
        toml.read_text().replace('type = "gradient"', 'type = "image"\nimage = "sky.png"')
    )
    return load_pack(pack)


def _single(pack: ScenePack, avatar: str, pose: Pose, width: int, camera: str | None = None) -> Any:
    """One avatar alone, as the main avatar of a whole (unsplit) view ``width`` wide."""
    stage = Stage.open(pack, avatars_dir() / f"{avatar}.vrm", width=width, height=H, camera=camera)
    try:
        stage.show(pose)
        return stage.target.rgb().astype(np.int16)
    finally:
        stage.close()


def _changed(a: Any, b: Any) -> float:
    """The share of pixels that differ visibly (more than 12 levels in a channel)."""
    return float((np.abs(a.astype(np.int16) - b).max(axis=-1) > 12).mean())


def _strips(stage: Stage) -> list[Any]:
    frame = stage.target.rgb().astype(np.int16)
    edges = np.cumsum([0, *(c.width for c in stage.target.columns)])
    return [frame[:, edges[k] : edges[k + 1]] for k in range(len(edges) - 1)]


def test_two_performers_on_one_mark_each_fill_their_own_strip(tmp_path: Path) -> None:
    pack = _image_pack(tmp_path)
    main_alone = _single(pack, MAIN, _rest(), W // 2)
    other_alone = _single(pack, OTHER, _arms_up(), W // 2)
    # Both on one mark in one whole view: what a strip must not show.
    assert _changed(main_alone, other_alone) > 0.02
    stage = Stage.open(pack, avatars_dir() / f"{MAIN}.vrm", width=W, height=H)
    try:
        stage.place_extra("take-2", AvatarActor.load(avatars_dir() / f"{OTHER}.vrm"), 0, column=1)
        stage.split(2)
        assert [c.width for c in stage.target.columns] == [W // 2, W // 2]
        stage.show(_rest(), extras={"take-2": _arms_up()})
        left, right = _strips(stage)
        # Each strip is the single view of its own performer (sky included: its backdrop is
        # aimed for the strip's lens), and not the other's.
        assert _changed(left, main_alone) < 0.002, _changed(left, main_alone)
        assert _changed(right, other_alone) < 0.002, _changed(right, other_alone)
        assert _changed(left, other_alone) > 0.02 and _changed(right, main_alone) > 0.02
        sky = main_alone[:, :, 2] == 128  # the panorama's own pixels
        assert sky.mean() > 0.05
        for strip, alone in ((left, main_alone), (right, other_alone)):
            assert np.abs(strip - alone)[sky].mean() < 0.5  # the full frame's aim: 2.7
        # The same narrower lens, not a squeezed full frame: the vertical field is the preset's.
        fov = stage.target.columns[0].lens.getFov()
        assert fov[1] == pytest.approx(pack.camera(None).fov)
        assert fov[0] == pytest.approx(stage.target.lens.getFov()[0] / 2, rel=0.25)
        assert fov[0] < stage.target.lens.getFov()[0]
    finally:
        stage.close()


def test_split_1_is_the_picture_before_the_split_and_the_eyes_never_see_a_strips_extra() -> None:
    from immersion.headset.eyes import masks

    stage = Stage.open(load_pack(find_pack("western-saloon")), avatars_dir() / f"{MAIN}.vrm",
                       width=W, height=H)  # fmt: skip
    eye = RenderTarget(stage.engine, 96, 64, "eye", host=stage.target, read_back=True)
    try:
        eye.camera.reparentTo(stage.root)
        eye.camera.node().setCameraMask(masks()[1])
        eye.camera.setMat(stage.target.camera.getMat())
        stage.show(_rest())
        before, eye_before = stage.target.rgb(), eye.rgb()
        stage.place_extra("take-2", AvatarActor.load(avatars_dir() / f"{OTHER}.vrm"), 0, column=1)
        stage.split(3)
        stage.show(None, extras={"take-2": _arms_up()})
        assert _changed(stage.target.rgb(), before) > 0.05  # three strips: another picture
        assert np.array_equal(eye.rgb(), eye_before)  # the main avatar, not the extra
        stage.split(1)
        stage.show(None)
        assert np.array_equal(stage.target.rgb(), before)
        assert not stage.target.columns and stage.columns == 1
    finally:
        eye.close()
        stage.close()


@pytest.mark.parametrize("shading", ["fast", "rich"])
def test_a_strips_performer_casts_no_shadow_into_another_strip(shading: str) -> None:
    """On another mark than the main avatar, where strip 0 shows bare floor: a shadow of
    strip 1's performer there (a shared shadow map, or a planar shadow seen by every strip)
    would darken it."""
    pack = load_pack(find_pack("western-saloon"))
    stage = Stage.open(pack, avatars_dir() / f"{MAIN}.vrm", width=W, height=H, shading=shading)
    try:
        stage.split(2)
        stage.show(_rest())
        bare = _strips(stage)
        # An avatar switch while split: the new main avatar is kept to strip 0 too.
        stage.place_avatar(AvatarActor.load(avatars_dir() / "captain.vrm"), stage.mark)
        stage.show(_rest())
        swapped = _strips(stage)
        assert np.array_equal(swapped[1], bare[1]) and _changed(swapped[0], bare[0]) > 0.002
        stage.place_extra("take-2", AvatarActor.load(avatars_dir() / f"{OTHER}.vrm"), 1, column=1)
        stage.show(None, extras={"take-2": _arms_up()})
        left, right = _strips(stage)
        assert np.array_equal(left, swapped[0])
        assert _changed(right, bare[1]) > 0.005  # it is there, in its own strip
        assert stage.root.find("extra-shadow-take-2")  # its planar shadow, in either shading
    finally:
        stage.close()


def test_the_split_survives_a_camera_switch_and_a_scene_switch() -> None:
    saloon, bridge = load_pack(find_pack("western-saloon")), load_pack(find_pack("starship-bridge"))
    camera = bridge.cameras[1]
    main_alone = _single(bridge, MAIN, _rest(), W // 2, camera.name)
    other_alone = _single(bridge, OTHER, _arms_up(), W // 2, camera.name)
    stage = Stage.open(saloon, avatars_dir() / f"{MAIN}.vrm", width=W, height=H)
    try:
        stage.place_extra("take-2", AvatarActor.load(avatars_dir() / f"{OTHER}.vrm"), 0, column=1)
        stage.split(2)
        stage = stage.reopen(bridge)
        stage.set_camera(camera)
        assert stage.columns == 2 and stage.extras["take-2"].column == 1
        stage.show(_rest(), extras={"take-2": _arms_up()})
        left, right = _strips(stage)
        assert _changed(left, main_alone) < 0.002, _changed(left, main_alone)
        assert _changed(right, other_alone) < 0.002, _changed(right, other_alone)
    finally:
        stage.close()


def test_a_bad_column_count_or_column_is_one_clear_error() -> None:
    stage = Stage.open(load_pack(find_pack("western-saloon")), None, width=64, height=36)
    try:
        for bad in (0, 5, -1):
            with pytest.raises(RenderError, match=f"^a split view has 1 to 4 columns, not {bad}$"):
                stage.split(bad)
        with pytest.raises(RenderError, match=r"not 2\.0$"):
            stage.split(2.0)  # type: ignore[arg-type]
        extra = AvatarActor.load(avatars_dir() / f"{OTHER}.vrm")
        with pytest.raises(
            RenderError, match=r"^take-5: a split view's columns are 0 to 3, not 4$"
        ):
            stage.place_extra("take-5", extra, 0, column=4)
        assert stage.columns == 1 and not stage.extras and not stage.target.columns
    finally:
        stage.close()
