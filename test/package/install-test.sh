#!/bin/bash
# Install test for the Debian package on a clean Debian 13 (trixie) root.
#
#   sudo test/package/install-test.sh [--deb edgeboot_X_all.deb] [--src DIR]
#
# Builds the package from DIR (default: this clone; run "npm ci" first) unless --deb is given, and a
# second build with a higher version for the upgrade. Then, in a debootstrap'ed trixie minbase root
# (cached in $EDGEBOOT_TEST_CACHE, default /var/cache/edgeboot-test, with the downloaded packages):
# installs Debian's nodejs and the package's other dependencies and recommends with apt, installs the
# .deb with apt, and checks: --version, modes and owners, "edgeboot check" on the shipped conffile,
# "edgeboot serve" and "edgeboot region" started as their units would (serve-in-netns.sh), the units
# with systemd-analyze verify/security, an upgrade that keeps a modified conffile and the key, and a
# purge that leaves nothing in /usr and /etc. Exit status: the number of failed checks (0 = all good).
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"

SRC=$(cd "$HERE/../.." && pwd)
DEB=""
while [ $# -gt 0 ]; do
  case $1 in
    --deb) DEB=$(realpath "$2"); shift 2 ;;
    --src) SRC=$(realpath "$2"); shift 2 ;;
    *) die "unknown argument $1" ;;
  esac
done
[ "$(id -u)" = 0 ] || die "run as root (debootstrap, chroot, mounts, network namespaces)"
need_tools lintian debootstrap dpkg-buildpackage dpkg-parsechangelog dpkg-deb chroot unshare flock curl node ip git tar systemd-nspawn
CACHE=${EDGEBOOT_TEST_CACHE:-/var/cache/edgeboot-test}
MIRROR=${EDGEBOOT_MIRROR:-$(host_mirror)}
mkdir -p "$CACHE"
exec 9>"$CACHE/lock"
flock -w 1200 9 || die "another install test holds $CACHE/lock"

WORK=$(mktemp -d /tmp/edgeboot-pkgtest.XXXXXX)
ROOT=$WORK/root
MOUNTS=()
BUILD_PID=""
cleanup() {
  [ -n "$BUILD_PID" ] && kill "$BUILD_PID" 2>/dev/null
  for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do umount -l "${MOUNTS[$i]}" 2>/dev/null; done
  if [ "$FAILS" -eq 0 ] && [ -z "${KEEP:-}" ]; then rm -rf "$WORK"; else log "work folder kept: $WORK"; fi
}
trap cleanup EXIT

# ---- builds (in the background while the root is prepared)
VERSION=$(dpkg-parsechangelog -l "$SRC/debian/changelog" -S Version)
NEXT="$VERSION+pkgtest1"
(
  if [ -z "$DEB" ]; then build_deb "$SRC" "$WORK/cur" >/dev/null || exit 1; fi
  build_deb "$SRC" "$WORK/next" "$NEXT" >/dev/null || exit 2
) &
BUILD_PID=$!

log "trixie root in $ROOT (mirror $MIRROR, cache $CACHE)"
make_root "$ROOT" "$MIRROR"
in_root apt-get update -q >"$WORK/apt-update.log" 2>&1 || { tail "$WORK/apt-update.log"; die "apt-get update failed"; }
wait "$BUILD_PID" || die "package build failed (logs in $WORK/cur/build.log, $WORK/next/build.log)"
BUILD_PID=""
[ -n "$DEB" ] || DEB=$(ls "$WORK"/cur/edgeboot_*_all.deb)
NEXT_DEB=$(ls "$WORK"/next/edgeboot_*_all.deb)
log "built: $(basename "$DEB") $(basename "$NEXT_DEB")"
check "lintian reports no errors on $(basename "$DEB")" lintian --fail-on error "$DEB" >"$WORK/lintian.log" 2>&1
[ -s "$WORK/lintian.log" ] && sed 's/^/      /' "$WORK/lintian.log"
cp "$DEB" "$ROOT/tmp/edgeboot.deb"
cp "$NEXT_DEB" "$ROOT/tmp/edgeboot-next.deb"

# ---- dependencies first (Debian's nodejs, the loaders), then the .deb itself with apt
# systemd and man-db: for systemd-analyze verify (which also looks the Documentation= man page up) and the boot.
DEPS="$(dpkg-deb -f "$DEB" Depends), $(dpkg-deb -f "$DEB" Recommends), systemd, man-db"
log "apt-get satisfy: $DEPS"
in_root apt-get satisfy -y -q "$DEPS" >"$WORK/apt-deps.log" 2>&1 || { tail -n 20 "$WORK/apt-deps.log"; die "dependencies did not install"; }
node_v=$(in_root node --version)
check "Debian's nodejs $node_v is >= 20.19" in_root node -e 'const [a,b]=process.versions.node.split(".").map(Number);process.exit(a>20||(a===20&&b>=19)?0:1)'
snapshot_tree >"$WORK/tree-before"
in_root apt-get install -y -q /tmp/edgeboot.deb >"$WORK/apt-install.log" 2>&1
check "apt-get install ./$(basename "$DEB") (nothing else left to install)" grep -q '0 upgraded, 1 newly installed' "$WORK/apt-install.log"

# ---- the installed package
pkg_version=$(in_root node -p 'require("/usr/lib/edgeboot/package.json").version')
check "edgeboot --version prints $pkg_version" test "$(in_root edgeboot --version)" = "$pkg_version"
check "man page edgeboot(8) installed" test -s "$ROOT/usr/share/man/man8/edgeboot.8.gz"
check "/etc/edgeboot/edgeboot.yaml is a conffile" grep -qx /etc/edgeboot/edgeboot.yaml "$ROOT/var/lib/dpkg/info/edgeboot.conffiles"
check "shipped templates in /usr/share/edgeboot/templates" test -s "$ROOT/usr/share/edgeboot/templates/ipxe/generic.eta"
check "/var/lib/edgeboot is 750 edgeboot:edgeboot" test "$(in_root stat -c '%a %U:%G' /var/lib/edgeboot)" = "750 edgeboot:edgeboot"
check "the URL-signing key is 32 bytes, 600 edgeboot:edgeboot" test "$(in_root stat -c '%s %a %U:%G' /var/lib/edgeboot/url-signing.key)" = "32 600 edgeboot:edgeboot"
check "no native code shipped (Architecture: all)" no_native "$ROOT/usr/lib/edgeboot"
in_root setpriv --reuid=edgeboot --regid=edgeboot --init-groups edgeboot check >"$WORK/check.log" 2>&1
check "edgeboot check passes on the shipped conffile, as user edgeboot" grep -qx 'all checks passed' "$WORK/check.log"
sed 's/^/      /' "$WORK/check.log"

# ---- the units
for unit in edgeboot.service edgeboot-region.service; do
  in_root systemd-analyze verify "/lib/systemd/system/$unit" >"$WORK/verify-$unit.log" 2>&1
  check "systemd-analyze verify $unit (trixie's systemd) is clean" test ! -s "$WORK/verify-$unit.log" || cat "$WORK/verify-$unit.log"
  in_root systemd-analyze security --offline=yes --no-pager "/lib/systemd/system/$unit" >"$WORK/security-$unit.log" 2>&1
  log "$(tail -n 1 "$WORK/security-$unit.log")"
done
exposure=$(sed -n 's/.*Overall exposure level for edgeboot.service: \([0-9.]*\).*/\1/p' "$WORK/security-edgeboot.service.log")
check "systemd-analyze security edgeboot.service: exposure $exposure <= 2.5" node -e "process.exit(Number('$exposure') <= 2.5 ? 0 : 1)"

# ---- serve and region, started as their units would, in a private network namespace
unshare --net bash "$HERE/serve-in-netns.sh" "$ROOT" "$WORK"
FAILS=$((FAILS + $?))

# ---- one throwaway boot of the root under systemd (--volatile=overlay: nothing it writes stays)
mkdir -p "$WORK/nspawn"
cp "$HERE/nspawn-check.sh" "$HERE/probe.mjs" "$WORK/nspawn/"
log "booting the root with systemd-nspawn (private network, volatile overlay)"
SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1 timeout 240 systemd-nspawn -q -D "$ROOT" --boot --register=no --keep-unit \
  --private-network --volatile=overlay --bind="$WORK/nspawn:/run/edgeboot-test" \
  --bind-ro="$HERE/nspawn-check.service:/etc/systemd/system/edgeboot-nspawn-check.service" \
  systemd.wants=edgeboot-nspawn-check.service </dev/null >"$WORK/nspawn.log" 2>&1
log "systemd-nspawn exited with status $?"
while IFS= read -r line; do
  case $line in
    PASS*) pass "[systemd] ${line#PASS  }" ;;
    FAIL*) fail "[systemd] ${line#FAIL  }" ;;
    *) log "[systemd] ${line#INFO  }" ;;
  esac
done <"$WORK/nspawn/result"
check "the boot check ran to its end" grep -qx END "$WORK/nspawn/result"

# ---- upgrade: a modified conffile and the key survive
KEY_SUM=$(sha256sum <"$ROOT/var/lib/edgeboot/url-signing.key")
sed -i 's/^  level: info /  level: debug/' "$ROOT/etc/edgeboot/edgeboot.yaml"
echo '# local change kept across upgrades' >>"$ROOT/etc/edgeboot/edgeboot.yaml"
CONF_SUM=$(sha256sum <"$ROOT/etc/edgeboot/edgeboot.yaml")
in_root apt-get install -y -q /tmp/edgeboot-next.deb >"$WORK/apt-upgrade.log" 2>&1
check "upgrade to $NEXT with apt" test "$(in_root dpkg-query -W -f '${Version}' edgeboot)" = "$NEXT"
check "the modified conffile is kept" test "$(sha256sum <"$ROOT/etc/edgeboot/edgeboot.yaml")" = "$CONF_SUM"
check "no .dpkg-dist/.dpkg-new left beside it" bash -c "! ls '$ROOT'/etc/edgeboot/*.dpkg-* 2>/dev/null | grep -q ."
check "the URL-signing key is kept" test "$(sha256sum <"$ROOT/var/lib/edgeboot/url-signing.key")" = "$KEY_SUM"
in_root edgeboot check >"$WORK/check2.log" 2>&1
check "edgeboot check passes after the upgrade" grep -qx 'all checks passed' "$WORK/check2.log"

# ---- purge: nothing left in /usr and /etc, state gone
in_root apt-get purge -y -q edgeboot >"$WORK/apt-purge.log" 2>&1
snapshot_tree >"$WORK/tree-after"
# adduser's backups of the account files (passwd-, group-, shadow-, gshadow-) are not ours to remove.
diff "$WORK/tree-before" "$WORK/tree-after" | grep -vE '^[<>] etc/(passwd|group|shadow|gshadow)-$' | grep '^[<>]' >"$WORK/tree-diff"
check "apt-get purge leaves nothing behind in /usr and /etc" test ! -s "$WORK/tree-diff" || head -n 20 "$WORK/tree-diff"
check "apt-get purge removes /var/lib/edgeboot" test ! -e "$ROOT/var/lib/edgeboot"
log "after purge the system user stays (Debian practice): $(in_root getent passwd edgeboot || echo none)"

log "done in $(($(date +%s) - T0)) s: $FAILS failed check(s)"
exit "$FAILS"
