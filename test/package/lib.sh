# Helpers for install-test.sh (sourced): checks, builds, the cached trixie root.
# shellcheck shell=bash

T0=${T0:-$(date +%s)}
export T0
FAILS=0

log() { printf '[%4ss] %s\n' "$(($(date +%s) - T0))" "$*"; }
pass() { log "PASS  $*"; }
fail() {
  log "FAIL  $*"
  FAILS=$((FAILS + 1))
}
die() {
  log "ERROR $*"
  exit 1
}
# check "description" command...: PASS/FAIL on the command's status, the run goes on.
check() {
  local what=$1
  shift
  if "$@"; then pass "$what"; else
    fail "$what"
    return 1
  fi
}

# no_native DIR: no native addon and no ELF file under DIR.
no_native() {
  node -e '
    const fs = require("fs"), path = require("path");
    const bad = [];
    const walk = (d) => { for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile() && (p.endsWith(".node") || fs.readFileSync(p).subarray(0, 4).toString("latin1") === "\x7fELF")) bad.push(p);
    } };
    walk(process.argv[1]);
    if (bad.length) { console.error(bad.join("\n")); process.exit(1); }' "$1"
}

need_tools() {
  local missing=()
  for t in "$@"; do command -v "$t" >/dev/null || missing+=("$t"); done
  [ ${#missing[@]} -eq 0 ] || die "missing tools: ${missing[*]} (apt-get install debootstrap dpkg-dev debhelper curl util-linux iproute2 git systemd-container)"
}

# The Debian mirror the host's apt uses (deb822 URIs: or one-line deb), else deb.debian.org.
host_mirror() {
  local m
  m=$(grep -hsE '^(URIs:|deb )' /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list |
    grep -oE 'https?://[^ ]+/debian/?( |$)' | grep -v security | head -n1 | tr -d ' ')
  echo "${m:-http://deb.debian.org/debian}"
}

# Copy a source tree (tracked and untracked, not ignored, when it is a git clone) to $2; node_modules is linked.
copy_source() {
  local src=$1 dst=$2
  mkdir -p "$dst"
  if [ -d "$src/.git" ]; then
    git -C "$src" ls-files -z -co --exclude-standard | (cd "$src" && tar --null -T - -cf -) | tar -C "$dst" -xf -
  else
    tar -C "$src" --exclude=./node_modules --exclude=./dist --exclude=./debian/build -cf - . | tar -C "$dst" -xf -
  fi
  [ -d "$src/node_modules" ] || die "$src/node_modules is missing: run npm ci first"
  ln -s "$(cd "$src" && pwd)/node_modules" "$dst/node_modules"
}

# Build the package in a copy of the source; $3 (optional) is a version to put on top of the changelog.
build_deb() {
  local src=$1 dir=$2 version=${3:-}
  copy_source "$src" "$dir/src"
  if [ -n "$version" ]; then
    local who
    who=$(sed -n 's/^ -- \(.*>\)  .*/\1/p' "$dir/src/debian/changelog" | head -n1)
    { printf 'edgeboot (%s) unstable; urgency=medium\n\n  * Upgrade test build.\n\n -- %s  %s\n\n' "$version" "$who" "$(date -R)"
      cat "$dir/src/debian/changelog"; } >"$dir/changelog.new"
    mv "$dir/changelog.new" "$dir/src/debian/changelog"
  fi
  (cd "$dir/src" && dpkg-buildpackage -b -us -uc) >"$dir/build.log" 2>&1 || {
    tail -n 30 "$dir/build.log"
    return 1
  }
  ls "$dir"/edgeboot_*_all.deb
}

# A fresh trixie minbase root in $1, from the cached tarball (made once with debootstrap).
make_root() {
  local root=$1 mirror=$2
  mkdir -p "$CACHE/archives/partial" "$CACHE/lists/partial"
  if [ ! -s "$CACHE/trixie-minbase.tar" ]; then
    log "debootstrap --variant=minbase trixie from $mirror (cached afterwards in $CACHE)"
    local tmp="$CACHE/debootstrap.tmp"
    rm -rf "$tmp"
    debootstrap --variant=minbase --cache-dir="$CACHE/archives" trixie "$tmp" "$mirror" >"$CACHE/debootstrap.log" 2>&1 ||
      { tail -n 20 "$CACHE/debootstrap.log"; die "debootstrap failed"; }
    tar -C "$tmp" -cf "$CACHE/trixie-minbase.tar.new" . && mv "$CACHE/trixie-minbase.tar.new" "$CACHE/trixie-minbase.tar"
    rm -rf "$tmp"
  fi
  mkdir -p "$root"
  tar -C "$root" -xf "$CACHE/trixie-minbase.tar"
  echo "deb $mirror trixie main" >"$root/etc/apt/sources.list"
  rm -f "$root"/etc/apt/sources.list.d/*
  # Keep downloaded packages in the cache instead of deleting them after install.
  echo 'Binary::apt::APT::Keep-Downloaded-Packages "true"; APT::Keep-Downloaded-Packages "true";' >"$root/etc/apt/apt.conf.d/99keep"
  mount -t proc proc "$root/proc"
  MOUNTS+=("$root/proc")
  mount --bind "$CACHE/archives" "$root/var/cache/apt/archives"
  MOUNTS+=("$root/var/cache/apt/archives")
  mount --bind "$CACHE/lists" "$root/var/lib/apt/lists"
  MOUNTS+=("$root/var/lib/apt/lists")
}

in_root() { chroot "$ROOT" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8 "$@"; }

# Every path under /usr and /etc, for the purge comparison.
snapshot_tree() { (cd "$ROOT" && find usr etc -xdev | LC_ALL=C sort); }
