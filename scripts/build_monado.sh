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
# The source tarball is checked against its pinned SHA-256 before it is cached or built.
#
#   scripts/build_monado.sh                (run by `scripts/setup.sh test`; prints the runtime's JSON path)
#   scripts/build_monado.sh --fetch FILE   only fetch the source tarball into FILE, checked
#   scripts/build_monado.sh --verify FILE  only check FILE against the pinned hash
set -euo pipefail

VERSION=25.0.0
RECIPE=2  # bump when the configure flags change: a new recipe rebuilds
DEBIAN_VERSION="$VERSION+dfsg-2"
# Debian's upstream tarball: the same file for every Debian revision of this upstream version.
SOURCE="monado_$VERSION+dfsg.orig.tar.xz"
SOURCE_SHA256=ddfa1899078173bea3db98034dc8b990df727a169f490896570ff6e3bda72113
CACHE="${IMMERSION_CACHE:-$HOME/.cache/immersion}"
OUT="$CACHE/monado-$VERSION"
source "$(dirname "$0")/lib.sh"

fail() {
  echo "setup: error: $*" >&2
  exit 1
}

# verify_source FILE: FILE is the pinned tarball, or one line says what is wrong and what to do.
verify_source() {
  local got
  [ -f "$1" ] || fail "$1: no such file"
  got="$(sha256sum "$1" | cut -d' ' -f1)"
  [ "$got" = "$SOURCE_SHA256" ] ||
    fail "$1: SHA-256 $got is not the pinned $SOURCE_SHA256 (a corrupt or altered download): delete it and run the set-up again; if a fresh fetch differs too, do not build it: check Debian's monado $DEBIAN_VERSION source package before changing SOURCE_SHA256 in scripts/build_monado.sh"
}

# fetch_source DEST: Debian's $SOURCE (monado $DEBIAN_VERSION, from trixie) into DEST, checked.
fetch_source() {
  local dest=$1 tmp mirror
  say "fetching Monado $VERSION's source (Debian's monado $DEBIAN_VERSION)"
  tmp="$(mktemp -d)"
  trap "rm -rf '$tmp'" EXIT
  # The machine's own Debian mirror, read from its sources, with trixie's source index only.
  mirror="$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)"
  [ -n "$mirror" ] || mirror="$(awk '$1 == "deb" {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)"
  [ -n "$mirror" ] || fail "no Debian mirror in /etc/apt/sources.list.d/debian.sources or /etc/apt/sources.list: put a copy of $SOURCE at $dest"
  mkdir -p "$tmp/apt/lists/partial" "$tmp/apt/archives/partial" "$tmp/src" "$(dirname "$dest")"
  echo "deb-src $mirror trixie main" >"$tmp/apt/sources.list"
  cat >"$tmp/apt.conf" <<EOF
Dir::Etc::SourceList "$tmp/apt/sources.list";
Dir::Etc::SourceParts "/nonexistent";
Dir::State::Lists "$tmp/apt/lists";
Dir::Cache::Archives "$tmp/apt/archives";
APT::Sandbox::User "root";
EOF
  APT_CONFIG="$tmp/apt.conf" apt-get update -qq >"$tmp/apt.log" 2>&1 ||
    fail "could not read trixie's source index from $mirror: retry when the mirror answers, or put a copy of $SOURCE at $dest"
  (cd "$tmp/src" && APT_CONFIG="$tmp/apt.conf" apt-get source -qq --tar-only "monado=$DEBIAN_VERSION" >"$tmp/apt.log" 2>&1) ||
    fail "the mirror no longer has monado $DEBIAN_VERSION's source: set DEBIAN_VERSION in scripts/build_monado.sh to the monado $VERSION revision trixie carries now (same upstream tarball, same SOURCE_SHA256), or put a saved copy of $SOURCE at $dest; if trixie has moved past $VERSION, update VERSION and SOURCE_SHA256 together and rerun the headset tests"
  verify_source "$tmp/src/$SOURCE"
  mv "$tmp/src/$SOURCE" "$dest"
}

usage="usage: scripts/build_monado.sh [--fetch FILE | --verify FILE]"
case "${1:-}" in
  "") ;;
  --fetch)
    [ $# -eq 2 ] || fail "$usage"
    fetch_source "$2"
    exit 0
    ;;
  --verify)
    [ $# -eq 2 ] || fail "$usage"
    verify_source "$2"
    exit 0
    ;;
  *) fail "$usage" ;;
esac

if [ -f "$OUT/.built-$RECIPE" ]; then
  echo "$OUT/build/openxr_monado-dev.json"
  exit 0
fi

deps=(cmake ninja-build pkg-config build-essential glslang-tools libvulkan-dev libeigen3-dev
  libcjson-dev libgl-dev libegl-dev libglvnd-dev libx11-dev libx11-xcb-dev libxcb-randr0-dev
  libxrandr-dev libbsd-dev libudev-dev mesa-vulkan-drivers libgl1-mesa-dri libegl-mesa0 xz-utils)
mapfile -t missing < <(missing_debs "${deps[@]}")
apt_install "Monado's build dependencies" "${missing[@]}"

tarball="$CACHE/downloads/$SOURCE"
[ -f "$tarball" ] || fetch_source "$tarball"
verify_source "$tarball"

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
