# Shared by the set-up scripts (sourced, not run).

say() { printf '\033[1msetup:\033[0m %s\n' "$*" >&2; }

# The Debian packages among "$@" that are not installed, one per line.
missing_debs() {
  local pkg
  for pkg; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || echo "$pkg"
  done
}

# apt_install WHAT PKG...: install the PKGs quietly (nothing when there are none), saying what for.
apt_install() {
  local what=$1
  shift
  (($#)) || return 0
  say "installing $what: $*"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}
