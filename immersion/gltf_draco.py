"""``KHR_draco_mesh_compression``: Draco-compressed primitives decoded into plain accessors.

Exported sets often compress their meshes with Draco; panda3d-gltf cannot read them. Before any
loader sees the document, :func:`decode_draco` decodes each compressed primitive with DracoPy
(Google's decoder) into a new buffer, points the primitive's accessors at it and drops the
extension, so every later check (and the loader) sees an ordinary glTF. Bounded: the counts the
accessors declare are limited before decoding, and the decoded counts must equal them.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
from numpy.typing import NDArray

from immersion.errors import AssetError

EXTENSION = "KHR_draco_mesh_compression"
_DTYPE = {5120: np.int8, 5121: np.uint8, 5122: np.int16, 5123: np.uint16, 5125: np.uint32, 5126: np.float32}  # fmt: skip
_WIDTH = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4}


def uses_draco(doc: dict[str, Any]) -> bool:
    meshes = doc.get("meshes")
    if not isinstance(meshes, list):
        return False
    return any(
        isinstance(p, dict)
        and isinstance(p.get("extensions"), dict)
        and EXTENSION in p["extensions"]
        for m in meshes
        if isinstance(m, dict) and isinstance(m.get("primitives"), list)
        for p in m["primitives"]
    )


def decode_draco(
    doc: dict[str, Any], buffers: list[bytes], name: str, max_vertices: int, max_indices: int
) -> tuple[dict[str, Any], list[bytes]]:
    """``doc`` and ``buffers`` with every Draco primitive decoded (both are copied, not changed).

    ``buffers`` have been read and their views checked by the caller. Refuses with one line
    naming the extension when DracoPy is missing or the data is bad or over the limits."""
    if not uses_draco(doc):
        return doc, buffers
    try:
        import DracoPy
    except ImportError:
        raise AssetError(
            f"{name}: {EXTENSION}: compressed meshes need the DracoPy package, not installed"
        ) from None
    doc = copy.deepcopy(doc)
    accessors, views = doc.get("accessors", []), doc.get("bufferViews", [])
    out = bytearray()
    filled: set[int] = set()
    vertices = indices = 0
    for m, mesh in enumerate(doc["meshes"]):
        for p, prim in enumerate(mesh.get("primitives", [])):
            ext = prim.get("extensions", {}).get(EXTENSION) if isinstance(prim, dict) else None
            if ext is None:
                continue
            where = f"{name}: meshes[{m}].primitives[{p}].extensions.{EXTENSION}"
            if not isinstance(ext, dict) or not isinstance(ext.get("attributes"), dict):
                raise AssetError(f"{where}: needs an object with 'attributes'")
            attrs = prim.get("attributes")
            if not isinstance(attrs, dict):
                raise AssetError(f"{where}: the primitive has no attributes")
            targets: list[tuple[int, Any]] = []  # (accessor, Draco unique id or None: indices)
            for key, uid in ext["attributes"].items():
                acc: Any = attrs.get(key)
                if not _is_index(acc, len(accessors)):
                    raise AssetError(
                        f"{where}.attributes.{key}: the primitive has no such accessor"
                    )
                if not _is_index(uid, 1 << 16):
                    raise AssetError(
                        f"{where}.attributes.{key}: {uid!r} is not a Draco attribute id"
                    )
                targets.append((int(acc), uid))
            if "indices" in prim:
                if not _is_index(prim["indices"], len(accessors)):
                    raise AssetError(f"{where}: the primitive's indices accessor does not exist")
                targets.append((prim["indices"], None))
            declared = _count(accessors, attrs.get("POSITION"), f"{where}: POSITION")
            vertices += declared
            if "indices" in prim:
                indices += _count(accessors, prim["indices"], f"{where}: indices")
            if vertices > max_vertices or indices > max_indices:
                raise AssetError(
                    f"{where}: the compressed meshes declare over {max_vertices} vertices or "
                    f"{max_indices} indices, over the limit"
                )
            view = ext.get("bufferView")
            if not _is_index(view, len(views)):
                raise AssetError(f"{where}.bufferView: {view!r} is not a bufferView")
            v = views[view]
            start = v.get("byteOffset", 0)
            data = buffers[v["buffer"]][start : start + v["byteLength"]]
            try:
                decoded = DracoPy.decode(data)
            except Exception as exc:  # the decoder's own kinds: bad data is one line
                raise AssetError(f"{where}: not Draco data DracoPy can decode ({exc})") from None
            faces = getattr(decoded, "faces", None)
            for acc, uid in targets:
                a = accessors[acc]
                if acc in filled:
                    raise AssetError(f"{where}: accessors[{acc}] is filled by two Draco primitives")
                if a.get("componentType") not in _DTYPE or a.get("type") not in _WIDTH:
                    raise AssetError(f"{where}: accessors[{acc}] is no vertex or index accessor")
                if uid is None:
                    if faces is None:
                        raise AssetError(f"{where}: the Draco data is a point cloud, not a mesh")
                    values: NDArray[Any] = np.asarray(faces).reshape(-1)
                else:
                    found = decoded.get_attribute_by_unique_id(uid)
                    if found is None:
                        raise AssetError(f"{where}: no Draco attribute with id {uid}")
                    values = np.asarray(found["data"])
                width = _WIDTH[a["type"]]
                cols = 1 if uid is None or values.ndim < 2 else int(values.shape[1])
                rows = values.size // max(cols, 1)
                if rows != a.get("count") or cols != (1 if uid is None else width):
                    raise AssetError(
                        f"{where}: accessors[{acc}] declares {a.get('count')} x {width}, the Draco "
                        f"data holds {rows} x {cols}"
                    )
                raw = np.ascontiguousarray(values, dtype=_DTYPE[a["componentType"]]).tobytes()
                while len(out) % 4:
                    out.append(0)
                views.append(
                    {"buffer": len(buffers), "byteOffset": len(out), "byteLength": len(raw)}
                )
                out += raw
                a["bufferView"] = len(views) - 1
                a.pop("byteOffset", None)
                filled.add(acc)
            del prim["extensions"][EXTENSION]
    doc["bufferViews"] = views
    doc["buffers"] = [*doc.get("buffers", []), {"byteLength": len(out)}]
    for key in ("extensionsUsed", "extensionsRequired"):
        if isinstance(doc.get(key), list):
            doc[key] = [e for e in doc[key] if e != EXTENSION]
    return doc, [*buffers, bytes(out)]


def _is_index(value: Any, size: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < size


def _count(accessors: list[dict[str, Any]], acc: Any, where: str) -> int:
    if not _is_index(acc, len(accessors)):
        raise AssetError(f"{where}: no such accessor")
    count = accessors[acc].get("count")
    if not isinstance(count, int) or isinstance(count, bool) or count < 0:
        raise AssetError(f"{where}: accessors[{acc}].count is not a count")
    return count
