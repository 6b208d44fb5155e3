"""The check commands as a user runs them: a bad pack or avatar is one line naming the file
and field, exit status 1, no traceback; several problems are one line each and a count."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.assets_helpers import detective, glb, new_pack
from tests.support import run_cli


@pytest.fixture
def pack(tmp_path: Path) -> Path:
    return new_pack(tmp_path)


def _edit(pack: Path, old: str, new: str) -> None:
    path = pack / "scene.toml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def test_validate_cli_lists_problems_and_exits_non_zero(pack: Path) -> None:
    _edit(pack, "intensity = 0.4", "intensity = -1")
    _edit(pack, "fov = 50", "fov = 500")
    result = run_cli("scenes", "validate", str(pack))
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 3 and "Traceback" not in result.stderr
    assert lines[-1] == f"immersion: error: {pack}: 2 problems"


def test_validate_cli_says_one_problem_in_one_line(pack: Path) -> None:
    (pack / "set.glb").write_bytes(
        glb({"asset": {"version": "2.0"}, "scenes": [{"nodes": 5}]})
    )  # fmt: skip
    result = run_cli("scenes", "validate", str(pack))
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr == (
        f"immersion: error: {pack}/scene.toml: geometry[0].file: "
        "set.glb: scenes[0].nodes: 5 is not a list\n"
    )


def test_avatars_show_says_a_bad_avatar_in_one_line(tmp_path: Path) -> None:
    doc, binary = detective()
    doc["extensions"]["VRMC_vrm"]["meta"] = "free to use"
    path = tmp_path / "bad.vrm"
    path.write_bytes(glb(doc, binary))
    result = run_cli("avatars", "show", str(path))
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr == (
        "immersion: error: bad.vrm: extensions.VRMC_vrm.meta: 'free to use' is not an object\n"
    )
