"""Check a glTF/GLB before any loader touches it: bounded sizes, paths inside the pack.

panda3d-gltf trusts its input: it opens any ``uri`` it is given, allocates whatever
``byteLength`` claims, and recurses through the node tree. :func:`inspect_gltf` reads the file
itself with bounds, checks every reference, and hands back the parsed document plus the buffer
bytes, so that the loader reads nothing more from disk except images already checked.
"""

from __future__ import annotations

import base64
import json
import math
import struct
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from immersion.errors import AssetError
from immersion.gltf_draco import EXTENSION as DRACO
from immersion.gltf_draco import decode_draco, uses_draco
from immersion.safe_files import MAX_FILE_BYTES, image_size, read_bounded, resolve_inside


@dataclass(frozen=True)
class Limits:
    """Generous for a theatre set or an avatar, far below what would hurt the machine."""

    file_bytes: int = MAX_FILE_BYTES
    json_bytes: int = 32 << 20
    buffer_bytes: int = 512 << 20
    nodes: int = 20_000
    meshes: int = 10_000
    accessors: int = 200_000
    depth: int = 128
    image_pixels: int = 256 << 20
    # Draco-compressed meshes, decoded (over the whole file): about 100 MB of vertex data.
    decoded_vertices: int = 4_000_000
    decoded_indices: int = 12_000_000


@dataclass
class GltfDocument:
    path: Path
    json: dict[str, Any]
    buffers: list[bytes] = field(default_factory=list)

    @property
    def node_count(self) -> int:
        return len(self.json.get("nodes", []))


_COMPONENT_BYTES = {5120: 1, 5121: 1, 5122: 2, 5123: 2, 5125: 4, 5126: 4}
_TYPE_COUNT = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT2": 4, "MAT3": 9, "MAT4": 16}
_DATA_URI = ("data:application/octet-stream;base64,", "data:application/gltf-buffer;base64,")


def inspect_gltf(path: Path, root: Path, limits: Limits = Limits()) -> GltfDocument:
    """Parse and check ``path`` (inside ``root``); :class:`AssetError` names what is wrong."""
    raw = read_bounded(path, limits.file_bytes, _rel(path, root))
    return inspect_glb_bytes(raw, path, root, limits)


def inspect_glb_bytes(
    raw: bytes, path: Path, root: Path, limits: Limits = Limits()
) -> GltfDocument:
    """As :func:`inspect_gltf`, for content already in memory that ``path`` names."""
    name = _rel(path, root)
    doc, glb_bin = _parse(raw, name, limits)
    _check_top(doc, name)
    _check_counts(doc, name, limits)
    buffers = _load_buffers(doc, glb_bin, path.parent, root, name, limits)
    _check_views_and_accessors(doc, buffers, name)
    if uses_draco(doc):  # decoded into plain accessors, checked again like any others
        doc, buffers = decode_draco(
            doc, buffers, name, limits.decoded_vertices, limits.decoded_indices
        )
        _check_views_and_accessors(doc, buffers, name)
    _check_nodes(doc, name, limits)
    _check_meshes(doc, buffers, name)
    _check_skins(doc, buffers, name)
    _check_materials(doc, name)
    _check_textures(doc, buffers, path.parent, root, name, limits)
    return GltfDocument(path, doc, buffers)


def _rel(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)


def _parse(raw: bytes, name: str, limits: Limits) -> tuple[dict[str, Any], bytes | None]:
    glb_bin: bytes | None = None
    if raw[:4] == b"glTF":
        if len(raw) < 20:
            raise AssetError(f"{name}: truncated GLB header")
        version, length = struct.unpack_from("<II", raw, 4)
        if version != 2:
            raise AssetError(f"{name}: GLB version {version}; only glTF 2.0 is supported")
        if length != len(raw):
            raise AssetError(f"{name}: GLB header says {length} bytes, the file has {len(raw)}")
        chunks: list[tuple[bytes, bytes]] = []
        pos = 12
        while pos < len(raw):
            if pos + 8 > len(raw):
                raise AssetError(f"{name}: truncated GLB chunk header at byte {pos}")
            size, kind = struct.unpack_from("<I4s", raw, pos)
            if pos + 8 + size > len(raw):
                raise AssetError(
                    f"{name}: GLB chunk at byte {pos} claims {size} bytes past the end"
                )
            chunks.append((kind, raw[pos + 8 : pos + 8 + size]))
            pos += 8 + size
        if not chunks or chunks[0][0] != b"JSON":
            raise AssetError(f"{name}: GLB has no JSON chunk first")
        text = chunks[0][1]
        glb_bin = next((c for k, c in chunks[1:] if k == b"BIN\0"), None)
    else:
        text = raw
    if len(text) > limits.json_bytes:
        raise AssetError(f"{name}: glTF JSON is over {limits.json_bytes >> 20} MB")
    try:
        doc = json.loads(text.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise AssetError(f"{name}: not valid glTF JSON ({exc})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("asset"), dict):
        raise AssetError(f"{name}: not a glTF document (no 'asset')")
    if not str(doc["asset"].get("version", "")).startswith("2."):
        raise AssetError(f"{name}: asset.version {doc['asset'].get('version')!r}; need glTF 2.0")
    return doc, glb_bin


def _list(doc: dict[str, Any], key: str, name: str) -> list[Any]:
    value = doc.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise AssetError(f"{name}: '{key}' must be a list of objects")
    return value


def _check_counts(doc: dict[str, Any], name: str, limits: Limits) -> None:
    for key, most in (
        ("nodes", limits.nodes),
        ("meshes", limits.meshes),
        ("accessors", limits.accessors),
    ):
        count = len(_list(doc, key, name))
        if count > most:
            raise AssetError(f"{name}: {count} {key}, over the limit of {most}")


def _index(value: Any, size: int, where: str) -> int:
    if not _is_int(value):
        raise AssetError(f"{where}: {_short(value)} is not an index")
    if not 0 <= value < size:
        span = f"0..{size - 1}" if size else "there are none"
        raise AssetError(f"{where}: index {value} out of range ({span})")
    return int(value)


def _length(value: Any, where: str) -> int:
    if not _is_int(value) or value < 0:
        raise AssetError(f"{where}: {_short(value)} is not a count")
    return int(value)


def _load_buffers(
    doc: dict[str, Any], glb_bin: bytes | None, folder: Path, root: Path, name: str, limits: Limits
) -> list[bytes]:
    out: list[bytes] = []
    total = 0
    for i, buf in enumerate(_list(doc, "buffers", name)):
        where = f"{name}: buffers[{i}]"
        length = _length(buf.get("byteLength"), f"{where}.byteLength")
        total += length
        if length > limits.buffer_bytes or total > limits.buffer_bytes:
            raise AssetError(
                f"{where}.byteLength: {length} bytes, over the {limits.buffer_bytes >> 20} MB limit"
            )
        uri = buf.get("uri")
        if uri is None:
            if i != 0 or glb_bin is None:
                raise AssetError(f"{where}: no uri and no GLB binary chunk")
            data = glb_bin
        elif not isinstance(uri, str):
            raise AssetError(f"{where}.uri: not a string")
        elif uri.startswith("data:"):
            if not uri.startswith(_DATA_URI):
                raise AssetError(f"{where}.uri: unsupported data URI type")
            try:
                data = base64.b64decode(uri.split(",", 1)[1], validate=True)
            except ValueError:
                raise AssetError(f"{where}.uri: bad base64 data") from None
        else:
            target = _member(folder, root, urllib.parse.unquote(uri), f"{where}.uri")
            data = read_bounded(target, limits.buffer_bytes, f"{where}.uri")
        if len(data) < length:
            raise AssetError(f"{where}.byteLength: claims {length} bytes, only {len(data)} present")
        out.append(data[:length])
    return out


def _check_views_and_accessors(doc: dict[str, Any], buffers: list[bytes], name: str) -> None:
    views = _list(doc, "bufferViews", name)
    for i, view in enumerate(views):
        where = f"{name}: bufferViews[{i}]"
        b = _index(view.get("buffer"), len(buffers), f"{where}.buffer")
        start = _length(view.get("byteOffset", 0), f"{where}.byteOffset")
        size = _length(view.get("byteLength"), f"{where}.byteLength")
        if start + size > len(buffers[b]):
            raise AssetError(f"{where}: bytes {start}..{start + size} run past buffer {b}")
        if "byteStride" in view:
            stride = view["byteStride"]
            # The spec's range; the loader multiplies by it, so a string here once made 2 GB.
            if not _is_int(stride) or not 4 <= stride <= 252 or stride % 4:
                raise AssetError(f"{where}.byteStride: {stride!r} is not a multiple of 4 in 4..252")
    for i, acc in enumerate(_list(doc, "accessors", name)):
        where = f"{name}: accessors[{i}]"
        count = _length(acc.get("count"), f"{where}.count")
        kind, shape = acc.get("componentType"), acc.get("type")
        comp = _COMPONENT_BYTES.get(kind) if _is_int(kind) else None
        width = _TYPE_COUNT.get(shape) if isinstance(shape, str) else None
        if comp is None:
            raise AssetError(f"{where}.componentType: {_short(kind)} is not a glTF one")
        if width is None:
            raise AssetError(f"{where}.type: {_short(shape)} is not a glTF one")
        if "sparse" in acc:
            raise AssetError(f"{where}: sparse accessors are not supported")
        start = _length(acc.get("byteOffset", 0), f"{where}.byteOffset")
        if "bufferView" not in acc:
            if start:
                raise AssetError(f"{where}.byteOffset: set without a bufferView")
            continue
        view = views[_index(acc["bufferView"], len(views), f"{where}.bufferView")]
        element = comp * width
        stride = view.get("byteStride", element)
        if stride < element:
            raise AssetError(
                f"{where}: elements of {element} bytes do not fit bufferViews"
                f"[{acc['bufferView']}].byteStride {stride}"
            )
        if start % comp:
            raise AssetError(f"{where}.byteOffset: {start} is not a multiple of {comp}")
        need = start + (stride * (count - 1) + element if count else 0)
        if need > view["byteLength"]:
            raise AssetError(
                f"{where}: {count} elements need {need} bytes, the view has {view['byteLength']}"
            )


def _check_nodes(doc: dict[str, Any], name: str, limits: Limits) -> None:
    nodes = _list(doc, "nodes", name)
    meshes = len(_list(doc, "meshes", name))
    skins = len(_list(doc, "skins", name))
    cameras = len(_list(doc, "cameras", name))
    lights = len(_punctual_lights(doc, name))
    parent: dict[int, int] = {}
    for i, node in enumerate(nodes):
        where = f"{name}: nodes[{i}]"
        _opt_str(node, "name", where)
        for c in _field_list(node, "children", where):
            c = _index(c, len(nodes), f"{where}.children")
            if c in parent:
                raise AssetError(f"{where}.children: node {c} has two parents")
            parent[c] = i
        if "mesh" in node:
            _index(node["mesh"], meshes, f"{where}.mesh")
        if "skin" in node:
            _index(node["skin"], skins, f"{where}.skin")
        if "camera" in node:
            _index(node["camera"], cameras, f"{where}.camera")
        if "matrix" in node:
            _numbers(node["matrix"], 16, f"{where}.matrix")
        for key, n in (("translation", 3), ("rotation", 4), ("scale", 3)):
            if key in node:
                _numbers(node[key], n, f"{where}.{key}")
        ext = _opt_obj(node, "extensions", where)
        for key in _UNSUPPORTED_NODE_EXTENSIONS:
            if key in ext:
                raise AssetError(f"{where}.extensions.{key}: not supported by the loader")
        if "KHR_lights_punctual" in ext:
            light = _obj(ext["KHR_lights_punctual"], f"{where}.extensions.KHR_lights_punctual")
            _index(light.get("light"), lights, f"{where}.extensions.KHR_lights_punctual.light")
    for i in range(len(nodes)):  # depth and cycles, without recursion
        depth, n = 0, i
        while n in parent:
            n = parent[n]
            depth += 1
            if depth > limits.depth:
                raise AssetError(
                    f"{name}: nodes[{i}] is nested deeper than {limits.depth} (or in a cycle)"
                )
    scenes = _list(doc, "scenes", name)
    for s, scene in enumerate(scenes):
        where = f"{name}: scenes[{s}]"
        _opt_str(scene, "name", where)
        if "nodes" not in scene:  # optional in glTF, read unconditionally by the loader
            raise AssetError(f"{where}.nodes: missing (list the scene's root nodes)")
        for n in _field_list(scene, "nodes", where):
            _index(n, len(nodes), f"{where}.nodes")
        extras = scene.get("extras")
        if isinstance(extras, dict) and "hidden_nodes" in extras:
            for n in _field_list(extras, "hidden_nodes", f"{where}.extras"):
                _index(n, len(nodes), f"{where}.extras.hidden_nodes")
    if "scene" in doc or scenes:
        _index(doc.get("scene", 0), len(scenes), f"{name}: scene")


def _check_meshes(doc: dict[str, Any], buffers: list[bytes], name: str) -> None:
    accessors = _list(doc, "accessors", name)
    views = _list(doc, "bufferViews", name)
    materials = len(_list(doc, "materials", name))
    for m, mesh in enumerate(_list(doc, "meshes", name)):
        where = f"{name}: meshes[{m}]"
        _opt_str(mesh, "name", where)
        if "primitives" not in mesh:
            raise AssetError(f"{where}.primitives: missing")
        prims = _field_list(mesh, "primitives", where)
        if not prims:
            raise AssetError(f"{where}.primitives: empty")
        targets = set()
        for p, prim in enumerate(prims):
            pw = f"{where}.primitives[{p}]"
            _obj(prim, pw)
            targets.add(_check_primitive(prim, accessors, views, buffers, materials, pw))
        if len(targets) > 1:
            raise AssetError(f"{where}: primitives differ in their number of morph targets")
        count = targets.pop()
        if "weights" in mesh:
            weights = _field_list(mesh, "weights", where)
            _numbers(weights, len(weights), f"{where}.weights")
            if count and len(weights) != count:
                raise AssetError(f"{where}.weights: {len(weights)} weights for {count} targets")
        extras = mesh.get("extras")
        if count and isinstance(extras, dict) and "targetNames" in extras:
            names = _field_list(extras, "targetNames", f"{where}.extras")
            if len(names) > count or not all(isinstance(n, str) for n in names):
                raise AssetError(f"{where}.extras.targetNames: not {count} or fewer strings")
            if len(set(names)) != len(names):
                raise AssetError(f"{where}.extras.targetNames: a name is used twice")


def _check_primitive(
    prim: dict[str, Any],
    accessors: list[dict[str, Any]],
    views: list[dict[str, Any]],
    buffers: list[bytes],
    materials: int,
    where: str,
) -> int:
    """Checks one primitive as panda3d-gltf reads it; returns its number of morph targets."""
    mode = prim.get("mode", 4)
    if not _is_int(mode) or mode not in _MODES:
        raise AssetError(
            f"{where}.mode: {mode!r}; the loader draws points (0), lines (1) and triangles (4)"
        )
    if "material" in prim:
        _index(prim["material"], materials, f"{where}.material")
    attrs = _obj(prim.get("attributes"), f"{where}.attributes")
    if "POSITION" not in attrs:
        raise AssetError(f"{where}.attributes: no POSITION")
    used: list[tuple[int, str]] = []
    for key, value in attrs.items():
        rules = _attribute_rules(key)
        if rules is None:
            raise AssetError(f"{where}.attributes.{key}: not an attribute the loader reads")
        used.append((_vertex_accessor(value, accessors, rules, f"{where}.attributes.{key}"), key))
    for key in attrs:
        semantic, _, n = key.partition("_")
        if n and any(f"{semantic}_{k}" not in attrs for k in range(int(n))):
            raise AssetError(f"{where}.attributes.{key}: sets must be numbered from 0 up")
    targets = _field_list(prim, "targets", where)
    for t, target in enumerate(targets):
        tw = f"{where}.targets[{t}]"
        for key, value in _obj(target, tw).items():
            if key not in ("POSITION", "NORMAL", "TANGENT"):
                raise AssetError(f"{tw}.{key}: morph targets move POSITION, NORMAL or TANGENT")
            used.append((_vertex_accessor(value, accessors, _TARGET, f"{tw}.{key}"), key))
    count = accessors[attrs["POSITION"]]["count"]
    for a, key in used:
        if accessors[a]["count"] != count:
            raise AssetError(
                f"{where}: {key} has {accessors[a]['count']} vertices, POSITION has {count}"
            )
    _check_vertex_layout(used, accessors, views, where)
    if "indices" in prim:
        iw = f"{where}.indices"
        i = _index(prim["indices"], len(accessors), iw)
        acc = accessors[i]
        if acc.get("type") != "SCALAR" or acc.get("componentType") not in (5121, 5123, 5125):
            raise AssetError(f"{iw}: accessors[{i}] is not unsigned integer SCALAR")
        data = _accessor_bytes(i, accessors, views, buffers, iw)
        dtype = {5121: np.uint8, 5123: np.uint16, 5125: np.uint32}[acc["componentType"]]
        values = np.frombuffer(data, dtype)
        if values.size and int(values.max()) >= count:
            raise AssetError(f"{iw}: vertex {int(values.max())} of {count} does not exist")
        drawn = acc["count"]
    else:
        if accessors[attrs["POSITION"]].get("byteOffset", 0):
            # panda3d-gltf takes that offset for the first vertex's number
            raise AssetError(f"{where}: no indices and a POSITION byteOffset; add indices")
        drawn = count
    # Flat normals and tangents are computed three vertices at a time.
    tangents = "TEXCOORD_0" in attrs and "TANGENT" not in attrs
    if (mode == 4 or tangents) and drawn % 3:
        raise AssetError(f"{where}: {drawn} vertices do not make whole triangles")
    return len(targets)


def _vertex_accessor(
    value: Any, accessors: list[dict[str, Any]], rules: tuple[set[str], set[int]], where: str
) -> int:
    i = _index(value, len(accessors), where)
    acc = accessors[i]
    types, comps = rules
    if acc["type"] not in types or acc["componentType"] not in comps:
        raise AssetError(
            f"{where}: accessors[{i}] is {acc['type']} of componentType "
            f"{acc['componentType']}; expected {'/'.join(sorted(types))} of {sorted(comps)}"
        )
    if "bufferView" not in acc:
        raise AssetError(f"{where}: accessors[{i}] has no bufferView (compressed or empty data)")
    return i


def _check_vertex_layout(
    used: list[tuple[int, str]],
    accessors: list[dict[str, Any]],
    views: list[dict[str, Any]],
    where: str,
) -> None:
    """The loader copies a view read by several accessors as one interleaved block of rows,
    assuming tightly packed columns in offset order."""
    by_view: dict[int, list[dict[str, Any]]] = {}
    for a, _ in used:
        by_view.setdefault(accessors[a]["bufferView"], []).append(accessors[a])
    for v, accs in by_view.items():
        if len(accs) < 2:
            continue
        view = views[v]
        if "byteStride" not in view:
            raise AssetError(
                f"{where}: bufferViews[{v}] is shared by attributes without a byteStride"
            )
        accs = sorted(accs, key=lambda a: a.get("byteOffset", 0))
        if accs[1].get("byteOffset", 0) >= view["byteStride"]:
            continue  # copied one accessor at a time
        offset = 0
        for acc in accs:
            if acc.get("byteOffset", 0) != offset:
                raise AssetError(
                    f"{where}: bufferViews[{v}] interleaves attributes with gaps or overlaps"
                )
            offset += _COMPONENT_BYTES[acc["componentType"]] * _TYPE_COUNT[acc["type"]]
        if offset != view["byteStride"]:
            raise AssetError(
                f"{where}: bufferViews[{v}].byteStride {view['byteStride']} pads its rows"
            )


def _accessor_bytes(
    i: int,
    accessors: list[dict[str, Any]],
    views: list[dict[str, Any]],
    buffers: list[bytes],
    where: str,
) -> bytes:
    """The bytes of a tightly packed accessor, as the loader's ``get_buffer_from_accessor``
    slices them (it steps through a strided view byte by byte, so a stride is refused)."""
    acc = accessors[i]
    if "bufferView" not in acc:
        raise AssetError(f"{where}: accessors[{i}] has no bufferView (compressed or empty data)")
    view = views[acc["bufferView"]]
    if "byteStride" in view:
        raise AssetError(f"{where}: bufferViews[{acc['bufferView']}] has a byteStride")
    start = view.get("byteOffset", 0) + acc.get("byteOffset", 0)
    size = acc["count"] * _COMPONENT_BYTES[acc["componentType"]] * _TYPE_COUNT[acc["type"]]
    data: bytes = buffers[view["buffer"]][start : start + size]
    return data


def _check_skins(doc: dict[str, Any], buffers: list[bytes], name: str) -> None:
    nodes = _list(doc, "nodes", name)
    accessors = _list(doc, "accessors", name)
    views = _list(doc, "bufferViews", name)
    for s, skin in enumerate(_list(doc, "skins", name)):
        where = f"{name}: skins[{s}]"
        joints = _field_list(skin, "joints", where)
        if not joints:
            raise AssetError(f"{where}.joints: missing or empty")
        for j in joints:
            _index(j, len(nodes), f"{where}.joints")
        if "skeleton" in skin:
            _index(skin["skeleton"], len(nodes), f"{where}.skeleton")
        if "inverseBindMatrices" in skin:
            iw = f"{where}.inverseBindMatrices"
            i = _index(skin["inverseBindMatrices"], len(accessors), iw)
            acc = accessors[i]
            if acc["type"] != "MAT4" or acc["componentType"] != 5126:
                raise AssetError(f"{iw}: accessors[{i}] is not float MAT4")
            if acc["count"] < len(joints):
                raise AssetError(f"{iw}: {acc['count']} matrices for {len(joints)} joints")
            data = np.frombuffer(_accessor_bytes(i, accessors, views, buffers, iw), np.float32)
            if not np.isfinite(data).all():
                raise AssetError(f"{iw}: not all finite numbers")
    roots: dict[int, int] = {}
    for s, root in enumerate(skin_roots(loader_json(doc))):
        if root in roots:
            raise AssetError(
                f"{name}: skins[{roots[root]}] and skins[{s}] share their root node {root}; "
                "the loader keeps one skin per root"
            )
        roots[root] = s


def skin_roots(doc: dict[str, Any]) -> list[int]:
    """Each skin's root node as panda3d-gltf 1.3.0 finds it (``Converter.load_skin``): the
    longest path prefix shared by the skin's joints and the nodes it skins. Its search keeps
    its first candidate when paths share no root at all; :func:`loader_json` adds a common root
    so that never happens."""
    nodes = doc.get("nodes", [])
    parents: list[int | None] = [None] * len(nodes)
    for i, node in enumerate(nodes):
        for child in node.get("children", ()):
            parents[child] = i
    out = []
    for s, skin in enumerate(doc.get("skins", [])):
        joints = set(skin["joints"])
        paths: list[tuple[int, ...]] = []
        for i, node in enumerate(nodes):
            if i in joints or node.get("skin") == s:
                chain = [i]
                while (p := parents[chain[0]]) is not None:
                    chain.insert(0, p)
                paths.append(tuple(chain))
        common = paths[0]
        for path in paths[1:]:
            prefix = list(path[: len(common)])
            while prefix:
                if common[: len(prefix)] == tuple(prefix):
                    common = tuple(prefix)
                    break
                prefix.pop()
        out.append(common[-1])
    return out


def loader_json(doc: dict[str, Any]) -> dict[str, Any]:
    """The document as the loader is given it (``doc`` itself is not changed): a scene whose
    root nodes hold a skin's joints and the mesh it skins in different trees (a skeleton at
    the top of the scene) gets one root node above them, which is how panda3d-gltf finds a
    skin's character. The loader also appends to each scene's node list, so those are copied."""
    nodes = doc.get("nodes", [])
    scenes = [dict(s, nodes=list(s.get("nodes", []))) for s in doc.get("scenes", [])]
    out = dict(doc, scenes=scenes) if "scenes" in doc else dict(doc)
    if not doc.get("skins") or not scenes:
        return out
    parents: dict[int, int] = {c: i for i, n in enumerate(nodes) for c in n.get("children", ())}

    def top(i: int) -> int:
        while i in parents:
            i = parents[i]
        return i

    split = False
    for s, skin in enumerate(doc["skins"]):
        members = set(skin["joints"]) | {i for i, n in enumerate(nodes) if n.get("skin") == s}
        split |= len({top(i) for i in members}) > 1
    if not split:
        return out
    new_nodes = list(nodes)
    for scene in scenes:
        if len(scene["nodes"]) > 1:
            new_nodes.append({"name": scene.get("name", "scene-root"), "children": scene["nodes"]})
            scene["nodes"] = [len(new_nodes) - 1]
    out["nodes"] = new_nodes
    return out


def _check_materials(doc: dict[str, Any], name: str) -> None:
    textures = len(_list(doc, "textures", name))
    for m, mat in enumerate(_list(doc, "materials", name)):
        where = f"{name}: materials[{m}]"
        _opt_str(mat, "name", where)
        ext = _opt_obj(mat, "extensions", where)
        if "BP_materials_legacy" in ext:
            raise AssetError(f"{where}.extensions.BP_materials_legacy: not supported")
        if "KHR_materials_ior" in ext:
            ior = _obj(ext["KHR_materials_ior"], f"{where}.extensions.KHR_materials_ior")
            if "ior" in ior:
                _number(ior["ior"], f"{where}.extensions.KHR_materials_ior.ior")
        pbr = _opt_obj(mat, "pbrMetallicRoughness", where)
        if "baseColorFactor" in pbr:
            _numbers(pbr["baseColorFactor"], 4, f"{where}.pbrMetallicRoughness.baseColorFactor")
        for key in ("metallicFactor", "roughnessFactor"):
            if key in pbr:
                _number(pbr[key], f"{where}.pbrMetallicRoughness.{key}")
        for key in ("baseColorTexture", "metallicRoughnessTexture"):
            if key in pbr:
                _texture_info(pbr[key], textures, f"{where}.pbrMetallicRoughness.{key}")
        for key in ("normalTexture", "emissiveTexture", "occlusionTexture"):
            if key in mat:
                _texture_info(mat[key], textures, f"{where}.{key}")
        if "emissiveFactor" in mat:
            _numbers(mat["emissiveFactor"], 3, f"{where}.emissiveFactor")
        if "alphaCutoff" in mat:
            _number(mat["alphaCutoff"], f"{where}.alphaCutoff")
        if "alphaMode" in mat and mat["alphaMode"] not in ("OPAQUE", "MASK", "BLEND"):
            raise AssetError(f"{where}.alphaMode: {mat['alphaMode']!r} is not a glTF one")
        if "doubleSided" in mat and not isinstance(mat["doubleSided"], bool):
            raise AssetError(f"{where}.doubleSided: not true or false")


def _texture_info(value: Any, textures: int, where: str) -> None:
    info = _obj(value, where)
    _index(info.get("index"), textures, f"{where}.index")
    if "texCoord" in info and not (_is_int(info["texCoord"]) and 0 <= info["texCoord"] < 8):
        raise AssetError(f"{where}.texCoord: {info['texCoord']!r} is not a set number")
    ext = _opt_obj(info, "extensions", where)
    if "KHR_texture_transform" in ext:
        tw = f"{where}.extensions.KHR_texture_transform"
        tt = _obj(ext["KHR_texture_transform"], tw)
        for key, n in (("offset", 2), ("scale", 2)):
            if key in tt:
                _numbers(tt[key], n, f"{tw}.{key}")
        if "rotation" in tt:
            _number(tt["rotation"], f"{tw}.rotation")
        if "texCoord" in tt and not (_is_int(tt["texCoord"]) and 0 <= tt["texCoord"] < 8):
            raise AssetError(f"{tw}.texCoord: {tt['texCoord']!r} is not a set number")


def _check_textures(
    doc: dict[str, Any], buffers: list[bytes], folder: Path, root: Path, name: str, limits: Limits
) -> None:
    images = _list(doc, "images", name)
    samplers = _list(doc, "samplers", name)
    views = _list(doc, "bufferViews", name)
    for s, sampler in enumerate(samplers):
        for key in ("magFilter", "minFilter", "wrapS", "wrapT"):
            if key in sampler and not _is_int(sampler[key]):
                raise AssetError(f"{name}: samplers[{s}].{key}: {sampler[key]!r} is not a number")
    for t, tex in enumerate(_list(doc, "textures", name)):
        if "source" in tex:
            _index(tex["source"], len(images), f"{name}: textures[{t}].source")
        if "sampler" in tex:
            _index(tex["sampler"], len(samplers), f"{name}: textures[{t}].sampler")
    pixels = 0
    for i, image in enumerate(images):
        where = f"{name}: images[{i}]"
        _opt_str(image, "name", where)
        uri = image.get("uri")
        if uri is not None:
            if not isinstance(uri, str):
                raise AssetError(f"{where}.uri: not a string")
            if uri.startswith("data:"):
                info, _, data = uri.partition(",")
                if uri.count(",") != 1 or not (
                    info.startswith("data:image/") and info.endswith(";base64")
                ):
                    raise AssetError(f"{where}.uri: not a base64 data:image/ URI")
                try:
                    content = base64.b64decode(data, validate=True)
                except ValueError:
                    raise AssetError(f"{where}.uri: bad base64 data") from None
                w, h = image_size(content, f"{where}.uri")
            else:
                # The loader percent-decodes the uri before opening it.
                path = _member(folder, root, urllib.parse.unquote(uri), f"{where}.uri")
                w, h = image_size(path, f"{where}.uri")
        else:
            mime = image.get("mimeType")
            if mime not in ("image/png", "image/jpeg"):
                raise AssetError(f"{where}.mimeType: {mime!r}; need image/png or image/jpeg")
            v = _index(image.get("bufferView"), len(views), f"{where}.bufferView")
            view = views[v]
            if "byteStride" in view:
                raise AssetError(f"{where}: bufferViews[{v}] has a byteStride")
            start = view.get("byteOffset", 0)
            content = buffers[view["buffer"]][start : start + view["byteLength"]]
            w, h = image_size(content, f"{where}.bufferView")
        pixels += w * h
        if pixels > limits.image_pixels:
            raise AssetError(f"{where}: the images hold over {limits.image_pixels >> 20} Mpixels")


def _punctual_lights(doc: dict[str, Any], name: str) -> list[dict[str, Any]]:
    ext = doc.get("extensions", {})
    if not isinstance(ext, dict) or "KHR_lights_punctual" not in ext:
        return []
    where = f"{name}: extensions.KHR_lights_punctual"
    lights = _field_list(_obj(ext["KHR_lights_punctual"], where), "lights", where)
    for i, light in enumerate(lights):
        lw = f"{where}.lights[{i}]"
        _obj(light, lw)
        _opt_str(light, "name", lw)
        if light.get("type") not in ("point", "directional", "spot"):
            raise AssetError(f"{lw}.type: {light.get('type')!r} is not point, directional or spot")
        if "color" in light:
            _numbers(light["color"], 3, f"{lw}.color")
        for key in ("intensity", "range"):
            if key in light:
                _number(light[key], f"{lw}.{key}")
        if light["type"] == "spot":
            spot = _opt_obj(light, "spot", lw)
            for key in ("innerConeAngle", "outerConeAngle"):
                if key in spot:
                    _number(spot[key], f"{lw}.spot.{key}")
            if spot.get("outerConeAngle", 1) <= 0:
                raise AssetError(f"{lw}.spot.outerConeAngle: must be over 0")
    return lights


def _check_top(doc: dict[str, Any], name: str) -> None:
    for key in ("extensionsUsed", "extensionsRequired"):
        values = _field_list(doc, key, f"{name}:")
        if not all(isinstance(v, str) for v in values):
            raise AssetError(f"{name}: {key}: not a list of names")
    for ext in doc.get("extensionsRequired", []):
        if ext not in SUPPORTED_EXTENSIONS:
            raise AssetError(
                f"{name}: extensionsRequired: {ext} is not supported by the loader "
                f"(it reads {', '.join(sorted(SUPPORTED_EXTENSIONS))})"
            )
    ext = _opt_obj(doc, "extensions", f"{name}:")
    if "KHR_lights" in ext:
        raise AssetError(f"{name}: extensions.KHR_lights: draft extension, not supported")
    for key in _TOP_LISTS:
        _list(doc, key, name)
    for c, cam in enumerate(_list(doc, "cameras", name)):
        where = f"{name}: cameras[{c}]"
        _opt_str(cam, "name", where)
        if not isinstance(cam.get("type"), str):
            raise AssetError(f"{where}.type: missing or not a string")
        if cam["type"] == "perspective":
            lens = _obj(cam.get("perspective"), f"{where}.perspective")
            for key in ("yfov", "znear", "zfar", "aspectRatio"):
                if key in lens or key != "aspectRatio":
                    _number(lens.get(key), f"{where}.perspective.{key}")


# What the loader does something with when a file requires it (read from panda3d-gltf 1.3.0's
# Converter); VRM's own extensions are read by immersion.avatars.vrm.
SUPPORTED_EXTENSIONS = frozenset(
    {"KHR_lights_punctual", "KHR_texture_transform", "KHR_materials_ior", "VRMC_vrm", "VRM", DRACO}
)
_UNSUPPORTED_NODE_EXTENSIONS = ("BLENDER_physics", "PANDA3D_physics_collision_shapes", "KHR_lights")
_TOP_LISTS = (
    "accessors", "animations", "buffers", "bufferViews", "cameras", "images", "materials",
    "meshes", "nodes", "samplers", "scenes", "skins", "textures",
)  # fmt: skip
_MODES = (0, 1, 2, 4)  # 2 (line loop) is skipped with a warning; strips and fans fail
_FLOATS = {5126}
_NORMALIZED = {5126, 5121, 5123}
_TARGET = ({"VEC3"}, _FLOATS)


def _attribute_rules(key: str) -> tuple[set[str], set[int]] | None:
    """Accessor types and component types the glTF spec allows for an attribute, or None
    for a semantic the loader cannot name (it fails on custom ``_NAME`` attributes)."""
    semantic, _, n = key.partition("_")
    if n and not (n.isdigit() and n.isascii() and len(n) < 3):
        return None
    rules = {
        "POSITION": ({"VEC3"}, _FLOATS),
        "NORMAL": ({"VEC3"}, _FLOATS),
        "TANGENT": ({"VEC4"}, _FLOATS),
        "TEXCOORD": ({"VEC2"}, _NORMALIZED),
        "COLOR": ({"VEC3", "VEC4"}, _NORMALIZED),
        "JOINTS": ({"VEC4"}, {5121, 5123}),
        "WEIGHTS": ({"VEC4"}, _NORMALIZED),
    }
    if semantic in ("POSITION", "NORMAL", "TANGENT") and n:
        return None
    if semantic in ("TEXCOORD", "COLOR", "JOINTS", "WEIGHTS") and not n:
        return None
    return rules.get(semantic)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _obj(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise AssetError(f"{where}: {_short(value)} is not an object")
    return value


def _join(where: str, key: str) -> str:
    """``where`` is a field (``set.glb: nodes[0]``) or, at the top, the file (``set.glb:``)."""
    return f"{where} {key}" if where.endswith(":") else f"{where}.{key}"


def _opt_obj(parent: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    return _obj(parent[key], _join(where, key)) if key in parent else {}


def _field_list(parent: dict[str, Any], key: str, where: str) -> list[Any]:
    value = parent.get(key, [])
    if not isinstance(value, list):
        raise AssetError(f"{_join(where, key)}: {_short(value)} is not a list")
    return value


def _opt_str(parent: dict[str, Any], key: str, where: str) -> None:
    if key in parent and not isinstance(parent[key], str):
        raise AssetError(f"{where}.{key}: {_short(parent[key])} is not a string")


def _number(value: Any, where: str) -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
        raise AssetError(f"{where}: {_short(value)} is not a finite number")
    return float(value)


def _numbers(value: Any, n: int, where: str) -> None:
    if not isinstance(value, list) or len(value) != n:
        raise AssetError(f"{where}: {_short(value)} is not a list of {n} numbers")
    for v in value:
        _number(v, where)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _member(folder: Path, root: Path, uri: str, where: str) -> Path:
    """A glTF ``uri`` (relative to the glTF's folder) as a file inside ``root``."""
    if uri.startswith("/") or ".." in uri.split("/"):
        raise AssetError(f"{where}: {uri!r} escapes the pack (absolute or '..')")
    prefix = folder.resolve().relative_to(root.resolve()).as_posix()
    return resolve_inside(root, uri if prefix == "." else f"{prefix}/{uri}", where)


def character_joints(doc: dict[str, Any]) -> set[str]:
    """Names of the joints of the character an ``Actor`` takes from this document: the first
    one panda3d-gltf builds in the active scene, walked as its ``add_node`` walks it. Empty
    when the scene has no skinned character. ``doc`` is one :func:`inspect_gltf` accepted."""
    view = loader_json(doc)
    nodes = view.get("nodes", [])
    skins = view.get("skins", [])
    roots = {root: s for s, root in enumerate(skin_roots(view))}
    scenes = view.get("scenes", [])
    if not scenes:
        return set()
    scene = scenes[view.get("scene", 0)]
    extras = scene.get("extras")
    hidden = extras.get("hidden_nodes", []) if isinstance(extras, dict) else []
    stack = list(reversed([*scene["nodes"], *hidden]))
    while stack:
        n = stack.pop()
        node = nodes[n]
        if n in roots and _has_mesh_below(nodes, n):
            return _joint_names(nodes, skins[roots[n]])
        mesh = view["meshes"][node["mesh"]] if "mesh" in node else {}
        if mesh.get("weights") and "skin" not in node and n not in roots:
            return set()  # a morphing mesh of its own comes first
        stack.extend(reversed(node.get("children", [])))
    return set()


def _has_mesh_below(nodes: list[dict[str, Any]], n: int) -> bool:
    stack = [n]
    while stack:
        node = nodes[stack.pop()]
        if "mesh" in node:
            return True
        stack.extend(node.get("children", []))
    return False


def _joint_names(nodes: list[dict[str, Any]], skin: dict[str, Any]) -> set[str]:
    """``Converter.build_character_joints``: every node under the skin's root joints, down to
    (not including) nodes holding a mesh."""
    joints = skin["joints"]
    if "skeleton" in skin:
        stack = [skin["skeleton"]]
    else:
        children = {c for j in joints for c in nodes[j].get("children", [])}
        stack = [j for j in joints if j not in children]
    names = set()
    while stack:
        n = stack.pop()
        if "mesh" in nodes[n]:
            continue
        names.add(nodes[n].get("name", f"bone{n}"))
        stack.extend(nodes[n].get("children", []))
    return names
