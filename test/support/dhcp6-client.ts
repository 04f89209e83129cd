import { spawnSync } from 'node:child_process';

// A DHCPv6 client for tests: one Solicit from inside a network namespace (port 546 needs the namespace's own
// link-local address), the first Advertise back as raw bytes. Runs in a child node process under
// `ip netns exec`, so the test process stays in its own namespace.

const CHILD = `
const { createSocket } = require('node:dgram');
const { networkInterfaces } = require('node:os');
const [iface, hex] = process.argv.slice(1);
const ll = (networkInterfaces()[iface] || []).find((a) => a.family === 'IPv6' && a.address.startsWith('fe80'));
if (!ll) { console.error('no link-local address on ' + iface); process.exit(3); }
const s = createSocket({ type: 'udp6' });
// Retransmit every second as a real client does (RFC 8415 §18.2.1, SOL_TIMEOUT): a server still starting misses one.
const send = () => s.send(Buffer.from(hex, 'hex'), 547, 'ff02::1:2%' + iface);
s.bind({ port: 546, address: ll.address + '%' + iface }, () => { send(); setInterval(send, 1000).unref(); });
s.on('message', (m) => { process.stdout.write(m.toString('hex')); process.exit(0); });
setTimeout(() => { console.error('no DHCPv6 answer within 8 s'); process.exit(2); }, 8000);
`;

/** Send `solicit` from namespace `ns` on `iface`; returns the first answer's bytes or throws with the reason. */
export function solicitFrom(ns: string, iface: string, solicit: Buffer): Buffer {
  const r = spawnSync('ip', ['netns', 'exec', ns, process.execPath, '-e', CHILD, iface, solicit.toString('hex')], { encoding: 'utf8', timeout: 15_000 });
  if (r.status !== 0) throw new Error(`DHCPv6 solicit in ${ns}: ${r.stderr.trim() || `exit ${r.status}`}`);
  return Buffer.from(r.stdout, 'hex');
}
