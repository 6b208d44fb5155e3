"""The OpenXR runtime the headset tests run against: Monado, built by the set-up, answers.

No headset is attached here; Monado's simulated HMD and null compositor stand in for one, as a
real runtime (not a mock) driven through pyopenxr with Khronos' core validation layer on.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from capture.cache import cache_dir

PROBE = r"""
import json, xr
names = [e.extension_name for e in xr.enumerate_instance_extension_properties()]
names = [n.decode() if isinstance(n, bytes) else n for n in names]
instance = xr.create_instance(xr.InstanceCreateInfo())
try:
    runtime = xr.get_instance_properties(instance).runtime_name.decode()
    system = xr.get_system(instance, xr.SystemGetInfo(form_factor=xr.FormFactor.HEAD_MOUNTED_DISPLAY))
    name = xr.get_system_properties(instance, system).system_name.decode()
    views = xr.enumerate_view_configuration_views(
        instance, system, xr.ViewConfigurationType.PRIMARY_STEREO
    )
    sizes = [[v.recommended_image_rect_width, v.recommended_image_rect_height] for v in views]
finally:
    xr.destroy_instance(instance)  # runtimes crash at process exit otherwise
print(json.dumps({"runtime": runtime, "system": name, "views": sizes, "extensions": names}))
"""


def test_monado_runs_here_with_a_simulated_headset() -> None:
    runtime = cache_dir() / "monado-25.0.0" / "build" / "openxr_monado-dev.json"
    assert runtime.is_file(), f"{runtime} is missing; run ./dev setup"
    env = {
        **os.environ,
        "XR_RUNTIME_JSON": str(runtime),
        "XRT_COMPOSITOR_NULL": "1",
        "XR_ENABLE_API_LAYERS": "XR_APILAYER_LUNARG_core_validation",
    }
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60, env=env
    )
    assert done.returncode == 0, done.stderr[-2000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["runtime"].startswith("Monado")
    assert "Simulated HMD" in found["system"]
    assert len(found["views"]) == 2 and all(w > 0 and h > 0 for w, h in found["views"])
    assert "XR_MNDX_egl_enable" in found["extensions"]  # headless GL binding for the tests
    # The validation layer (it writes to stdout) was really on, and found nothing wrong.
    assert "Core Validation Layer is initialized" in done.stdout
    assert "VALID_ERROR" not in done.stdout + done.stderr, done.stdout[-2000:]
