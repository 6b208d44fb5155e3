"""The headset, against a real OpenXR runtime: Monado (built at set-up) with a simulated HMD.

No headset is attached to these machines; Monado's simulated HMD and null compositor stand in
for one. Everything else is real: the OpenXR loader, Monado's session and swapchains, Khronos'
core validation layer (its errors fail the test), Panda3D's own GL context shared with the
runtime over EGL, and the room's ``serve --headset`` process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from capture.cache import cache_dir
from tests.conftest import ROOT

RUNTIME = cache_dir() / "monado-25.0.0" / "build" / "openxr_monado-dev.json"


def monado_env(**more: str) -> dict[str, str]:
    assert RUNTIME.is_file(), f"{RUNTIME} is missing; run ./dev setup"
    return {
        **os.environ,
        "XR_RUNTIME_JSON": str(RUNTIME),
        "XRT_COMPOSITOR_NULL": "1",
        "XR_ENABLE_API_LAYERS": "XR_APILAYER_LUNARG_core_validation",
        "PYTHONWARNINGS": "ignore",
        **more,
    }


def probe(pack: str, *args: str, **env: str) -> tuple[dict[str, Any], str]:
    done = subprocess.run(
        [sys.executable, "-m", "tests.headset_probe", pack, *args],
        capture_output=True, text=True, timeout=120, cwd=ROOT, env=monado_env(**env),
    )  # fmt: skip
    log = done.stdout + done.stderr
    assert done.returncode == 0, log[-3000:]  # a crash at exit shows here
    assert "VALID_ERROR" not in log, log[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1]), log


@pytest.fixture(scope="module")
def noir(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    out = tmp_path_factory.mktemp("eyes")
    report, log = probe("noir-office", "--seconds", "2.5", "--save", str(out))
    assert "Core Validation Layer is initialized" in log  # the layer was really on
    return report, out


def test_the_session_runs_its_whole_lifecycle_and_exits_cleanly(noir: Any) -> None:
    report, _ = noir
    assert report["system"] == "Monado: Simulated HMD"
    assert report["binding"] == "egl" and report["space"] == "STAGE"
    # READY..FOCUSED come and go within the first frames; what matters is that they came,
    # and that request-exit then ran the session down through STOPPING to EXITING.
    for state in ("READY", "SYNCHRONIZED", "VISIBLE", "FOCUSED", "STOPPING", "IDLE", "EXITING"):
        assert state in report["states"], report["states"]
    assert len(report["eyeMeans"]) >= 10  # frames were drawn (Monado paces at ~20 Hz)


def test_both_eyes_swapchain_images_hold_the_set(noir: Any) -> None:
    report, out = noir
    # Read back from the runtime's own images, they match an ordinary offscreen render of
    # the same camera, and they are a picture, not a clear colour.
    assert max(report["diffToReference"]) < 1.0, report["diffToReference"][:5]
    assert min(std for pair in report["eyeStd"] for std in pair) > 5  # a clear colour is 0
    assert min(mean for pair in report["eyeMeans"] for mean in pair) > 10
    # Two eyes 63 mm apart see slightly different pictures of the same set.
    left, right = (np.asarray(_png(out / f"eye-{s}.png"), np.float64) for s in ("left", "right"))
    assert 1.0 < np.abs(left - right).mean() < 40
    assert left.shape == right.shape == (240, 320, 3)


def test_eye_separation_and_head_height_come_from_the_runtime(noir: Any) -> None:
    report, _ = noir
    ipd = np.array(report["ipd"])
    height = np.array(report["eyeHeight"])
    assert np.all((ipd > 0.05) & (ipd < 0.08)), ipd  # Monado's simulated IPD is 63 mm
    # The simulated head wobbles around 1.6 m above the STAGE floor: ranges, not poses.
    assert np.all((height > 1.4) & (height < 1.8)), height
    assert height.std() > 1e-4  # it is really tracked, not a constant


def _png(path: Path) -> Any:
    from PIL import Image

    return Image.open(path).convert("RGB")
