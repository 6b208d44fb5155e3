"""`scenes validate` warns when an actor on a mark would look into a void (issue 16)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import trimesh

from immersion.scenes.manifest import load_pack
from immersion.scenes.void_check import VOID_SHARE, set_triangles, void_shares, void_warnings
from immersion.scenes_cmd import run_new

pytestmark = pytest.mark.pure


def _template(folder: Path) -> Path:
    import argparse

    run_new(argparse.Namespace(name=str(folder), into=None))
    return folder


def test_the_template_stage_is_open_to_the_audience(tmp_path: Path) -> None:
    pack = load_pack(_template(tmp_path / "open-set"))
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
