/** NIC driver modules the initrd loads, in load order (virtio_net needs the ones before it). */
export const GUEST_MODULES = [
  'e1000',
  'virtio_ring',
  'virtio_pci_modern_dev',
  'virtio_pci_legacy_dev',
  'virtio',
  'virtio_pci',
  'failover',
  'net_failover',
  'virtio_net',
] as const;

/** Lines the guest prints on its serial console; the serial-log parser matches on them. */
export const MARKERS = {
  step: 'EDGEBOOT-E2E:',
  url: 'EDGEBOOT-E2E-URL',
  begin: 'EDGEBOOT-E2E-ANSWER-BEGIN',
  end: 'EDGEBOOT-E2E-ANSWER-END',
  result: 'EDGEBOOT-E2E-RESULT',
  /** The answer-file parameters as init received them from the kernel (its environment), not as text in /proc/cmdline. */
  env: 'EDGEBOOT-E2E-INIT-ENV',
  cmdline: 'EDGEBOOT-E2E-CMDLINE',
  consoles: 'EDGEBOOT-E2E-CONSOLES',
  secureBoot: 'EDGEBOOT-E2E-SECUREBOOT',
} as const;

/**
 * The initrd's /init (busybox ash): load the NIC drivers (e1000 or the virtio-net chain), get a lease with udhcpc (or, when the
 * answer-file URL names a bracketed IPv6 literal, wait for the kernel's SLAAC address instead), take the answer-file URL
 * from the parameters the kernel handed init (`url=` for d-i, `ds=nocloud-net;s=<prefix>` for cloud-init, which fetches
 * `<prefix>user-data`), fetch it with wget, print it between markers, then power off. It also prints /proc/cmdline,
 * the consoles the kernel writes to and the kernel's Secure Boot line, for the tests to assert on.
 */
export const GUEST_INIT = `#!/bin/busybox sh
/bin/busybox mkdir -p /proc /sys /dev /tmp /bin /sbin /usr/bin /usr/sbin
/bin/busybox --install -s
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
exec </dev/console >/dev/console 2>&1
set -f
# The kernel passes every unknown name=value parameter to init as an environment variable: $url or $ds is set
# only when it reached the kernel as a parameter of its own (not inside another parameter's quoted value).
kernel_url="\${url-}"
kernel_ds="\${ds-}"
unset url ds

up() { cut -d' ' -f1 /proc/uptime; }
say() { echo "${MARKERS.step} $* (uptime $(up))"; }
finish() {
  case "$1" in ok) ;; *) dmesg | tail -n 25 ;; esac
  echo "${MARKERS.result} $* uptime=$(up)"
  sync
  poweroff -f
  sleep 30
}

say "init started"
echo "${MARKERS.cmdline} $(cat /proc/cmdline)"
echo "${MARKERS.env} url=\${kernel_url:-(unset)} ds=\${kernel_ds:-(unset)}"
echo "${MARKERS.consoles} $(cut -d' ' -f1 /proc/consoles | tr '\\n' ' ')"
echo "${MARKERS.secureBoot} $(dmesg | grep -m1 -o 'Secure boot [a-z ]*' || echo 'no Secure boot line')"
dmesg -n 1
# Both drivers are in the initrd; the one whose device is present brings up eth0.
for m in ${GUEST_MODULES.join(' ')}; do insmod /lib/modules/$m.ko 2>/dev/null; done
i=0
while [ ! -e /sys/class/net/eth0 ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
[ -e /sys/class/net/eth0 ] || finish fail no-eth0
ip link set lo up
ip link set eth0 up
case "$kernel_url$kernel_ds" in
  *://\\[*)
    # An IPv6 literal in the answer-file URL: the network is IPv6 (maybe IPv6-only), and an installer configures
    # itself from the router advertisement (kernel SLAAC), not from the address the firmware or iPXE leased.
    i=0
    while [ $i -lt 300 ]; do
      a6="$(ip -6 -o addr show dev eth0 | grep 'scope global' | grep -v tentative)"
      [ -n "$a6" ] && break
      sleep 0.1
      i=$((i + 1))
    done
    [ -n "$a6" ] || finish fail no-slaac-address
    say "address6 $(echo "$a6" | awk '{print $4}' | tr '\\n' ' ')"
    ;;
  *)
    udhcpc -i eth0 -s /etc/udhcpc.script -q -f -n -t 15 -T 2 || finish fail dhcp
    say "address $(ip -4 -o addr show dev eth0 | awk '{print $4}')"
    ;;
esac

url="$kernel_url"
case "$kernel_ds" in
  nocloud-net\\;s=*) url="\${kernel_ds#nocloud-net;s=}user-data" ;;
  nocloud\\;s=*) url="\${kernel_ds#nocloud;s=}user-data" ;;
esac
[ -n "$url" ] || finish fail no-url-or-ds-parameter-reached-init
echo "${MARKERS.url} $url"
# busybox 1.35 wget crashes on -T, so busybox timeout bounds it instead.
if ! timeout 20 wget -q -O /tmp/answer "$url" 2>/tmp/wget.err; then
  cat /tmp/wget.err
  finish fail wget
fi
echo "${MARKERS.begin}"
cat /tmp/answer
echo
echo "${MARKERS.end}"
finish ok
`;

/** udhcpc's event script: configure the leased address and default route with busybox ip. */
export const UDHCPC_SCRIPT = `#!/bin/sh
case "$1" in
  deconfig)
    ip -4 addr flush dev "$interface"
    ip link set "$interface" up
    ;;
  bound|renew)
    ip -4 addr flush dev "$interface"
    ip addr add "$ip/\${mask:-24}" dev "$interface"
    if [ -n "$router" ]; then ip route add default via "\${router%% *}" dev "$interface"; fi
    echo "${MARKERS.step} lease $ip/\${mask:-24} from \${serverid:-?}"
    ;;
esac
exit 0
`;
