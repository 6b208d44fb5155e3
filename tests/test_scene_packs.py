"""Scene packs: the shipped ones validate and are substantial; every bad input is named.

Checks run in-process on a template pack made once per module; test_asset_cli runs the real
``immersion`` command for its contract (one line per problem, exit status, no traceback)."""

from __future__ import annotations

import os
import shutil
import zipfile
from pathlib import Path

import pytest

from immersion.catalogue import shipped_packs
from immersion.cli import main
from immersion.errors import AssetError, PackError
from immersion.gltf_guard import inspect_gltf
from immersion.safe_files import read_bounded
from immersion.scenes.manifest import load_pack, validate_pack
from tests.assets_helpers import copy_pack, glb, new_pack
from tests.support import ROOT

pytestmark = pytest.mark.pure


def _triangles(glb: Path) -> int:
    doc = inspect_gltf(glb, glb.parent).json
    count = 0
    for mesh in doc["meshes"]:
        for prim in mesh["primitives"]:
            count += doc["accessors"][prim["indices"]]["count"] // 3
    return count


def test_four_shipped_packs_validate_and_are_real_sets() -> None:
    packs = shipped_packs()
    assert {p.name for p in packs} >= {
        "noir-office",
        "starship-bridge",
        "western-saloon",
        "enchanted-forest",
    }
    for path in packs:
        assert validate_pack(path) == [], path
        pack = load_pack(path)
        assert len(pack.marks) >= 2 and len(pack.cameras) >= 3
        assert sum(li.type != "ambient" for li in pack.lights) >= 2
        assert sum(_triangles(g.file) for g in pack.geometry) >= 20_000, path.name


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return new_pack(tmp_path_factory.mktemp("template"))


@pytest.fixture
def pack(template: Path, tmp_path: Path) -> Path:
    """A valid pack to break: the template ``scenes new`` writes."""
    return copy_pack(template, tmp_path)


@pytest.fixture(autouse=True)
def _state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IMMERSION_STATE", str(tmp_path / "state"))  # unpacked zips go here


def _edit(pack: Path, old: str, new: str) -> None:
    path = pack / "scene.toml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def test_new_pack_is_valid(pack: Path) -> None:
    assert validate_pack(pack) == []


def test_every_problem_is_reported_at_once_with_file_and_field(pack: Path) -> None:
    _edit(pack, 'title = "Test Set"', 'title = "Test Set"\ncolor = "blue"')
    _edit(pack, "intensity = 0.4", 'intensity = "bright"')
    _edit(pack, "fov = 50", "fov = 500")
    problems = validate_pack(pack)
    assert len(problems) == 3, problems
    assert all(p.startswith(f"{pack}/scene.toml: ") for p in problems)
    joined = "\n".join(problems)
    assert "pack.color: unknown key" in joined
    assert "lights[0].intensity: 'bright' is not of type 'number'" in joined
    assert "cameras[0].fov: 500 is greater than the maximum of 150" in joined


def test_schema_and_file_problems_are_reported_in_one_run(pack: Path) -> None:
    _edit(pack, 'file = "set.glb"', 'file = "missing.glb"')
    _edit(pack, "intensity = 0.4", 'intensity = "bright"')
    _edit(pack, "size = [6.0, 5.0]", 'size = "big"')  # the floor is unreadable...
    _edit(pack, "position = [0.0, -1.5]", "position = [0.0, -1.5, 2.0]")  # ...this mark too
    _edit(pack, 'name = "medium"', 'name = "wide"')
    problems = validate_pack(pack)
    joined = "\n".join(problems)
    assert "lights[0].intensity: 'bright' is not of type 'number'" in joined
    assert "floor.size: 'big' is not of type 'array'" in joined
    assert "marks[1].position: [0.0, -1.5, 2.0] is too long" in joined
    assert "geometry[0].file: 'missing.glb' does not exist" in joined
    assert "cameras[1].name: 'wide' is used twice" in joined
    assert len(problems) == 5, problems  # and nothing invented about the unreadable parts


def test_semantic_problems_are_all_reported(pack: Path) -> None:
    _edit(pack, 'file = "set.glb"', 'file = "missing.glb"')
    _edit(pack, "position = [0.0, -1.5]", "position = [9.0, -1.5]")
    _edit(pack, 'name = "medium"', 'name = "wide"')
    problems = "\n".join(validate_pack(pack))
    assert "'missing.glb' does not exist" in problems
    assert "marks[1].position: [9, -1.5] is outside the floor" in problems
    assert "cameras[1].name: 'wide' is used twice" in problems


@pytest.mark.parametrize(
    ("file", "expected"),
    [
        ("../outside.glb", "escapes the pack"),
        ("/etc/passwd.glb", "escapes the pack"),
        ("sub\\\\x.glb", "not a relative path"),
    ],
)
def test_paths_cannot_escape_the_pack(pack: Path, file: str, expected: str) -> None:
    (pack.parent / "outside.glb").write_bytes((pack / "set.glb").read_bytes())
    _edit(pack, 'file = "set.glb"', f'file = "{file}"')
    problems = validate_pack(pack)
    assert len(problems) == 1 and expected in problems[0] and "geometry[0].file" in problems[0]


def test_symlink_out_of_the_pack_is_refused(pack: Path, tmp_path: Path) -> None:
    outside = tmp_path / "secret.glb"
    shutil.copy(pack / "set.glb", outside)
    os.symlink(outside, pack / "link.glb")
    _edit(pack, 'file = "set.glb"', 'file = "link.glb"')
    assert "leads outside the pack" in validate_pack(pack)[0]


_glb = glb


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"not a gltf at all", "not valid glTF JSON"),
        (
            _glb({"asset": {"version": "2.0"}, "buffers": [{"byteLength": 10 << 30}]}),
            "over the 512 MB limit",
        ),
        (
            _glb({"asset": {"version": "2.0"}, "buffers": [{"byteLength": 64}]}, b"\0" * 8),
            "claims 64 bytes, only 8",
        ),
        (
            _glb({"asset": {"version": "2.0"}, "nodes": [{}] * 1_000_000}),
            "1000000 nodes, over the limit",
        ),
        (
            _glb({"asset": {"version": "2.0"}, "nodes": [{"children": [1]}, {"children": [0]}]}),
            "or in a cycle",
        ),
        (
            _glb(
                {
                    "asset": {"version": "2.0"},
                    "buffers": [{"byteLength": 4, "uri": "../../etc/passwd"}],
                }
            ),
            "escapes the pack",
        ),
        (
            _glb({"asset": {"version": "2.0"}, "images": [{"uri": "/etc/passwd"}]}),
            "escapes the pack",
        ),
        (_glb({"asset": {"version": "1.0"}}), "need glTF 2.0"),
        (b"glTF\x02\0\0\0\xff\xff\xff\x7f" + b"\0" * 12, "GLB header says"),
    ],
    ids=[
        "not-gltf",
        "10GB-buffer",
        "short-buffer",
        "million-nodes",
        "cycle",
        "buffer-escape",
        "image-escape",
        "gltf1",
        "bad-length",
    ],
)
def test_malformed_or_hostile_gltf_is_refused(pack: Path, content: bytes, expected: str) -> None:
    (pack / "set.glb").write_bytes(content)
    problems = validate_pack(pack)
    assert len(problems) == 1 and "geometry[0].file" in problems[0]
    assert expected in problems[0], problems[0]
    with pytest.raises(PackError):
        load_pack(pack)


def test_deeply_nested_nodes_are_refused(tmp_path: Path) -> None:
    nodes = [{"children": [i + 1]} for i in range(5000)] + [{}]
    path = tmp_path / "deep.glb"
    path.write_bytes(_glb({"asset": {"version": "2.0"}, "nodes": nodes}))
    with pytest.raises(AssetError, match="nested deeper than 128"):
        inspect_gltf(path, tmp_path)


def test_bad_toml_names_the_file(pack: Path) -> None:
    (pack / "scene.toml").write_text("[pack\ntitle=")
    (problem,) = validate_pack(pack)
    assert problem.startswith(f"{pack}/scene.toml: not valid TOML")


def test_zip_pack_loads_and_zip_slip_is_refused(pack: Path, tmp_path: Path) -> None:
    # Unpacked into the state folder (the fixture above points it at tmp_path/state).
    good = tmp_path / "good.zip"
    with zipfile.ZipFile(good, "w") as z:
        for f in pack.iterdir():
            z.write(f, f"test-set/{f.name}")
    assert load_pack(good).title == "Test Set"
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as z:
        z.writestr("../../escape.txt", "x")
    assert "escapes the pack" in validate_pack(evil)[0]


def test_list_validate_and_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scenes", "list"]) == 0
    assert "Night Falls on Harper Street" in capsys.readouterr().out
    assert main(["scenes", "validate", "noir-office"]) == 0
    assert "valid" in capsys.readouterr().out
    with pytest.raises(SystemExit) as done:
        main(["render", "--help"])
    assert done.value.code == 0 and "camera preset" in capsys.readouterr().out
    assert (ROOT / "immersion" / "scenes" / "scene-pack.schema.json").is_file()


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ("position = [0.0, 0.0, 0.0]", "position = [nan, 0.0, 0.0]", "geometry[0].position[0]"),
        ("rotation = [0.0, 0.0, 0.0]", "rotation = [0.0, inf, 0.0]", "geometry[0].rotation[1]"),
        ("scale = 1.0", "scale = nan", "geometry[0].scale"),
        ("intensity = 0.4", "intensity = nan", "lights[0].intensity"),
        (
            "direction = [-0.3, -1.0, -0.4]",
            "direction = [-inf, -1.0, -0.4]",
            "lights[1].direction[0]",
        ),
        ("position = [0.0, 1.7, 5.0]", "position = [0.0, nan, 5.0]", "cameras[0].position[1]"),
        ("look_at = [0.0, 1.0, 0.0]", "look_at = [0.0, 1.0, -inf]", "cameras[0].look_at[2]"),
        ("fov = 50", "fov = nan", "cameras[0].fov"),
        ("facing = 0", "facing = nan", "marks[0].facing"),
        ("size = [6.0, 5.0]", "size = [nan, 5.0]", "floor.size[0]"),
    ],
)
def test_nan_and_inf_in_the_manifest_are_named(pack: Path, old: str, new: str, field: str) -> None:
    _edit(pack, old, new)
    problems = validate_pack(pack)
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"{pack}/scene.toml: {field}: ")
    assert "is not a finite number" in problems[0]


def test_huge_positions_and_deep_nesting_are_refused(pack: Path) -> None:
    _edit(pack, "position = [0.0, 1.7, 5.0]", "position = [0.0, 1e300, 5.0]")
    (problem,) = validate_pack(pack)
    assert "cameras[0].position[1]: 1e+300 is greater than the maximum of 10000" in problem
    (pack / "scene.toml").write_text("x = " + "[" * 5000 + "]" * 5000)
    (problem,) = validate_pack(pack)
    assert problem == f"{pack}/scene.toml: nested too deeply to be a scene manifest" or (
        "not valid TOML" in problem
    )
    (pack / "scene.toml").write_text("x = " + "[" * 400 + "]" * 400)
    assert "x: unknown key" in "\n".join(validate_pack(pack))


def test_an_unreadable_file_is_a_problem_not_a_traceback(tmp_path: Path) -> None:
    # What a file without read permission gives too (the tests may run as root, who reads all).
    with pytest.raises(AssetError, match=r"^where: cannot read .*\(Is a directory\)$"):
        read_bounded(tmp_path, 1 << 20, "where")
