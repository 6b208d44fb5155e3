"""The pose model bundles built at set-up."""

from __future__ import annotations

import gzip
import hashlib
import json
import struct
import zipfile
from pathlib import Path

import pytest

from capture.cache import models_dir
from capture.errors import ModelMissingError
from capture.models import (
    MODEL_NAMES,
    _unpack_detector,
    build_bundles,
    bundle_path,
    verify_bundle,
)

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
    assert set(manifest["bundles"]) == set(MODEL_NAMES)
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
