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

# verify_files DIR SUMS WHAT: each file SUMS lists (sha256sum's format, paths relative to DIR) is
# there with its pinned hash, or one line says which is not and what to do, and the set-up stops.
# WHAT names where the files came from, for that line.
verify_files() {
  local dir=$1 sums=$2 what=$3 sum file got problem
  while read -r sum file; do
    if [ ! -f "$dir/$file" ]; then
      problem="missing"
    else
      got="$(sha256sum "$dir/$file" | cut -d' ' -f1)"
      [ "$got" != "$sum" ] || continue
      problem="SHA-256 $got is not the pinned $sum (a changed package)"
    fi
    echo "setup: error: $dir/$file: $problem: delete $dir and run the set-up again; if a fresh install differs too, do not use it: check $what before changing $sums" >&2
    exit 1
  done <"$sums"
}
