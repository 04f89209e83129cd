#!/usr/bin/env bash
# Run e2e test files inside a Debian 13 (trixie) root, to see that they mean the same there.
#
#   test/e2e/in-trixie.sh test/e2e/uefi-native.test.ts [more test files or vitest arguments]
#   test/e2e/in-trixie.sh --prepare     # only build the root
#
# The root is debootstrapped once into .cache/trixie-root (EDGEBOOT_TRIXIE_ROOT overrides it) with
# the apt packages of test/setup.sh. Each run binds /dev, /proc, /sys and this repository (at the
# same path, with its node_modules and dist/) into it and runs vitest under chroot; the tests create
# their network namespaces and qemu guests from there. Run `npm run build` first. Needs root.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
root=${EDGEBOOT_TRIXIE_ROOT:-$repo/.cache/trixie-root}
mirror=${EDGEBOOT_TRIXIE_MIRROR:-http://deb.debian.org/debian}
[ "$(id -u)" = 0 ] || { echo "in-trixie.sh: run as root (debootstrap, chroot, namespaces)" >&2; exit 2; }

mounted=()
cleanup() {
  local i
  for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do umount -l "${mounted[i]}" 2>/dev/null || true; done
}
trap cleanup EXIT
trap 'exit 143' TERM INT

bind() { # bind <host path> <path inside the root>
  mkdir -p "$root$2"
  mount --rbind "$1" "$root$2"
  mount --make-rslave "$root$2"
  mounted+=("$root$2")
}

bind_system() {
  # The root must be a mount point of its own: `ip netns exec` remounts "/" as a slave inside it.
  mount --bind "$root" "$root"
  mounted+=("$root")
  bind /dev /dev
  bind /proc /proc
  bind /sys /sys
  # ip netns keeps its namespace handles under /run/netns; the root gets its own, on a tmpfs.
  mkdir -p "$root/run"
  mount -t tmpfs -o mode=0755 tmpfs "$root/run"
  mounted+=("$root/run")
  cp -L /etc/resolv.conf "$root/etc/resolv.conf"
}

# The root is ready for this exact test/setup.sh; when setup.sh changes, its packages are installed again.
want=$(sha256sum "$repo/test/setup.sh" | cut -d' ' -f1)
if [ "$(cat "$root/.edgeboot-ready" 2>/dev/null)" != "$want" ]; then
  if [ ! -e "$root/.edgeboot-ready" ]; then
    rm -rf "$root"
    mkdir -p "$(dirname "$root")"
    debootstrap --variant=minbase --include=ca-certificates trixie "$root" "$mirror"
  fi
  bind_system
  bind "$repo/test" /setup/test
  # The same package list CI installs on Debian 12 (test/setup.sh), minus the npm step.
  chroot "$root" env DEBIAN_FRONTEND=noninteractive bash /setup/test/setup.sh --apt-only
  cleanup
  mounted=()
  echo "$want" > "$root/.edgeboot-ready"
fi
[ "${1:-}" = --prepare ] && { echo "trixie root ready at $root"; exit 0; }

bind_system
bind "$repo" "$repo"
cache=${EDGEBOOT_E2E_CACHE:-}
if [ -n "$cache" ]; then bind "$cache" "$cache"; fi
echo "in-trixie: $(chroot "$root" cat /etc/debian_version), node $(chroot "$root" node --version)"
chroot "$root" env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root TERM=dumb \
  ${cache:+EDGEBOOT_E2E_CACHE=$cache} bash -c 'cd "$1" && shift && exec node node_modules/vitest/vitest.mjs run "$@"' - "$repo" "$@"
