"""`scenes validate` warns when an actor on a mark would look into a void (issue 16)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import trimesh

from immersion.catalogue import shipped_packs
from immersion.scenes.manifest import load_pack
from immersion.scenes.void_check import VOID_SHARE, set_triangles, void_shares, void_warnings
from immersion.scenes_cmd import run_new

pytestmark = pytest.mark.pure


def _template(folder: Path) -> Path:
    import argparse

    run_new(argparse.Namespace(name=str(folder), into=None))
    return folder


def test_the_template_is_a_room_to_the_eyes_only_by_its_fourth_wall(tmp_path: Path) -> None:
    folder = _template(tmp_path / "set")
    assert void_warnings(load_pack(folder)) == []
    toml = folder / "scene.toml"
    text = toml.read_text()
    assert 'seen_by = "eyes"' in text
    toml.write_text(text.replace('seen_by = "eyes"', 'seen_by = "mirror"'))
    pack = load_pack(folder)  # the wall for the cameras only: the actor faces the void again
    warnings = void_warnings(pack)
    assert len(warnings) == len(pack.marks)
    assert "mark 'centre'" in warnings[0] and "facing 0°" in warnings[0]
    shares = void_shares(set_triangles(pack), pack.marks[0])
    assert shares[0] > 0.5 and shares[180] <= VOID_SHARE  # the open front; the back wall


def test_a_room_closed_all_round_faces_no_void(tmp_path: Path) -> None:
    folder = _template(tmp_path / "closed-set")
    tm: Any = trimesh  # untyped
    walls = [
        tm.creation.box([8, 0.1, 8], tm.transformations.translation_matrix([0, -0.05, 0])),
        *(
            tm.creation.box(size, tm.transformations.translation_matrix(at))
            for size, at in (
                ([8, 3, 0.1], [0, 1.5, -4]),
                ([8, 3, 0.1], [0, 1.5, 4]),
                ([0.1, 3, 8], [-4, 1.5, 0]),
                ([0.1, 3, 8], [4, 1.5, 0]),
            )
        ),
    ]
    tm.util.concatenate(walls).export(folder / "set.glb")
    assert void_warnings(load_pack(folder)) == []


@pytest.mark.parametrize("pack_dir", shipped_packs(), ids=lambda p: p.name)
def test_each_shipped_pack_surrounds_the_actor_on_every_mark(pack_dir: Path) -> None:
    """Each builds its audience side for the eyes only, so no mark faces a void."""
    pack = load_pack(pack_dir)
    assert any(p.seen_by == "eyes" for p in pack.geometry), "no audience side"
    assert void_warnings(pack) == []
