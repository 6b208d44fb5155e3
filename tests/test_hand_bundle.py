"""The hand landmarker bundle built at set-up from the pinned @mediapipe/hands package."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import zipfile
from pathlib import Path

import pytest

from capture.cache import models_dir
from capture.errors import ModelMissingError
from capture.models import (
    _read_members,
    _unpack,
    build_hand_bundle,
    hand_bundle_path,
    verify_hand_bundle,
)
from tests.support import need
from tests.test_models import _data_offsets


def test_the_hand_bundle_is_an_aligned_uncompressed_zip_that_loads() -> None:
    path = need(models_dir() / "hand_landmarker.task")
    assert hand_bundle_path() == path
    raw = path.read_bytes()
    with zipfile.ZipFile(path) as zf:
        names = sorted(i.filename for i in zf.infolist())
        assert names == ["hand_detector.tflite", "hand_landmarks_detector.tflite"]
        assert all(i.compress_type == zipfile.ZIP_STORED for i in zf.infolist())
        for name, offset in _data_offsets(path).items():
            member = zf.read(name)
            assert raw[offset : offset + len(member)] == member, name
            assert member[4:8] == b"TFL3", name
            assert offset % 4 == 0, f"{name} starts at {offset}, not 4-byte aligned"
            # The metadata added says how to normalise the picture; the weights are untouched.
            assert b"TFLITE_METADATA" in member, name
    verify_hand_bundle(path)
    manifest = json.loads((models_dir() / "manifest.json").read_text())
    assert manifest["bundles"]["hand"] == hashlib.sha256(raw).hexdigest()


@pytest.mark.pure
def test_a_missing_hand_bundle_says_how_to_fix_it(tmp_path: Path) -> None:
    with pytest.raises(ModelMissingError, match=r"hand model bundle .* run `./dev setup`"):
        hand_bundle_path(tmp_path)


def test_a_corrupt_hand_bundle_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "hand_landmarker.task"
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(ModelMissingError, match="does not load in HandLandmarker"):
        verify_hand_bundle(bad)


@pytest.mark.pure
def test_a_tarball_other_than_the_pinned_one_is_refused(tmp_path: Path) -> None:
    other = tmp_path / "hands.tgz"
    other.write_bytes(b"not the package")
    with pytest.raises(ModelMissingError, match=r"hands.tgz: SHA-256 .* is not that of"):
        build_hand_bundle(tmp_path / "out", npm_tarball=other)
    with pytest.raises(ModelMissingError, match=r"gone.tgz: cannot be read"):
        build_hand_bundle(tmp_path / "out", npm_tarball=tmp_path / "gone.tgz")
    assert not (tmp_path / "out" / "hand_landmarker.task").exists()


@pytest.mark.pure
def test_a_package_without_the_hand_models_is_refused(tmp_path: Path) -> None:
    tarball = tmp_path / "hands.tgz"
    with tarfile.open(tarball, "w:gz") as tar:
        data = b"{}"
        info = tarfile.TarInfo("package/hand_landmark_full.tflite")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    wanted = {"hand_landmark_full.tflite", "hands_solution_packed_assets.data"}
    with pytest.raises(ModelMissingError, match=r"missing \['hands_solution_packed_assets.data'\]"):
        _read_members(tarball, wanted)


@pytest.mark.pure
def test_the_palm_detector_is_cut_where_the_loader_says() -> None:
    loader = (
        b'{"files": [{"filename": "/x/handedness.txt", "start": 0, "end": 3}, '
        b'{"filename": "/y/palm_detection_full.tflite", "start": 3, "end": 7}]}'
    )
    files = {"p_loader.js": loader, "p.data": b"abcDEFGhij"}
    assert _unpack(files, "p", "palm_detection_full.tflite") == b"DEFG"
    with pytest.raises(ModelMissingError, match=r"palm_detection_lite\.tflite is not listed"):
        _unpack(files, "p", "palm_detection_lite.tflite")
