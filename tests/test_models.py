"""The pose model bundles built at set-up."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from capture.cache import models_dir
from capture.errors import ModelMissingError
from capture.models import MODEL_NAMES, bundle_path, verify_bundle


@pytest.mark.parametrize("model", MODEL_NAMES)
def test_bundles_are_aligned_uncompressed_zips_that_load(model: str, lite_bundle: Path) -> None:
    path = bundle_path(model)  # type: ignore[arg-type]
    with zipfile.ZipFile(path) as zf:
        names = sorted(i.filename for i in zf.infolist())
        assert names == ["pose_detector.tflite", "pose_landmarks_detector.tflite"]
        assert all(i.compress_type == zipfile.ZIP_STORED for i in zf.infolist())
    verify_bundle(path)
    manifest = json.loads((models_dir() / "manifest.json").read_text())
    assert set(manifest["bundles"]) == set(MODEL_NAMES)


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
