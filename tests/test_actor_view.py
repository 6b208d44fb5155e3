"""The actor's view from a mark (``render --view actor|actor-360``): the panorama's resampling
in numpy, and real offscreen renders on Panda3D's EGL renderer as tests/test_stage.py does."""

from __future__ import annotations

from itertools import combinations
from pathlib import Path

import numpy as np
import pytest

from capture.pose import Pose
from immersion.catalogue import avatars_dir, find_pack
from immersion.scenes.manifest import load_pack
from immersion.stage import space
from immersion.stage.actor_view import (
    ActorView,
    equirect_directions,
    equirect_from_cube,
    face_size,
)
from immersion.stage.stage import Stage
from tests.assets_helpers import new_pack
from tests.support import run_cli

# Face cameras as columns (right, forward, up) in the panorama's frame (x right, y ahead, z up).
_X, _Y, _Z = np.eye(3)
_FACES = {
    "ahead": (_X, _Y, _Z),
    "right": (-_Y, _X, _Z),
    "behind": (-_X, -_Y, _Z),
    "left": (_Y, -_X, _Z),
    "up": (_X, _Z, -_Y),
    "down": (_X, -_Z, _Y),
}
_ROTATIONS = [np.column_stack(c) for c in _FACES.values()]


def _face_directions(rotation: np.ndarray, size: int) -> np.ndarray:
    """(size, size, 3) unit directions through each pixel's centre of a 90° face, top row first."""
    t = (np.arange(size) + 0.5) / size * 2 - 1
    u, v = np.meshgrid(t, -t)
    d = np.stack([u, np.ones_like(u), v], axis=-1) @ rotation.T
    unit: np.ndarray = d / np.linalg.norm(d, axis=-1, keepdims=True)
    return unit


def _colour_of(d: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(127.5 * (1 + d)), 0, 255).astype(np.uint8)


@pytest.mark.pure
def test_the_panorama_paints_each_direction_with_the_cube_faces_colour_for_it() -> None:
    """A cube whose pixels are coloured by their own direction resamples into a panorama
    whose pixels are coloured by theirs: any flip, swap or offset of a face would show."""
    faces = [_colour_of(_face_directions(r, 64)) for r in _ROTATIONS]
    picture = equirect_from_cube(faces, _ROTATIONS, 256, 128)
    assert picture.shape == (128, 256, 3) and picture.dtype == np.uint8
    expected = 127.5 * (1 + equirect_directions(256, 128))
    error = np.abs(picture - expected)
    assert np.percentile(error, 99) < 4.0 and error.max() < 12.0, error.max()


@pytest.mark.pure
def test_the_panoramas_middle_is_ahead_its_edges_meet_behind_and_right_is_to_the_right() -> None:
    colours = {
        name: np.array([40 * k, 255 - 40 * k, 100], np.uint8) for k, name in enumerate(_FACES)
    }
    faces = [np.broadcast_to(colours[name], (16, 16, 3)).copy() for name in _FACES]
    picture = equirect_from_cube(faces, _ROTATIONS, 64, 32)
    row = picture[16]
    assert (row[32] == colours["ahead"]).all() and (row[48] == colours["right"]).all()
    assert (row[16] == colours["left"]).all()
    assert (row[0] == colours["behind"]).all() and (row[63] == colours["behind"]).all()
    assert (picture[0] == colours["up"]).all() and (picture[-1] == colours["down"]).all()


@pytest.mark.pure
def test_panorama_inputs_are_checked() -> None:
    square = np.zeros((8, 8, 3), np.uint8)
    with pytest.raises(ValueError, match="one rotation per face"):
        equirect_from_cube([square], [], 32, 16)
    with pytest.raises(ValueError, match="square"):
        equirect_from_cube([square, np.zeros((8, 9, 3), np.uint8)], _ROTATIONS[:2], 32, 16)
    assert face_size(2048) == 512 and face_size(20) == 16 and face_size(40000) == 2048


def _actor_view(pack_name: str, avatar: bool, mark: str | None = None) -> tuple[Stage, ActorView]:
    pack = load_pack(find_pack(pack_name))
    stage = Stage.open(
        pack, avatars_dir() / "detective.vrm" if avatar else None, width=320, height=180, mark=mark
    )
    stage.show(Pose.rest(hips_height=0.9))
    return stage, ActorView.open(stage)


def test_the_actor_view_from_a_mark_turns_with_the_heading_and_leaves_the_head_out() -> None:
    stage, view = _actor_view("noir-office", avatar=True)
    try:
        assert 1.4 < view.eye[1] < 1.9, f"eyes at {view.eye[1]:.2f} m"
        pictures = {h: view.render(float(h)).astype(int) for h in (0, 90, 180, 270)}
    finally:
        view.close()
        stage.close()
    for h, picture in pictures.items():  # facing the audience (0°) a shipped pack is still bare
        assert picture.shape == (180, 320, 3) and picture.std() > 3, f"{h}°: a blank view"
    for a, b in combinations(pictures, 2):
        changed = (np.abs(pictures[a] - pictures[b]).sum(axis=2) > 20).mean()
        assert changed > 0.2, f"{a}° and {b}° look alike ({changed:.0%} of pixels differ)"
    # Without the avatar the set looks the same: its head (and the rest of it) is out of view.
    bare_stage, bare = _actor_view("noir-office", avatar=False)
    try:
        assert abs(bare.eye[1] - view.eye[1]) < 0.3
        bare_stage.target.camera.setPos(*space.point(view.eye))  # the same eyes
        alone = bare.render(180.0).astype(int)
    finally:
        bare.close()
        bare_stage.close()
    in_the_way = (np.abs(pictures[180] - alone).sum(axis=2) > 60).mean()
    assert in_the_way < 0.05, f"the avatar covers {in_the_way:.0%} of the actor's view"


def test_actor_360_is_a_panorama_whose_edges_meet(tmp_path: Path) -> None:
    out = tmp_path / "around.png"
    result = run_cli(
        "render",
        "--scene",
        "western-saloon",
        "--view",
        "actor-360",
        "--size",
        "256x100",  # the height follows the width: 360° by 180°
        "--out",
        str(out),
        "--quiet",
    )
    assert result.returncode == 0, result.stderr
    from PIL import Image

    with Image.open(out) as image:
        assert image.size == (256, 128)
        picture = np.asarray(image.convert("RGB")).astype(int)
    seam = np.abs(picture[:, 0] - picture[:, -1]).mean()
    across = np.abs(picture[:, 0] - picture[:, 128]).mean()
    assert picture.std() > 8 and seam < 0.3 * across, (seam, across)


def test_a_bad_mark_is_one_line_listing_the_marks(tmp_path: Path) -> None:
    out = tmp_path / "eyes.png"
    result = run_cli(
        "render",
        "--scene",
        "noir-office",
        "--view",
        "actor",
        "--mark",
        "nowhere",
        "--out",
        str(out),
    )
    marks = [m.name for m in load_pack(find_pack("noir-office")).marks]
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert "nowhere" in lines[0] and all(m in lines[0] for m in marks)
    assert not out.exists()
    facing = run_cli("render", "--facing", "90", "--out", str(out))
    assert facing.returncode == 2 and "--view actor" in facing.stderr


def _two_views(pack_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """(the mirror's picture from the first preset, the actor's facing the audience)."""
    stage = Stage.open(load_pack(pack_dir), None, width=160, height=90)
    try:
        stage.show(None)
        mirror = stage.target.rgb().astype(int)
        view = ActorView.open(stage)
        eyes = view.render(0.0).astype(int)
        view.close()
    finally:
        stage.close()
    return mirror, eyes


def test_the_templates_fourth_wall_is_for_the_eyes_and_seen_by_says_who_sees_what(
    tmp_path: Path,
) -> None:
    pack = new_pack(tmp_path)
    toml = pack / "scene.toml"
    text = toml.read_text()
    wall = 'file = "fourth-wall.glb"\nseen_by = "eyes"'
    assert wall in text, "the template shows an eyes-only wall"
    views = {}
    for seen_by in ("eyes", "mirror", "both"):
        toml.write_text(text.replace(wall, f'file = "fourth-wall.glb"\nseen_by = "{seen_by}"'))
        views[seen_by] = _two_views(pack)
    toml.write_text(text.replace("fourth-wall.glb", "set.glb"))  # the set twice, no wall
    without = _two_views(pack)

    def changed(a: np.ndarray, b: np.ndarray) -> float:
        return float((np.abs(a - b).sum(axis=2) > 8).mean())

    for seen_by, (mirror, eyes) in views.items():
        in_mirror, in_eyes = changed(mirror, without[0]), changed(eyes, without[1])
        assert (in_mirror > 0.3) == (seen_by != "eyes"), (seen_by, in_mirror)
        assert (in_eyes > 0.3) == (seen_by != "mirror"), (seen_by, in_eyes)
        assert min(in_mirror, in_eyes) > 0.3 or min(in_mirror, in_eyes) < 0.01, seen_by


_PREVIEW_SCRIPT = """
import sys
from pathlib import Path
from immersion.preview_cmd import Preview
folder, out = Path(sys.argv[1]), Path(sys.argv[2])
preview = Preview(folder)
try:
    for i, (kind, name) in enumerate((("camera", "wide"), ("mark", "centre"), ("camera", "wide"))):
        (out / f"{i}.png").write_bytes(preview.picture(kind, name))
finally:
    preview.close()
"""


def test_the_preview_shows_each_mark_as_the_eyes_see_it_and_the_cameras_as_before(
    tmp_path: Path,
) -> None:
    """In a process of its own: the preview renders on a thread of its own, and the engine is
    not to be shared between threads in one process."""
    import subprocess
    import sys

    from PIL import Image

    from tests.support import ROOT

    def pictures(folder: Path, out: Path) -> tuple[bytes, np.ndarray, bytes]:
        out.mkdir()
        done = subprocess.run(
            [sys.executable, "-c", _PREVIEW_SCRIPT, str(folder), str(out)],
            capture_output=True, text=True, timeout=120, cwd=ROOT,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        eyes = np.asarray(Image.open(out / "1.png")).astype(int)
        return (out / "0.png").read_bytes(), eyes, (out / "2.png").read_bytes()

    pack = new_pack(tmp_path / "a")
    before, eyes, after = pictures(pack, tmp_path / "eyes")
    assert before == after, "the mark's view left the stage changed for the cameras"
    toml = pack / "scene.toml"
    toml.write_text(toml.read_text().replace('seen_by = "eyes"', 'seen_by = "mirror"'))
    _, open_front, _ = pictures(pack, tmp_path / "mirror")
    changed = (np.abs(eyes - open_front).sum(axis=2) > 8).mean()
    assert changed > 0.3, f"the eyes-only wall is not in the mark's view ({changed:.0%})"
