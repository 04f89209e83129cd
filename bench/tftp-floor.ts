/**
 * The floor of a Node TFTP sender, for bench/tftp: the least work Node's `dgram` allows per lock-step block
 * (one 'message' event in, one `send` out, packets prebuilt in memory, no checks, no timers per block, no
 * metrics). `node dist-bench/bench/tftp-floor.js DIR` serves DIR/<name> on 127.0.0.1 and prints its port.
 * Not a server: no option but blksize, no loss handling beyond a 1 s resend sweep, no limits.
 */
import { type Socket, createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { buildPackets } from '../src/tftp/content.js';
import { encodeOack, parsePacket } from '../src/tftp/packet.js';

const dir = process.argv[2]!;
const tables = new Map<string, readonly Buffer[]>();

function blocksOf(name: string, blksize: number): readonly Buffer[] {
  const key = `${name}/${blksize}`;
  let blocks = tables.get(key);
  if (!blocks) {
    const data = readFileSync(join(dir, 'boot', basename(name)));
    // A size that is a multiple of blksize ends with an empty block (RFC 1350 §6).
    const empty = Buffer.from([0, 3, 0, 0]);
    empty.writeUInt16BE((Math.floor(data.length / blksize) + 1) & 0xffff, 2);
    blocks = data.length % blksize === 0 ? [...buildPackets(data, blksize).blocks, empty] : buildPackets(data, blksize).blocks;
    tables.set(key, blocks);
  }
  return blocks;
}

/** Transfers alive, for the resend sweep: socket, last packet sent, and whether an ACK came since the last sweep. */
const live = new Set<{ s: Socket; last: Buffer; moved: boolean }>();
setInterval(() => {
  for (const t of live) {
    if (!t.moved) t.s.send(t.last);
    t.moved = false;
  }
}, 1000).unref();

const listener = createSocket('udp4');
listener.on('message', (msg, rinfo) => {
  const p = parsePacket(msg);
  if (!p.ok || p.packet.op !== 'rrq') return;
  const asked = p.packet.options.find(([n]) => n.toLowerCase() === 'blksize');
  const blksize = asked ? Math.min(Number(asked[1]), 65464) : 512;
  const blocks = blocksOf(p.packet.file, blksize);
  const s = createSocket('udp4');
  s.bind(0, '127.0.0.1', () =>
    s.connect(rinfo.port, rinfo.address, () => {
      const t = { s, last: asked ? encodeOack([[asked[0], String(blksize)]]) : blocks[0]!, moved: true };
      let sent = asked ? 0 : 1;
      live.add(t);
      s.on('message', (m) => {
        if (m.readUInt16BE(0) !== 4 || m.readUInt16BE(2) !== (sent & 0xffff)) return;
        t.moved = true;
        if (sent === blocks.length) {
          live.delete(t);
          s.close();
          return;
        }
        t.last = blocks[sent]!;
        sent++;
        s.send(t.last);
      });
      s.send(t.last);
    }),
  );
});
listener.bind(0, '127.0.0.1', () => process.stdout.write(`PORT ${listener.address().port}\n`));
process.once('SIGTERM', () => process.exit(0));
