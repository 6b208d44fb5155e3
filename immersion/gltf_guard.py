"""Check a glTF/GLB before any loader touches it: bounded sizes, paths inside the pack.

panda3d-gltf trusts its input: it opens any ``uri`` it is given, allocates whatever
``byteLength`` claims, and recurses through the node tree. :func:`inspect_gltf` reads the file
itself with bounds, checks every reference, and hands back the parsed document plus the buffer
bytes, so that the loader reads nothing more from disk except images already checked.
"""

from __future__ import annotations

import base64
import json
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from immersion.errors import AssetError
from immersion.safe_files import MAX_FILE_BYTES, read_bounded, resolve_inside


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
    _check_counts(doc, name, limits)
    buffers = _load_buffers(doc, glb_bin, path.parent, root, name, limits)
    _check_views_and_accessors(doc, buffers, name)
    _check_nodes(doc, name, limits)
    _check_images(doc, path.parent, root, name)
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
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < size:
        raise AssetError(f"{where}: index {value!r} out of range (0..{size - 1})")
    return value


def _length(value: Any, where: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise AssetError(f"{where}: {value!r} is not a byte count")
    return value


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
            target = _member(folder, root, uri, f"{where}.uri")
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
    for i, acc in enumerate(_list(doc, "accessors", name)):
        where = f"{name}: accessors[{i}]"
        count = _length(acc.get("count"), f"{where}.count")
        comp = _COMPONENT_BYTES.get(acc.get("componentType"))
        width = _TYPE_COUNT.get(acc.get("type"))
        if comp is None or width is None:
            raise AssetError(f"{where}: unknown componentType/type")
        if "sparse" in acc:
            raise AssetError(f"{where}: sparse accessors are not supported")
        if "bufferView" not in acc:
            continue
        view = views[_index(acc["bufferView"], len(views), f"{where}.bufferView")]
        stride = view.get("byteStride") or comp * width
        start = _length(acc.get("byteOffset", 0), f"{where}.byteOffset")
        need = start + (stride * (count - 1) + comp * width if count else 0)
        if need > view["byteLength"]:
            raise AssetError(
                f"{where}: {count} elements need {need} bytes, the view has {view['byteLength']}"
            )


def _check_nodes(doc: dict[str, Any], name: str, limits: Limits) -> None:
    nodes = _list(doc, "nodes", name)
    meshes = len(_list(doc, "meshes", name))
    skins = len(_list(doc, "skins", name))
    parent: dict[int, int] = {}
    for i, node in enumerate(nodes):
        where = f"{name}: nodes[{i}]"
        children = node.get("children", [])
        if not isinstance(children, list):
            raise AssetError(f"{where}.children: not a list")
        for c in children:
            c = _index(c, len(nodes), f"{where}.children")
            if c in parent:
                raise AssetError(f"{where}.children: node {c} has two parents")
            parent[c] = i
        if "mesh" in node:
            _index(node["mesh"], meshes, f"{where}.mesh")
        if "skin" in node:
            _index(node["skin"], skins, f"{where}.skin")
    for i in range(len(nodes)):  # depth and cycles, without recursion
        depth, n = 0, i
        while n in parent:
            n = parent[n]
            depth += 1
            if depth > limits.depth:
                raise AssetError(
                    f"{name}: nodes[{i}] is nested deeper than {limits.depth} (or in a cycle)"
                )
    for s, scene in enumerate(_list(doc, "scenes", name)):
        for n in scene.get("nodes", []):
            _index(n, len(nodes), f"{name}: scenes[{s}].nodes")


def _check_images(doc: dict[str, Any], folder: Path, root: Path, name: str) -> None:
    for i, image in enumerate(_list(doc, "images", name)):
        uri = image.get("uri")
        if uri is None or (isinstance(uri, str) and uri.startswith("data:")):
            continue
        if not isinstance(uri, str):
            raise AssetError(f"{name}: images[{i}].uri: not a string")
        _member(folder, root, uri, f"{name}: images[{i}].uri")


def _member(folder: Path, root: Path, uri: str, where: str) -> Path:
    """A glTF ``uri`` (relative to the glTF's folder) as a file inside ``root``."""
    if uri.startswith("/") or ".." in uri.split("/"):
        raise AssetError(f"{where}: {uri!r} escapes the pack (absolute or '..')")
    prefix = folder.resolve().relative_to(root.resolve()).as_posix()
    return resolve_inside(root, uri if prefix == "." else f"{prefix}/{uri}", where)
