"""Scene packs: a folder (or .zip) holding ``scene.toml`` and the set's assets.

The manifest is TOML a designer writes by hand; ``scene-pack.schema.json`` beside this module
is its JSON Schema. :func:`validate_pack` returns every problem at once, each as
``file: field: what is wrong``; :func:`load_pack` returns a :class:`ScenePack` or raises
:class:`PackError` with that list. Units: metres and degrees, Y up, the audience at +Z.
"""

from __future__ import annotations

import json
import math
import tomllib
from dataclasses import dataclass, replace
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

from jsonschema import Draft202012Validator, ValidationError, validators

from immersion.errors import AssetError, PackError
from immersion.gltf_guard import inspect_gltf
from immersion.safe_files import image_size, read_bounded, resolve_inside
from immersion.scenes.unzip import open_pack_folder
from immersion.stage.backdrop_map import DEFAULT_SPAN, EQUIRECT_ASPECT, default_mapping
from immersion.stage.materials import material_warnings

MANIFEST = "scene.toml"
MAX_MANIFEST_BYTES = 1 << 20
Vec3 = tuple[float, float, float]
_N = TypeVar("_N", "Mark", "CameraPreset")


@dataclass(frozen=True)
class Placed:
    """A model placed on the set: ``rotation`` in degrees about X, Y, Z (yaw applied last)."""

    name: str
    file: Path
    position: Vec3
    rotation: Vec3
    scale: float
    seen_by: str = "both"  # both | eyes (the actor's, in the headset) | mirror (the cameras')


@dataclass(frozen=True)
class Light:
    type: str
    colour: str
    intensity: float
    position: Vec3 | None
    direction: Vec3 | None
    range: float | None
    angle: float | None
    shadows: bool


@dataclass(frozen=True)
class Mark:
    """Where the avatar stands: ``position`` [x, z] on the floor, ``facing`` in degrees
    (0 faces +Z, the audience; 90 faces +X)."""

    name: str
    position: tuple[float, float]
    facing: float


@dataclass(frozen=True)
class CameraPreset:
    name: str
    position: Vec3
    look_at: Vec3
    fov: float  # vertical, degrees


@dataclass(frozen=True)
class Backdrop:
    type: str  # colour | gradient | image
    top: str
    bottom: str
    image: Path | None
    mapping: str = "card"  # an image's: equirectangular (round the sky) | card (into the set)
    span: float = DEFAULT_SPAN  # a card's width, in degrees of view
    aspect: float = 1.0  # the image's width / height


@dataclass(frozen=True)
class ScenePack:
    root: Path
    name: str
    title: str
    production: str
    mood: str
    floor_size: tuple[float, float]
    floor_centre: tuple[float, float]
    backdrop: Backdrop
    geometry: tuple[Placed, ...]
    props: tuple[Placed, ...]
    lights: tuple[Light, ...]
    marks: tuple[Mark, ...]
    cameras: tuple[CameraPreset, ...]
    sound: Path | None
    # What the stage will not render (material features), one line each: warnings, not errors.
    warnings: tuple[str, ...] = ()

    def mark(self, name: str | None = None) -> Mark:
        return _named(self.marks, name, f"{self.name}: no mark", "marks")

    def camera(self, name: str | None = None) -> CameraPreset:
        return _named(self.cameras, name, f"{self.name}: no camera preset", "presets")


def _named(items: tuple[_N, ...], name: str | None, missing: str, plural: str) -> _N:
    """The item called ``name``, or the first when ``name`` is None."""
    if name is None:
        return items[0]
    for item in items:
        if item.name == name:
            return item
    raise PackError([f"{missing} {name!r} ({plural}: {', '.join(i.name for i in items)})"])


@cache
def schema() -> dict[str, Any]:
    text = resources.files("immersion.scenes").joinpath("scene-pack.schema.json").read_text()
    doc: dict[str, Any] = json.loads(text)
    return doc


def validate_pack(path: Path) -> list[str]:
    """Every problem with the pack at ``path`` (folder, .zip or scene.toml); [] when valid."""
    try:
        _load(path)
    except PackError as exc:
        return exc.problems
    return []


def load_pack(path: Path) -> ScenePack:
    return _load(path)


def _load(path: Path) -> ScenePack:
    try:
        root = open_pack_folder(path)
    except AssetError as exc:
        raise PackError([str(exc)]) from None
    where = f"{path}/{MANIFEST}" if root == path else f"{path}:{MANIFEST}"
    manifest = root / MANIFEST
    if not manifest.is_file():
        raise PackError([f"{where}: missing (a pack needs a {MANIFEST})"])
    try:
        data = tomllib.loads(read_bounded(manifest, MAX_MANIFEST_BYTES, where).decode("utf-8"))
        errors = _schema_errors(data)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise PackError([f"{where}: not valid TOML ({exc})"]) from None
    except RecursionError:  # arrays in arrays, a thousand deep
        raise PackError([f"{where}: nested too deeply to be a scene manifest"]) from None
    except AssetError as exc:
        raise PackError([str(exc)]) from None

    problems = [f"{where}: {msg}" for msg in _schema_problems(errors)]
    # The checks below assume the schema's shape, so they run over what passed it: a designer
    # sees a wrong type and a missing file in one run, not one after the other.
    checker = _Checker(root, where)
    pack = checker.build(
        _without_errors(data, errors) if errors else data,
        name=path.stem if path.suffix in (".zip", ".toml") else path.name,
    )
    if problems or checker.problems:
        raise PackError(problems + checker.problems)
    return pack


def _finite_number(checker: Any, value: Any) -> bool:
    # TOML has nan and inf literals; JSON Schema's "number" would let them through (nan even
    # passes every minimum and maximum), and the stage's maths cannot use them.
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


_Validator = validators.extend(
    Draft202012Validator,
    type_checker=Draft202012Validator.TYPE_CHECKER.redefine("number", _finite_number),
)


def _schema_errors(data: dict[str, Any]) -> list[ValidationError]:
    validator = _Validator(schema())
    return sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.absolute_path)))


# Stand-ins for sections the schema refused, chosen so they raise no problems of their own.
_SAFE_SECTIONS: dict[str, Any] = {
    "pack": {"title": "", "production": "", "format": 1},
    "floor": {"size": [1e9, 1e9]},  # no mark can be off a floor we could not read
    "backdrop": {"type": "colour"},
}
_LISTS = ("geometry", "props", "lights", "marks", "cameras")


def _without_errors(data: dict[str, Any], errors: list[ValidationError]) -> dict[str, Any]:
    """``data`` less what the schema refused: list items with an error are dropped, objects
    with one replaced by a harmless stand-in. Never changes ``data`` itself."""
    bad_items: dict[str, set[int]] = {key: set() for key in _LISTS}
    bad_sections: set[str] = set()
    for err in errors:
        path = list(err.absolute_path)
        if not path:  # top level: a missing section or an unknown key
            if err.validator == "required":
                bad_sections.update(k for k in (*_SAFE_SECTIONS, *_LISTS) if k not in data)
            continue
        key = str(path[0])
        if key in _LISTS and len(path) > 1 and isinstance(path[1], int):
            bad_items[key].add(path[1])
        elif err.validator not in ("minItems", "maxItems"):
            bad_sections.add(key)
    out = {k: v for k, v in data.items() if k not in bad_sections}
    for key in _LISTS:
        items = out.get(key, [])
        out[key] = (
            [v for i, v in enumerate(items) if i not in bad_items[key]]
            if isinstance(items, list)
            else []
        )
    for key, safe in _SAFE_SECTIONS.items():
        out.setdefault(key, safe)
    return out


def _schema_problems(errors: list[ValidationError]) -> list[str]:
    out = []
    for err in errors:
        field = _field(list(err.absolute_path))
        if err.validator == "additionalProperties":
            extra = sorted(set(err.instance) - set(err.schema.get("properties", {})))
            for key in extra:
                out.append(f"{_field([*err.absolute_path, key])}: unknown key")
        elif isinstance(err.instance, float) and not math.isfinite(err.instance):
            out.append(f"{field}: {err.instance} is not a finite number")
        else:
            out.append(f"{field or '(top level)'}: {err.message}")
    return out


def _field(parts: list[Any]) -> str:
    text = ""
    for p in parts:
        text += f"[{p}]" if isinstance(p, int) else (f".{p}" if text else str(p))
    return text


def _vec3(v: list[float]) -> Vec3:
    return (float(v[0]), float(v[1]), float(v[2]))


class _Checker:
    """Checks the schema cannot express: files inside the pack and parseable, marks on the
    floor, unique names. Collects every problem instead of stopping at the first."""

    def __init__(self, root: Path, where: str) -> None:
        self.root = root
        self.where = where
        self.problems: list[str] = []
        self.warnings: list[str] = []

    def fail(self, field: str, message: str) -> None:
        self.problems.append(f"{self.where}: {field}: {message}")

    def asset(self, field: str, name: str, kinds: tuple[str, ...]) -> Path | None:
        try:
            path = resolve_inside(self.root, name, field)
        except AssetError as exc:
            self.problems.append(f"{self.where}: {exc}")
            return None
        if path.suffix.lower() not in kinds:
            self.fail(field, f"{name!r} is not one of {', '.join(kinds)}")
            return None
        try:
            if path.suffix.lower() in (".glb", ".gltf"):
                doc = inspect_gltf(path, self.root)
                self.warnings += [
                    f"{self.where}: {field}: {name}: {w}" for w in material_warnings(doc.json)
                ]
            else:
                _check_magic(path, field)
        except AssetError as exc:
            self.fail(field, str(exc))
            return None
        return path

    def image_mapping(self, bd: dict[str, Any], backdrop: Backdrop) -> Backdrop:
        """How an image backdrop lies round the set (by default: a 2:1 image is a panorama,
        any other a card); ``mapping`` and ``span`` belong to an image only."""
        for field in ("mapping", "span"):
            if field in bd and bd["type"] != "image":
                self.fail(
                    f"backdrop.{field}", f"only an image backdrop has one, not a {bd['type']}"
                )
        if backdrop.image is None:
            return backdrop
        try:
            width, height = image_size(backdrop.image, "backdrop.image")
        except AssetError:
            return backdrop  # already reported by the asset check
        mapping = bd.get("mapping", default_mapping(width, height))
        lo, hi = EQUIRECT_ASPECT
        if mapping == "equirectangular" and not lo <= width / height <= hi:
            self.fail(
                "backdrop.image",
                f"{backdrop.image.name} is {width}x{height}; an equirectangular image is twice "
                'as wide as it is high (or say mapping = "card")',
            )
        if "span" in bd and mapping != "card":
            self.fail("backdrop.span", "only a card has a span, not an equirectangular image")
        return replace(
            backdrop,
            mapping=mapping,
            span=float(bd.get("span", DEFAULT_SPAN)),
            aspect=width / height,
        )

    def build(self, data: dict[str, Any], name: str) -> ScenePack:
        floor = data["floor"]
        size = (float(floor["size"][0]), float(floor["size"][1]))
        centre = (float(floor.get("centre", [0, 0])[0]), float(floor.get("centre", [0, 0])[1]))

        bd = data["backdrop"]
        image = (
            self.asset("backdrop.image", bd["image"], (".png", ".jpg", ".jpeg"))
            if bd["type"] == "image"
            else None
        )
        colour = bd.get("colour", "#000000")
        backdrop = Backdrop(bd["type"], bd.get("top", colour), bd.get("bottom", colour), image)
        backdrop = self.image_mapping(bd, backdrop)

        def placed(key: str) -> tuple[Placed, ...]:
            out = []
            for i, item in enumerate(data.get(key, [])):
                path = self.asset(f"{key}[{i}].file", item["file"], (".glb", ".gltf", ".obj"))
                if path is not None:
                    out.append(
                        Placed(
                            item.get("name", Path(item["file"]).stem),
                            path,
                            _vec3(item.get("position", [0, 0, 0])),
                            _vec3(item.get("rotation", [0, 0, 0])),
                            float(item.get("scale", 1.0)),
                            item.get("seen_by", "both"),
                        )
                    )
            return tuple(out)

        lights = []
        for i, li in enumerate(data["lights"]):
            direction = li.get("direction")
            if direction is not None and math.hypot(*direction) < 1e-6:
                self.fail(f"lights[{i}].direction", "must not be [0, 0, 0]")
            lights.append(
                Light(
                    li["type"],
                    li["colour"],
                    float(li["intensity"]),
                    _vec3(li["position"]) if "position" in li else None,
                    _vec3(direction) if direction is not None else None,
                    float(li["range"]) if "range" in li else None,
                    float(li["angle"]) if "angle" in li else None,
                    bool(li.get("shadows", False)),
                )
            )
        if sum(li.shadows for li in lights) > 1:
            self.fail("lights", "only one light may cast shadows")

        marks = []
        for i, m in enumerate(data["marks"]):
            x, z = float(m["position"][0]), float(m["position"][1])
            if abs(x - centre[0]) > size[0] / 2 or abs(z - centre[1]) > size[1] / 2:
                self.fail(
                    f"marks[{i}].position",
                    f"[{x:g}, {z:g}] is outside the floor ({size[0]:g} x {size[1]:g} m around [{centre[0]:g}, {centre[1]:g}])",
                )
            marks.append(Mark(m["name"], (x, z), float(m.get("facing", 0.0))))

        cameras = []
        for i, c in enumerate(data["cameras"]):
            if math.dist(c["position"], c["look_at"]) < 1e-3:
                self.fail(f"cameras[{i}].look_at", "is the camera's own position")
            cameras.append(
                CameraPreset(
                    c["name"], _vec3(c["position"]), _vec3(c["look_at"]), float(c.get("fov", 45.0))
                )
            )

        for key, names in (
            ("marks", [m.name for m in marks]),
            ("cameras", [c.name for c in cameras]),
        ):
            seen: set[str] = set()
            for i, item in enumerate(names):
                if item in seen:
                    self.fail(f"{key}[{i}].name", f"{item!r} is used twice")
                seen.add(item)

        sound = (
            self.asset("sound.file", data["sound"]["file"], (".ogg", ".wav"))
            if "sound" in data
            else None
        )
        p = data["pack"]
        return ScenePack(
            root=self.root,
            name=name,
            title=p["title"],
            production=p["production"],
            mood=p.get("mood", ""),
            floor_size=size,
            floor_centre=centre,
            backdrop=backdrop,
            geometry=placed("geometry"),
            props=placed("props"),
            lights=tuple(lights),
            marks=tuple(marks),
            cameras=tuple(cameras),
            sound=sound,
            warnings=tuple(self.warnings),
        )


_MAGIC = {
    ".png": (b"\x89PNG\r\n\x1a\n",),
    ".jpg": (b"\xff\xd8\xff",),
    ".jpeg": (b"\xff\xd8\xff",),
    ".ogg": (b"OggS",),
    ".wav": (b"RIFF",),
}


def _check_magic(path: Path, field: str) -> None:
    """Images, sounds and OBJ files: the right kind of file, within the size limit."""
    head = read_bounded(path, 256 << 20, field)[:4096]
    suffix = path.suffix.lower()
    if suffix == ".obj":
        try:
            head.decode("utf-8")
        except UnicodeDecodeError:
            raise AssetError(f"{path.name} is not a text OBJ file") from None
        return
    if not head.startswith(_MAGIC[suffix]):
        raise AssetError(f"{path.name} is not a {suffix[1:].upper()} file")
    if suffix in (".png", ".jpg", ".jpeg"):
        image_size(path, path.name)
