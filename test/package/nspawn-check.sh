#!/bin/sh
# Runs as a oneshot inside the booted trixie root (systemd 257 as PID 1): the package's units as an
# operator gets them. Writes PASS/FAIL lines to /run/edgeboot-test/result.
T=/run/edgeboot-test
exec >"$T/result" 2>&1
ok() { echo "PASS  $*"; }
ko() { echo "FAIL  $*"; }
check() {
  what=$1
  shift
  if "$@"; then ok "$what"; else ko "$what"; fi
}
probe() { node "$T/probe.mjs" "$@"; }

check "edgeboot.service enabled by the package and active after boot" \
  test "$(systemctl is-enabled edgeboot.service)/$(systemctl is-active edgeboot.service)" = enabled/active
check "edgeboot-region.service installed but not enabled" test "$(systemctl is-enabled edgeboot-region.service)" = disabled
pid=$(systemctl show -p MainPID --value edgeboot.service)
check "runs as user edgeboot with CAP_NET_BIND_SERVICE only, no new privileges, seccomp on" sh -c \
  "grep -qE '^Uid:\s+$(id -u edgeboot)\s' /proc/$pid/status && grep -qE '^CapEff:\s+0+400$' /proc/$pid/status &&
   grep -qE '^NoNewPrivs:\s+1$' /proc/$pid/status && grep -qE '^Seccomp:\s+2$' /proc/$pid/status"
check "GET /boot.ipxe under the sandbox" sh -c "probe() { node $T/probe.mjs \"\$@\"; }; probe http http://127.0.0.1:5248/boot.ipxe | grep -qx '200 #!ipxe'"
size=$(probe tftp 127.0.0.1 undionly.kpxe)
check "TFTP (port 69) read of undionly.kpxe under the sandbox: $size bytes" test "$size" = "$(stat -c %s /usr/lib/ipxe/undionly.kpxe)"
check "lease socket in the RuntimeDirectory" test -S /run/edgeboot/lease.sock
systemctl reload edgeboot.service
sleep 1
check "systemctl reload: reloaded, still active, same PID" sh -c \
  "journalctl -q _SYSTEMD_UNIT=edgeboot.service -o cat | grep -q 'reloaded inventory and templates' &&
   test \"\$(systemctl show -p MainPID --value edgeboot.service)\" = $pid && systemctl is-active -q edgeboot.service"
check "the journal holds JSON lines only from the daemon" sh -c \
  "journalctl -q _SYSTEMD_UNIT=edgeboot.service -o cat | node -e 'require(\"fs\").readFileSync(0,\"utf8\").trim().split(\"\\n\").forEach((l)=>JSON.parse(l))'"
echo "INFO  $(systemd-analyze security --no-pager edgeboot.service | tail -n 1)"

# proxyDHCP (UDP 67 and 4011) under the same sandbox, switched on with a drop-in as an operator would.
mkdir -p /run/systemd/system/edgeboot.service.d
printf '[Service]\nEnvironment=EDGEBOOT_DHCP_PROXY=true\n' >/run/systemd/system/edgeboot.service.d/proxy.conf
systemctl daemon-reload
systemctl restart edgeboot.service
sleep 1
check "proxyDHCP binds UDP 67 and 4011 with CAP_NET_BIND_SERVICE only" sh -c \
  "systemctl is-active -q edgeboot.service && journalctl -q _SYSTEMD_UNIT=edgeboot.service -o cat | grep -q 'proxyDHCP listening' &&
   grep -qi ':0043 ' /proc/net/udp && grep -qi ':0FAB ' /proc/net/udp"
rm -r /run/systemd/system/edgeboot.service.d
systemctl daemon-reload
systemctl restart edgeboot.service
# MemoryDenyWriteExecute: what the unit leaves off, and why.
if systemd-run --quiet --wait --pipe -p MemoryDenyWriteExecute=yes /usr/bin/node -e 'let s=0;for(let i=0;i<1e7;i++)s+=i' >/dev/null 2>&1; then
  echo "INFO  node runs under MemoryDenyWriteExecute=yes"
else
  echo "INFO  node aborts under MemoryDenyWriteExecute=yes (V8 JIT needs W+X pages): the unit keeps it off"
fi
systemd-run --quiet --wait --pipe -p MemoryDenyWriteExecute=yes /usr/bin/node --jitless -e '0' >/dev/null 2>&1 &&
  echo "INFO  node --jitless runs under MemoryDenyWriteExecute=yes"

# The reference region, as an operator enables it.
printf 'clusters:\n  rack-a: rack-a-token-%s\nadmin: admin-token-%s\n' "$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')" \
  "$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')" >/etc/edgeboot/region-tokens.yaml
chgrp edgeboot /etc/edgeboot/region-tokens.yaml
chmod 0640 /etc/edgeboot/region-tokens.yaml
systemctl start edgeboot-region.service
for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do probe http http://127.0.0.1:5240/healthz >/dev/null && break; sleep 0.25; done
token=$(sed -n 's/^  rack-a: //p' /etc/edgeboot/region-tokens.yaml)
check "edgeboot-region.service answers the cluster snapshot" sh -c \
  "node $T/probe.mjs http http://127.0.0.1:5240/api/v1/clusters/rack-a/snapshot $token | grep -q '^200 '"
echo "INFO  $(systemd-analyze security --no-pager edgeboot-region.service | tail -n 1)"

# edgeboot following that region: its snapshot helper (region-worker.js) must get SCHED_IDLE under the
# unit's seccomp filter (chrt --idle), not fall back to nice 19 or normal priority.
cp /etc/edgeboot/edgeboot.yaml "$T/edgeboot.yaml.orig"
printf '%s\n' "$token" >/etc/edgeboot/region.token
chgrp edgeboot /etc/edgeboot/region.token
chmod 0640 /etc/edgeboot/region.token
printf 'region:\n  url: http://127.0.0.1:5240\n  cluster_id: rack-a\n  token_file: /etc/edgeboot/region.token\n' >>/etc/edgeboot/edgeboot.yaml
systemctl restart edgeboot.service
state=none
for _ in $(seq 60); do
  state=$(probe http http://127.0.0.1:5248/healthz |
    node -e 's=require("fs").readFileSync(0,"utf8");try{console.log(JSON.parse(s.slice(s.indexOf(" ")+1)).region?.state??"none")}catch{console.log("none")}')
  [ "$state" = connected ] && break
  sleep 0.5
done
check "edgeboot follows the region after a restart (/healthz region state: $state)" test "$state" = connected
pid=$(systemctl show -p MainPID --value edgeboot.service)
helper="" policy="" nice=""
# /proc/<pid>/stat after the ") " that ends comm: field 4 (ppid) is the 2nd, 19 (nice) the 17th, 41 (policy) the 39th.
for _ in $(seq 20); do
  for stat in /proc/[0-9]*/stat; do
    p=${stat#/proc/}
    p=${p%/stat}
    rest=$(sed 's/.*) //' "$stat" 2>/dev/null) || continue
    [ "$(echo "$rest" | cut -d' ' -f2)" = "$pid" ] || continue
    tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q 'dist/src/sync/region/helper/region-worker\.js' || continue
    helper=$p
    nice=$(echo "$rest" | cut -d' ' -f17)
    policy=$(echo "$rest" | cut -d' ' -f39)
  done
  [ -n "$helper" ] && break
  sleep 0.5
done
echo "INFO  region helper: pid ${helper:-none}, policy ${policy:-?}, nice ${nice:-?}; unit: $(systemctl show -p LimitRTPRIO -p RestrictRealtime edgeboot.service | tr '\n' ' ')"
if [ -n "$helper" ] && [ "$policy" = 5 ]; then
  ok "edgeboot's region helper (pid $helper, child of $pid) runs under SCHED_IDLE (policy 5)"
else
  ko "edgeboot's region helper ${helper:+(pid $helper) }runs under policy ${policy:-none found} instead of SCHED_IDLE (5): edgeboot.service's SystemCallFilter refuses sched_setscheduler."
fi
journalctl --sync
warning=$(journalctl -q _SYSTEMD_UNIT=edgeboot.service -o cat | grep 'instead of SCHED_IDLE' | head -n1 | cut -c1-300)
if [ -z "$warning" ]; then
  ok "edgeboot's journal has no 'instead of SCHED_IDLE' warning"
else
  ko "edgeboot warned that its region helper runs without SCHED_IDLE: $warning"
fi
cp "$T/edgeboot.yaml.orig" /etc/edgeboot/edgeboot.yaml
rm -f /etc/edgeboot/region.token
systemctl stop edgeboot-region.service edgeboot.service
check "systemctl stop: clean exit" test "$(systemctl show -p ExecMainStatus --value edgeboot.service)" = 0
echo "END"
