#!/bin/bash
# Phase of install-test.sh run inside a fresh network namespace (unshare --net): start edgeboot and the
# reference region in the trixie root exactly as their units would (ExecStart/ExecStartPost/ExecReload
# command lines, user edgeboot, CAP_NET_BIND_SERVICE as the only capability, no new privileges), and
# talk to them with real clients. There is no systemd PID 1 in a chroot, so RuntimeDirectory= is done by hand.
# Usage: serve-in-netns.sh ROOT OUTDIR
set -uo pipefail
ROOT=$1
OUT=$2
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"
UNITS=$ROOT/lib/systemd/system
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  wait 2>/dev/null
}
trap cleanup EXIT

ip link set lo up || die "cannot bring lo up in the namespace"

# unit_line UNIT KEY: the command line of Exec<KEY>= in the installed unit.
unit_line() { sed -n "s/^$2=//p" "$UNITS/$1" | head -n1; }
# AS_UNIT CMD...: run CMD in the root the way the units do: user edgeboot, CAP_NET_BIND_SERVICE only.
# (An array, not a function, so that "$!" of a background start is the daemon itself: everything execs.)
# shellcheck disable=SC2054 # the commas are setpriv's capability lists
AS_UNIT=(chroot "$ROOT" /usr/bin/env -i PATH=/usr/bin:/bin LANG=C.UTF-8
  /usr/bin/setpriv --reuid=edgeboot --regid=edgeboot --init-groups --no-new-privs
  --inh-caps=-all,+net_bind_service --ambient-caps=-all,+net_bind_service --bounding-set=-all,+net_bind_service --)
# The region unit grants no capability at all.
AS_REGION=(chroot "$ROOT" /usr/bin/env -i PATH=/usr/bin:/bin LANG=C.UTF-8
  /usr/bin/setpriv --reuid=edgeboot --regid=edgeboot --init-groups --no-new-privs
  --inh-caps=-all --ambient-caps=-all --bounding-set=-all --)
EB_UID=$(chroot "$ROOT" id -u edgeboot)
EB_GID=$(chroot "$ROOT" id -g edgeboot)

# ---- edgeboot.service
read -ra START <<<"$(unit_line edgeboot.service ExecStart)"
read -ra READY <<<"$(unit_line edgeboot.service ExecStartPost)"
# ExecReload is /bin/sh -c '…': split it with the shell's quoting rules.
eval "RELOAD=($(unit_line edgeboot.service ExecReload))"
install -d -o "$EB_UID" -g "$EB_GID" -m 0755 "$ROOT/run/edgeboot"
log "ExecStart: ${START[*]}"
t=$(date +%s%N)
"${AS_UNIT[@]}" "${START[@]}" >"$OUT/serve.log" 2>"$OUT/serve.err" &
SERVE=$!
PIDS+=("$SERVE")
if "${AS_UNIT[@]}" "${READY[@]}"; then
  pass "readiness check (ExecStartPost) passed after $((($(date +%s%N) - t) / 1000000)) ms"
else
  fail "readiness check (ExecStartPost) failed; stderr: $(head -c 400 "$OUT/serve.err")"
fi
check "serve runs as user edgeboot (uid $EB_UID)" grep -qE "^Uid:\s+$EB_UID\s" "/proc/$SERVE/status"
check "serve's capabilities are cap_net_bind_service only" \
  grep -qE '^CapEff:\s+0000000000000400$' "/proc/$SERVE/status"
body=$(curl -fsS --max-time 10 http://127.0.0.1:5248/boot.ipxe)
check "GET /boot.ipxe answers an iPXE script" grep -q '^#!ipxe' <<<"$body"
check "GET /healthz answers 200" curl -fsS --max-time 10 -o /dev/null http://127.0.0.1:5248/healthz
curl -fsS --max-time 20 -o "$OUT/undionly.kpxe" tftp://127.0.0.1/undionly.kpxe
check "TFTP on port 69 (unprivileged user with CAP_NET_BIND_SERVICE) serves Debian's undionly.kpxe" \
  cmp -s "$OUT/undionly.kpxe" "$ROOT/usr/lib/ipxe/undionly.kpxe"
check "lease intake socket in /run/edgeboot" test -S "$ROOT/run/edgeboot/lease.sock"
# ExecReload as systemd runs it: $MAINPID in the environment, same user.
chroot "$ROOT" /usr/bin/env -i PATH=/usr/bin:/bin MAINPID="$SERVE" \
  /usr/bin/setpriv --reuid=edgeboot --regid=edgeboot --init-groups -- "${RELOAD[@]}"
for _ in $(seq 50); do grep -q 'reloaded inventory and templates' "$OUT/serve.log" && break; sleep 0.1; done
check "ExecReload (SIGHUP) reloads and the daemon keeps serving" \
  bash -c "grep -q 'reloaded inventory and templates' '$OUT/serve.log' && kill -0 $SERVE && curl -fsS --max-time 5 -o /dev/null http://127.0.0.1:5248/boot.ipxe"
kill -TERM "$SERVE"
code=timeout
for _ in $(seq 150); do kill -0 "$SERVE" 2>/dev/null || break; sleep 0.1; done
kill -0 "$SERVE" 2>/dev/null || { wait "$SERVE"; code=$?; }
check "SIGTERM stops serve with status 0 (was $code)" test "$code" = 0
check "every stdout line is JSON (journald gets JSON)" \
  node -e 'const l=require("fs").readFileSync(process.argv[1],"utf8").trim().split("\n");l.forEach((x)=>JSON.parse(x));if(l.length<3)process.exit(1)' "$OUT/serve.log"

# ---- edgeboot-region.service
TOKENS=$ROOT/etc/edgeboot/region-tokens.yaml
printf 'clusters:\n  rack-a: %s\nadmin: %s\n' "rack-a-token-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')" \
  "admin-token-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')" >"$TOKENS"
chown "root:$EB_GID" "$TOKENS"
chmod 0640 "$TOKENS"
read -ra RSTART <<<"$(unit_line edgeboot-region.service ExecStart)"
log "region ExecStart: ${RSTART[*]}"
"${AS_REGION[@]}" "${RSTART[@]}" >"$OUT/region.log" 2>"$OUT/region.err" &
REGION=$!
PIDS+=("$REGION")
for _ in $(seq 100); do curl -s --max-time 1 -o /dev/null http://127.0.0.1:5240/healthz && break; sleep 0.1; done
token=$(sed -n 's/^  rack-a: //p' "$TOKENS")
check "region (unit's ExecStart) answers the cluster snapshot" \
  curl -fsS --max-time 10 -o /dev/null -H "Authorization: Bearer $token" http://127.0.0.1:5240/api/v1/clusters/rack-a/snapshot
kill -TERM "$REGION"
wait "$REGION"
check "SIGTERM stops the region with status 0" test $? = 0
rm -f "$TOKENS"
rmdir "$ROOT/run/edgeboot" 2>/dev/null
exit "$FAILS"
