#!/usr/bin/env node
// A DHCP relay agent (RFC 1542 §4) for e2e tests, run inside a lab namespace with `ip netns exec`:
//   node dhcp-relay.mjs <giaddr> <client broadcast> <server> [--strip-first-stage]
// It listens on UDP 67 (clients' broadcasts and the server's replies to giaddr), forwards client
// messages to <server>:67 with giaddr set, and sends replies to <client broadcast>:68. With
// --strip-first-stage it removes iPXE's own marks (option 77 user class, option 175) from each
// client's messages until that client's first DHCPACK has been relayed, so a NIC ROM that is iPXE
// looks like plain PXE firmware (Intel/Broadcom ROMs send neither); later exchanges pass unchanged.
// One JSON line per relayed message goes to stdout. Plain JavaScript on purpose: Node 20 cannot run
// TypeScript, and the namespace needs its own process; the codec is edgeboot's, from dist/.
import { createSocket } from 'node:dgram';
import { decodeDhcp, encodeDhcp, hardwareAddress } from '../../../dist/src/dhcp-hooks/dhcp-packet.js';
import { Opt, messageTypeName } from '../../../dist/src/dhcp-hooks/dhcp-options.js';

const SERVER_PORT = 67;
const CLIENT_PORT = 68;
/** RFC 1542 §4.1.1: a relay discards requests whose hops count has reached this limit. */
const MAX_HOPS = 16;
/** What iPXE adds to its DHCP messages and plain PXE firmware does not (RFC 3004 user class; iPXE's encapsulated options). */
const IPXE_MARKS = [Opt.userClass, Opt.ipxeEncap];

const [giaddr, clientBroadcast, server, ...flags] = process.argv.slice(2);
if (!giaddr || !clientBroadcast || !server) {
  process.stderr.write('usage: dhcp-relay.mjs <giaddr> <client broadcast> <server> [--strip-first-stage]\n');
  process.exit(2);
}
const strip = flags.includes('--strip-first-stage');
/** MACs whose first DHCPACK has been relayed: their messages are no longer stripped. */
const firstStageDone = new Set();

function note(entry) {
  process.stdout.write(`${JSON.stringify({ time: Date.now(), ...entry })}\n`);
}

const socket = createSocket({ type: 'udp4', reuseAddr: true });

function fromClient(p) {
  if (p.hops >= MAX_HOPS) return;
  const mac = hardwareAddress(p);
  const stripped = [];
  if (strip && !firstStageDone.has(mac)) {
    for (const code of IPXE_MARKS) if (p.options.delete(code)) stripped.push(code);
  }
  // RFC 1542 §4.1.1: fill giaddr when empty, count the hop, forward to the server.
  const relayed = { ...p, hops: p.hops + 1, giaddr: p.giaddr === '0.0.0.0' ? giaddr : p.giaddr };
  socket.send(encodeDhcp(relayed), SERVER_PORT, server);
  const type = messageTypeName(p.options.get(Opt.messageType)?.[0]);
  note({ dir: 'to-server', type, mac, stripped, userClass: p.options.get(Opt.userClass)?.toString('latin1') ?? null });
}

function fromServer(p) {
  const mac = hardwareAddress(p);
  const type = messageTypeName(p.options.get(Opt.messageType)?.[0]);
  // The boot file is in the file field or in option 67 (RFC 2132 §9.5), as the server chose.
  const file = p.file || p.options.get(Opt.bootfileName)?.toString('latin1').replace(/\0+$/, '') || '';
  // RFC 1542 §4.1.2: the client has no address yet; the broadcast reaches it whatever the flags say.
  socket.send(encodeDhcp(p), CLIENT_PORT, clientBroadcast);
  if (type === 'ack' && strip && !firstStageDone.has(mac)) {
    firstStageDone.add(mac);
    note({ dir: 'to-client', type, mac, file, siaddr: p.siaddr, yiaddr: p.yiaddr, firstStageDone: true });
    return;
  }
  note({ dir: 'to-client', type, mac, file, siaddr: p.siaddr, yiaddr: p.yiaddr });
}

socket.on('message', (buf) => {
  let p;
  try {
    p = decodeDhcp(buf);
  } catch (err) {
    note({ dropped: err instanceof Error ? err.message : String(err) });
    return;
  }
  if (p.op === 1) fromClient(p);
  else if (p.op === 2) fromServer(p);
});
socket.on('error', (err) => {
  note({ error: err.message });
  process.exit(1);
});
socket.bind(SERVER_PORT, '0.0.0.0', () => {
  socket.setBroadcast(true);
  note({ msg: 'relay listening', giaddr, clientBroadcast, server, strip });
});
process.on('SIGTERM', () => process.exit(0));
