#!/usr/bin/env bash
# Install everything the test suite needs on a Debian machine (run as root), then the npm dependencies.
# The tests use real peers: TFTP clients and servers, DHCP servers, nginx, wrk, qemu with iPXE ROMs and OVMF.
# `--apt-only` installs the Debian packages and stops (test/e2e/in-trixie.sh uses it for its root).
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# The netboot installer package is named after the release (debian-installer-12-… on bookworm, -13- on trixie).
. /etc/os-release
apt-get install -y -q --no-install-recommends \
  ca-certificates curl iproute2 procps util-linux cpio busybox-static openssl \
  ipxe ipxe-qemu pxelinux syslinux-common ovmf qemu-system-x86 qemu-system-arm qemu-efi-aarch64 shim-signed grub-efi-amd64-signed \
  dnsmasq-base kea-dhcp4-server kea-dhcp6-server isc-dhcp-server tcpdump tshark \
  radvd \
  tftp-hpa atftp tftpd-hpa \
  nginx-light wrk \
  cloud-init "debian-installer-${VERSION_ID}-netboot-amd64" grub-common \
  debootstrap dpkg-dev debhelper fakeroot lintian systemd systemd-container git \
  chromium \
  keepalived
# The region's PostgreSQL store: tests run a private cluster (initdb in a temp dir, as postgres), never the service.
apt-get install -y -q --no-install-recommends postgresql
if ! command -v node >/dev/null || ! node -e 'const [a,b]=process.versions.node.split(".").map(Number);process.exit(a>20||(a===20&&b>=19)?0:1)'; then
  apt-get install -y -q nodejs npm
fi
[ "${1:-}" = --apt-only ] && exit 0
npm ci --no-audit --no-fund
