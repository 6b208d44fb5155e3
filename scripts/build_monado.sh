#!/usr/bin/env bash
# Monado (BSL-1.0), the open-source OpenXR runtime, for the headset tests: built once from
# Debian's source package, in-process (no service), with two drivers and the null compositor
# (which needs Vulkan: Mesa's lavapipe serves, on CPU). The simulated driver gives a wobbling
# HMD and still controllers; the remote driver takes head and controller state, buttons
# included, over a loopback socket, which is how the tests press "ready" on a controller.
# No runtime is packaged for this Debian release, so the source comes from the next one
# (trixie) through a private apt configuration that holds nothing but that deb-src entry:
# no trixie binaries ever reach this machine. Cached under $CACHE/monado-<version>.
#
#   scripts/build_monado.sh        (run by scripts/setup.sh; prints the runtime's JSON path)
set -euo pipefail

VERSION=25.0.0
RECIPE=2  # bump when the configure flags change: a new recipe rebuilds
DEBIAN_VERSION="$VERSION+dfsg-2"
CACHE="${IMMERSION_CACHE:-$HOME/.cache/immersion}"
OUT="$CACHE/monado-$VERSION"
source "$(dirname "$0")/lib.sh"

if [ -f "$OUT/.built-$RECIPE" ]; then
  echo "$OUT/build/openxr_monado-dev.json"
  exit 0
fi

deps=(cmake ninja-build pkg-config build-essential glslang-tools libvulkan-dev libeigen3-dev
  libcjson-dev libgl-dev libegl-dev libglvnd-dev libx11-dev libx11-xcb-dev libxcb-randr0-dev
  libxrandr-dev libbsd-dev libudev-dev mesa-vulkan-drivers libgl1-mesa-dri libegl-mesa0 xz-utils)
mapfile -t missing < <(missing_debs "${deps[@]}")
apt_install "Monado's build dependencies" "${missing[@]}"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
tarball="$CACHE/downloads/monado_$VERSION+dfsg.orig.tar.xz"
if [ ! -f "$tarball" ]; then
  say "fetching Monado $VERSION's source (Debian's monado $DEBIAN_VERSION)"
  # The machine's own Debian mirror, read from its sources, with trixie's source index only.
  mirror="$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)"
  [ -n "$mirror" ] || mirror="$(awk '$1 == "deb" {print $2; exit}' /etc/apt/sources.list)"
  mkdir -p "$work/apt/lists/partial" "$work/apt/archives/partial" "$work/src" "$CACHE/downloads"
  echo "deb-src $mirror trixie main" >"$work/apt/sources.list"
  cat >"$work/apt.conf" <<EOF
Dir::Etc::SourceList "$work/apt/sources.list";
Dir::Etc::SourceParts "/nonexistent";
Dir::State::Lists "$work/apt/lists";
Dir::Cache::Archives "$work/apt/archives";
APT::Sandbox::User "root";
EOF
  APT_CONFIG="$work/apt.conf" apt-get update -qq
  (cd "$work/src" && APT_CONFIG="$work/apt.conf" apt-get source -qq --tar-only "monado=$DEBIAN_VERSION")
  mv "$work/src/monado_$VERSION+dfsg.orig.tar.xz" "$tarball"
fi

say "building Monado $VERSION into $OUT (about 2 minutes on 2 cores, once)"
rm -rf "$OUT"
mkdir -p "$OUT"
tar -xf "$tarball" -C "$OUT"
mv "$OUT"/monado-* "$OUT/src"
cmake -S "$OUT/src" -B "$OUT/build" -G Ninja -Wno-dev \
  -DCMAKE_BUILD_TYPE=Release \
  -DBUILD_TESTING=OFF \
  -DXRT_FEATURE_SERVICE=OFF \
  -DXRT_MODULE_IPC=OFF \
  -DXRT_MODULE_MONADO_CLI=OFF \
  -DXRT_MODULE_MONADO_GUI=OFF \
  -DXRT_BUILD_SAMPLES=OFF \
  -DXRT_FEATURE_STEAMVR_PLUGIN=OFF \
  -DXRT_HAVE_SDL2=OFF \
  -DXRT_HAVE_WAYLAND=OFF \
  -DXRT_HAVE_GST=OFF \
  -DXRT_HAVE_OPENCV=OFF \
  -DXRT_HAVE_HIDAPI=OFF \
  -DXRT_HAVE_LIBUSB=OFF \
  -DXRT_HAVE_JPEG=OFF \
  -DXRT_HAVE_DBUS=OFF \
  -DXRT_HAVE_SYSTEMD=OFF \
  -DXRT_MODULE_AUX_VIVE=ON \
  -DXRT_BUILD_DRIVER_NS=OFF \
  -DXRT_BUILD_DRIVER_TWRAP=OFF \
  -DXRT_BUILD_DRIVER_REMOTE=ON \
  -DXRT_BUILD_DRIVER_WMR=OFF \
  -DXRT_BUILD_DRIVER_RIFT_S=OFF \
  -DXRT_BUILD_DRIVER_ROKID=OFF \
  -DXRT_BUILD_DRIVER_SIMULATED=ON \
  -DXRT_MODULE_COMPOSITOR_MAIN=ON \
  -DXRT_MODULE_COMPOSITOR_NULL=ON >"$OUT/configure.log"
ninja -C "$OUT/build" >"$OUT/build.log"
json="$OUT/build/openxr_monado-dev.json"
[ -f "$json" ] || { echo "setup: Monado built but $json is missing (see $OUT/build.log)" >&2; exit 1; }
touch "$OUT/.built-$RECIPE"
echo "$json"
