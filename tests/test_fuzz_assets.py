"""Structured fuzzing of everything a pack or an avatar hands us: valid documents (the template
pack's manifest and set, a small built avatar or the shipped detective) with fields replaced, removed or added, by
values of any JSON/TOML type. Properties: the checks raise nothing but StageError, never hang,
stay within a memory bound; and what they accept, the loaders load (the divergence the tester
found by hand). Derandomized with a fixed budget, so CI runs the same examples every time.
The check targets are the fast tier; the load targets use the engine's loader (no window)."""

from __future__ import annotations

import base64
import copy
import io
import json
import math
import os
import tracemalloc
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from immersion.avatars.vrm import inspect_avatar
from immersion.errors import StageError
from immersion.gltf_guard import GltfDocument, inspect_glb_bytes
from immersion.scenes.manifest import load_pack, validate_pack
from tests.assets_helpers import detective, glb, new_pack, small_avatar, split_glb

# Examples per target, sized for CI (the module in about 30 s on two cores, most of it the
# avatar load target: each of its examples writes, checks and loads a 4 MB cast member; the
# pure check target fuzzes a small built avatar); the loader targets are dearer (an engine load
# per accepted example). IMMERSION_FUZZ_EXAMPLES raises the
# budget and IMMERSION_FUZZ_RANDOM=1 draws new examples, for a longer hunt by hand.
CHECK_EXAMPLES = int(os.environ.get("IMMERSION_FUZZ_EXAMPLES", "200"))
LOAD_EXAMPLES = CHECK_EXAMPLES * 3 // 10
MEMORY_BOUND = 64 << 20

budget = settings(
    max_examples=CHECK_EXAMPLES,
    deadline=timedelta(seconds=10),  # far above any example; a hang fails here
    derandomize=os.environ.get("IMMERSION_FUZZ_RANDOM") != "1",
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
Doc = dict[str, Any]
Path_ = tuple[str | int, ...]

# Names that matter to a glTF reader, so added keys hit real fields.
GLTF_KEYS = [
    "bufferView", "byteOffset", "byteStride", "byteLength", "count", "componentType", "type",
    "sparse", "indices", "material", "mode", "targets", "attributes", "POSITION", "TEXCOORD_0",
    "JOINTS_0", "skin", "mesh", "camera", "children", "matrix", "rotation", "scale",
    "translation", "name", "extensions", "extensionsRequired", "extras", "hidden_nodes",
    "weights", "targetNames", "joints", "skeleton", "inverseBindMatrices", "source", "sampler",
    "uri", "mimeType", "index", "texCoord", "KHR_texture_transform", "KHR_lights_punctual",
    "light", "meta", "humanoid", "humanBones", "node", "authors", "avatarPermission",
    "commercialUsage", "scene", "nodes", "primitives",
]  # fmt: skip
_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(2**31), 2**31)
    | st.sampled_from([-1, 0, 1, 2, 3, 4, 5, 6, 12, 16, 255, 256, 5121, 5123, 5126, 10**9, 2**63])
    | st.floats()
    | st.text(max_size=6)
    | st.sampled_from(["SCALAR", "VEC2", "VEC3", "MAT4", "POSITION", "spot", "4", "a.png"])
)
JSON_VALUES = st.recursive(
    _SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(GLTF_KEYS) | st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=6,
)


def _paths(value: Any, prefix: Path_ = ()) -> list[Path_]:
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(value, list) and len(value) <= 8:  # not into big arrays of numbers
        for i, v in enumerate(value):
            out += _paths(v, (*prefix, i))
    return out


class _Mutated(dict[str, Any]):
    """A mutated document that shows itself as its edits: Hypothesis prints a failing
    example's repr, and the whole document (the cast's is 120 kB of JSON) is too long to
    read, and warns (an error here) instead of showing the failure."""

    edits: list[tuple[str, Path_, str, Any]]

    def __repr__(self) -> str:
        return f"<base document with edits {self.edits!r}>"


def _mutations(
    base: Doc, values: st.SearchStrategy[Any], keys: list[str]
) -> st.SearchStrategy[Doc]:
    """``base`` with one to three edits: a value replaced, a key removed, a key added."""
    paths = _paths(base)
    edit = st.tuples(
        st.sampled_from(["set", "delete", "add"]),
        st.sampled_from(paths),
        st.sampled_from(keys),
        values,
    )

    def apply(edits: list[tuple[str, Path_, str, Any]]) -> Doc:
        doc = _Mutated(copy.deepcopy(base))
        doc.edits = edits
        for op, path, key, value in edits:
            parent: Any = doc
            try:
                for step in path[:-1]:
                    parent = parent[step]
                target = parent[path[-1]] if path else doc
            except (KeyError, IndexError, TypeError):
                continue  # an earlier edit removed the way there
            if op == "add" and isinstance(target, dict):
                target[key] = value
            elif op == "delete" and path and isinstance(parent, dict):
                del parent[path[-1]]
            elif op == "set" and path:
                parent[path[-1]] = value
        return doc

    return st.lists(edit, min_size=1, max_size=3).map(apply)


def _within_memory(check: Callable[[], Any]) -> Any:
    tracemalloc.start()
    try:
        return check()
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert peak < MEMORY_BOUND, f"{peak >> 20} MB for one example"


def _png() -> str:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (2, 2), (200, 30, 160)).save(out, "PNG")
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode()


def _rich_set(doc: Doc, binary: bytes) -> tuple[Doc, bytes]:
    """The template set with what it lacks: UVs, a textured material, a sampler, a camera and
    a light, so the fuzzing reaches those readers too."""
    doc = copy.deepcopy(doc)
    count = doc["accessors"][doc["meshes"][0]["primitives"][0]["attributes"]["POSITION"]]["count"]
    offset = len(binary) + (-len(binary) % 4)
    binary = binary + b"\0" * (offset - len(binary)) + b"\0" * (8 * count)
    doc["buffers"][0]["byteLength"] = len(binary)
    doc["bufferViews"].append({"buffer": 0, "byteOffset": offset, "byteLength": 8 * count})
    doc["accessors"].append(
        {
            "bufferView": len(doc["bufferViews"]) - 1,
            "componentType": 5126,
            "type": "VEC2",
            "count": count,
        }
    )
    prim = doc["meshes"][0]["primitives"][0]
    prim["attributes"]["TEXCOORD_0"] = len(doc["accessors"]) - 1
    prim["material"] = 0
    doc["materials"] = [
        {
            "name": "painted",
            "pbrMetallicRoughness": {"baseColorTexture": {"index": 0}, "metallicFactor": 0.0},
            "emissiveFactor": [0, 0, 0],
        }
    ]
    doc["textures"] = [{"source": 0, "sampler": 0}]
    doc["samplers"] = [{"magFilter": 9729, "wrapS": 33071}]
    doc["images"] = [{"uri": _png()}]
    doc["cameras"] = [
        {"type": "perspective", "perspective": {"yfov": 0.8, "znear": 0.1, "zfar": 50}}
    ]
    doc["extensionsUsed"] = ["KHR_lights_punctual"]
    doc["extensions"] = {"KHR_lights_punctual": {"lights": [{"type": "point", "color": [1, 1, 1]}]}}
    doc["nodes"].append(
        {"name": "lamp", "camera": 0, "extensions": {"KHR_lights_punctual": {"light": 0}}}
    )
    doc["scenes"][0]["nodes"].append(len(doc["nodes"]) - 1)
    return doc, binary


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return new_pack(tmp_path_factory.mktemp("fuzz"))


@pytest.fixture(scope="module")
def rich_set(template: Path) -> tuple[Doc, bytes]:
    return _rich_set(*split_glb((template / "set.glb").read_bytes()))


def _gltf_case(base: tuple[Doc, bytes], where: Path) -> Callable[[Doc], GltfDocument | None]:
    def check(doc: Doc) -> GltfDocument | None:
        data = glb(doc, base[1])
        try:
            return _within_memory(lambda: inspect_glb_bytes(data, where / "set.glb", where))  # type: ignore[no-any-return]
        except StageError as exc:
            assert "\n" not in str(exc) and str(exc).startswith("set.glb: ")
            return None

    return check


@pytest.mark.pure
def test_gltf_check_raises_only_typed_errors(rich_set: tuple[Doc, bytes], tmp_path: Path) -> None:
    check = _gltf_case(rich_set, tmp_path)
    accepted = []

    @budget
    @given(_mutations(rich_set[0], JSON_VALUES, GLTF_KEYS))
    def run(doc: Doc) -> None:
        if check(doc) is not None:
            accepted.append(1)

    run()
    assert 0 < len(accepted) < CHECK_EXAMPLES  # both sides of the check were reached
    _report("glTF check", CHECK_EXAMPLES, len(accepted))


def test_gltf_accepted_by_the_check_loads(rich_set: tuple[Doc, bytes], tmp_path: Path) -> None:
    from immersion.stage.models import load_gltf

    check = _gltf_case(rich_set, tmp_path)
    loaded = []

    @settings(budget, max_examples=LOAD_EXAMPLES)
    @given(_mutations(rich_set[0], JSON_VALUES, GLTF_KEYS))
    def run(doc: Doc) -> None:
        checked = check(doc)
        if checked is not None:
            load_gltf(checked)  # an AssetError here is a check/loader divergence
            loaded.append(1)

    run()
    assert loaded
    _report("glTF check then load", LOAD_EXAMPLES, len(loaded))


def _avatar_case(where: Path, avatar: tuple[Doc, bytes]) -> Callable[[Doc], Path | None]:
    _, binary = avatar

    def check(doc: Doc) -> Path | None:
        path = where / "fuzz.vrm"
        path.write_bytes(glb(doc, binary))
        try:
            _within_memory(lambda: inspect_avatar(path))
        except StageError as exc:
            assert "\n" not in str(exc) and str(exc).startswith("fuzz.vrm: ")
            return None
        return path

    return check


@pytest.mark.pure
def test_avatar_check_raises_only_typed_errors(tmp_path: Path) -> None:
    check = _avatar_case(tmp_path, small_avatar())
    accepted = []

    @budget
    @given(_mutations(small_avatar()[0], JSON_VALUES, GLTF_KEYS))
    def run(doc: Doc) -> None:
        if check(doc) is not None:
            accepted.append(1)

    run()
    assert 0 < len(accepted) < CHECK_EXAMPLES
    _report("avatar check", CHECK_EXAMPLES, len(accepted))


def test_avatar_accepted_by_the_check_loads(tmp_path: Path) -> None:
    from immersion.stage.avatar_actor import AvatarActor

    check = _avatar_case(tmp_path, detective())
    loaded = []

    @settings(budget, max_examples=LOAD_EXAMPLES)
    @given(_mutations(detective()[0], JSON_VALUES, GLTF_KEYS))
    def run(doc: Doc) -> None:
        path = check(doc)
        if path is not None:
            try:
                actor = AvatarActor.load(path)
            except StageError as exc:  # the licence is the one refusal left to the loader
                assert "meta allows" in str(exc), exc
                return
            actor.actor.cleanup()
            loaded.append(1)

    run()
    assert loaded
    _report("avatar check then load", LOAD_EXAMPLES, len(loaded))


# --- scene.toml ---------------------------------------------------------------------------

MANIFEST_KEYS = [
    "pack", "title", "production", "format", "floor", "size", "centre", "backdrop", "type",
    "colour", "top", "bottom", "image", "geometry", "props", "file", "position", "rotation",
    "scale", "lights", "intensity", "direction", "range", "angle", "shadows", "marks", "name",
    "facing", "cameras", "look_at", "fov", "sound", "volume",
]  # fmt: skip
_TOML_SCALARS = (
    st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.sampled_from([-1, 0, 1, 5, 150, 1000, 10_001])
    | st.floats()
    | st.sampled_from([math.nan, math.inf, -math.inf, 1e300, -0.0])
    | st.text(max_size=6)
    | st.sampled_from(
        ["set.glb", "../set.glb", "#ffffff", "spot", "directional", "image", "sky.png"]
    )
)
TOML_VALUES = st.recursive(
    _TOML_SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(MANIFEST_KEYS) | st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=6,
)


def toml_text(doc: Doc) -> str:
    """``doc`` as TOML: every top-level key with an inline value (TOML has no null)."""

    def value(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, float):
            return (
                "nan"
                if math.isnan(v)
                else ("inf" if v > 0 else "-inf")
                if math.isinf(v)
                else repr(v)
            )
        if isinstance(v, int):
            return str(v)
        if isinstance(v, str):
            return json.dumps(v)
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v if x is not None) + "]"
        assert isinstance(v, dict)
        return (
            "{"
            + ", ".join(f"{json.dumps(k)} = {value(x)}" for k, x in v.items() if x is not None)
            + "}"
        )

    return "".join(f"{json.dumps(k)} = {value(v)}\n" for k, v in doc.items() if v is not None)


def _pack_case(template: Path, tmp_path: Path) -> tuple[Doc, Callable[[Doc], Path | None]]:
    import shutil
    import tomllib

    folder = Path(shutil.copytree(template, tmp_path / "pack"))
    base = tomllib.loads((template / "scene.toml").read_text())
    (folder / "sky.png").write_bytes(base64.b64decode(_png().split(",")[1]))

    def check(doc: Doc) -> Path | None:
        (folder / "scene.toml").write_text(toml_text(doc))
        problems = _within_memory(lambda: validate_pack(folder))
        assert all("\n" not in p and p.startswith(str(folder)) for p in problems), problems
        return None if problems else folder

    return base, check


@pytest.mark.pure
def test_manifest_check_raises_only_typed_errors(template: Path, tmp_path: Path) -> None:
    base, check = _pack_case(template, tmp_path)
    assert toml_text(base) and check(base) is not None  # the writer round-trips the template
    accepted = []

    @budget
    @given(_mutations(base, TOML_VALUES, MANIFEST_KEYS))
    def run(doc: Doc) -> None:
        if check(doc) is not None:
            accepted.append(1)

    run()
    assert 0 < len(accepted) < CHECK_EXAMPLES
    _report("manifest check", CHECK_EXAMPLES, len(accepted))


def test_manifest_accepted_by_the_check_builds(template: Path, tmp_path: Path) -> None:
    from panda3d.core import NodePath

    from immersion.stage.set_builder import build_set, light_code, shadow_light

    base, check = _pack_case(template, tmp_path)
    built = []

    @settings(budget, max_examples=LOAD_EXAMPLES)
    @given(_mutations(base, TOML_VALUES, MANIFEST_KEYS))
    def run(doc: Doc) -> None:
        folder = check(doc)
        if folder is not None:
            pack = load_pack(folder)
            light_code(pack.lights)
            shadow_light(pack.lights)
            build_set(pack, NodePath("fuzz")).removeNode()  # models placed: the matrices hold
            built.append(1)

    run()
    assert built
    _report("manifest check then build", LOAD_EXAMPLES, len(built))


def _report(target: str, examples: int, accepted: int) -> None:
    print(f"{target}: {examples} examples, {accepted} accepted")
