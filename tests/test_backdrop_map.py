"""Image backdrops placed by direction (immersion.stage.backdrop_map): the maths, the pack
format's mapping and span, and the shader agreeing with the maths on a real render."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from immersion.scenes.manifest import load_pack, validate_pack
from immersion.stage import backdrop_map as bm
from tests.assets_helpers import new_pack


def _unit(*v: float) -> np.ndarray:
    a = np.array(v, dtype=np.float64)
    out: np.ndarray = a / np.linalg.norm(a)
    return out


def _angle(a: np.ndarray, b: np.ndarray) -> float:
    return math.degrees(math.acos(float(np.clip(_unit(*a) @ _unit(*b), -1, 1))))


@pytest.mark.pure
def test_an_equirectangular_image_goes_once_round_the_sky_its_middle_into_the_set() -> None:
    into, right, up = _unit(0, 1, 0), _unit(1, 0, 0), _unit(0, 0, 1)
    assert np.allclose(bm.equirect_uv(into), [0.5, 0.5])
    assert np.allclose(bm.equirect_uv(right), [0.75, 0.5])  # the image's right is to the right
    assert np.allclose(bm.equirect_uv(up)[1], 1.0) and np.allclose(bm.equirect_uv(-up)[1], 0.0)
    # Just either side of straight behind: the image's two edges, which meet there.
    left_of, right_of = bm.equirect_uv(_unit(-1e-3, -1, 0)), bm.equirect_uv(_unit(1e-3, -1, 0))
    assert left_of[0] < 0.001 and right_of[0] > 0.999
    # Equal turns are equal steps along the image: nothing is stretched.
    turns = np.radians(np.arange(-170, 180, 10))
    u = bm.equirect_uv(np.stack([np.sin(turns), np.cos(turns), 0 * turns], axis=-1))[:, 0]
    assert np.allclose(np.diff(u), 10 / 360)


@pytest.mark.pure
def test_a_card_keeps_its_aspect_and_spans_its_angle_into_the_set() -> None:
    span, aspect = 90.0, 2.0
    assert np.allclose(bm.card_uv(_unit(0, 1, 0), span, aspect), [0.5, 0.5])
    edge = bm.card_uv(
        _unit(math.sin(math.radians(44.9)), math.cos(math.radians(44.9)), 0), span, aspect
    )
    assert 0.99 < edge[0] <= 1.0
    assert np.isnan(bm.card_uv(_unit(1, 0.9, 0), span, aspect)).all()  # past its edge
    assert np.isnan(bm.card_uv(_unit(0, -1, 0), span, aspect)).all()  # behind the audience
    half_w, half_h = bm.card_window(span, aspect)
    assert math.isclose(half_w / half_h, aspect)
    top = bm.card_uv(_unit(0, 1, half_h * 0.999), span, aspect)
    assert (
        0.99 < top[1] <= 1.0
        and np.isnan(bm.card_uv(_unit(0, 1, half_h * 1.01), span, aspect)).all()
    )


@pytest.mark.pure
def test_the_mirror_frame_looks_along_its_camera_with_its_lens() -> None:
    turn = math.radians(30)  # a camera turned 30° to the right and tilted
    rotation = np.array(
        [[math.cos(turn), math.sin(turn), 0], [-math.sin(turn), math.cos(turn), 0], [0, 0, 1]]
    ) @ np.array([[1, 0, 0], [0, math.cos(0.2), -math.sin(0.2)], [0, math.sin(0.2), math.cos(0.2)]])
    inputs = bm.frame_inputs(rotation, 70.0, 40.0)
    centre = bm.direction(inputs, np.array([0.0, 0.0, 0.0]))
    assert np.allclose(_unit(*centre), rotation[:, 1])
    assert math.isclose(_angle(bm.direction(inputs, np.array([1.0, 0, 0])), centre), 35.0)
    assert math.isclose(_angle(bm.direction(inputs, np.array([0, 0, -1.0])), centre), 20.0)
    assert (
        _unit(*bm.direction(inputs, np.array([1.0, 0, 0]))) @ rotation[:, 0] > 0
    )  # right is right
    identity = bm.identity_inputs()
    assert np.allclose(bm.direction(identity, np.array([3.0, -2.0, 1.0])), [3.0, -2.0, 1.0])


def _image_pack(tmp_path: Path, size: tuple[int, int], extra: str = "") -> Path:
    pack = new_pack(tmp_path)
    Image.new("RGB", size, (10, 20, 30)).save(pack / "sky.png")
    toml = pack / "scene.toml"
    text = toml.read_text()
    assert 'type = "gradient"' in text
    toml.write_text(text.replace('type = "gradient"', f'type = "image"\nimage = "sky.png"{extra}'))
    return pack


@pytest.mark.pure
def test_the_mapping_defaults_by_the_images_shape_and_a_wrong_one_is_named(tmp_path: Path) -> None:
    wide = load_pack(_image_pack(tmp_path / "a", (128, 64))).backdrop
    assert (wide.mapping, wide.aspect) == ("equirectangular", 2.0)
    photo = load_pack(_image_pack(tmp_path / "b", (160, 90))).backdrop
    assert photo.mapping == "card" and math.isclose(photo.aspect, 16 / 9)
    assert photo.span == bm.DEFAULT_SPAN
    narrow = load_pack(_image_pack(tmp_path / "c", (160, 90), "\nspan = 60")).backdrop
    assert narrow.span == 60.0
    bad = validate_pack(_image_pack(tmp_path / "d", (160, 90), '\nmapping = "equirectangular"'))
    assert len(bad) == 1 and "backdrop.image: sky.png is 160x90" in bad[0], bad
    spanned = validate_pack(_image_pack(tmp_path / "e", (128, 64), "\nspan = 60"))
    assert len(spanned) == 1 and "backdrop.span: only a card" in spanned[0], spanned
    wild = validate_pack(_image_pack(tmp_path / "f", (160, 90), "\nspan = 400"))
    assert len(wild) == 1 and "backdrop.span" in wild[0], wild
    gradient = new_pack(tmp_path / "g")
    toml = gradient / "scene.toml"
    toml.write_text(
        toml.read_text().replace('type = "gradient"', 'type = "gradient"\nmapping = "card"')
    )
    problems = validate_pack(gradient)
    assert len(problems) == 1 and "backdrop.mapping: only an image backdrop" in problems[0]


def test_the_mirror_shows_the_panorama_that_lies_where_it_looks(tmp_path: Path) -> None:
    """An image whose red is its u and green its v, rendered: each sky pixel above the set has
    the colour the numpy maths gives for the direction through it."""
    from immersion.stage.stage import Stage

    pack_dir = _image_pack(tmp_path, (512, 256))
    u, v = np.meshgrid((np.arange(512) + 0.5) / 512, 1 - (np.arange(256) + 0.5) / 256)
    ramp = np.stack([u * 255, v * 255, np.full_like(u, 128)], axis=-1)
    Image.fromarray(np.rint(ramp).astype(np.uint8)).save(pack_dir / "sky.png")
    stage = Stage.open(load_pack(pack_dir), None, width=320, height=180)
    try:
        stage.show(None)
        frame = stage.target.rgb().astype(float)
        from immersion.stage import space

        rotation, _ = space.from_panda_matrix(stage.target.camera.getMat(stage.root))
        fov = stage.target.lens.getFov()
        inputs = bm.frame_inputs(rotation, float(fov[0]), float(fov[1]))
    finally:
        stage.close()
    sky = frame[:, :, 2] == 128  # the image's own pixels (the set has other blues)
    rows, cols = np.nonzero(sky)
    assert len(rows) > 500, "no sky in the mirror"
    x, z = (cols + 0.5) / 320 * 2 - 1, 1 - (rows + 0.5) / 180 * 2
    expected = bm.equirect_uv(bm.direction(inputs, np.stack([x, 0 * x, z], axis=-1))) * 255
    error = np.abs(frame[rows, cols, :2] - expected)
    assert np.percentile(error, 95) < 3.0, np.percentile(error, 95)
