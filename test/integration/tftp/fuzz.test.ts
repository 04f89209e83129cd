import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, rawGet, run, startHarness } from '../../support/tftp-harness.js';

let h: Harness;

beforeAll(async () => {
  h = await startHarness();
});

afterAll(async () => {
  await h?.close();
});

// RSS readings come after a full collection, so they show memory still held rather than garbage not yet reached.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

async function settledRss(): Promise<number> {
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((r) => setTimeout(r, 50));
  }
  return process.memoryUsage().rss;
}

/**
 * The fuzzer runs in its own process so its buffers do not count against the server's RSS. Datagrams:
 * pure noise, oversized noise, mutated and truncated RRQ/WRQ/DATA/ACK/ERROR/OACK, from four source sockets.
 */
const FUZZER = String.raw`
const dgram = require('node:dgram');
const { randomBytes } = require('node:crypto');
const [port, from, to] = process.argv.slice(1).map(Number);
const NAMES = ['one-k.bin', 'one-m.bin', 'pxelinux.cfg/01-52-54-00-aa-bb-01', 'boot.ipxe', 'grub/grub.cfg', '../secret.txt', 'escape', 'adir'];
const str = (op, parts) => Buffer.concat([Buffer.from([0, op]), ...parts.map((p) => Buffer.from(p + '\0'))]);
const num = (op, a, rest = Buffer.alloc(0)) => { const b = Buffer.alloc(4); b.writeUInt16BE(op, 0); b.writeUInt16BE(a & 0xffff, 2); return Buffer.concat([b, rest]); };
function datagram(i) {
  const kind = i % 10;
  if (kind < 3) return randomBytes(i % 700);
  if (kind === 3) return randomBytes(1000 + (i % 8000));
  let base;
  switch (i % 6) {
    case 0: base = str(1, [NAMES[i % NAMES.length], i % 4 ? 'octet' : 'NetAscii', 'blksize', String(i % 70000), 'windowsize', String(i % 300), 'tsize', String(i), 'timeout', String(i % 400)]); break;
    case 1: base = str(2, [NAMES[i % NAMES.length], 'octet']); break;
    case 2: base = num(4, i); break;
    case 3: base = num(3, i, randomBytes(i % 600)); break;
    case 4: base = num(5, i % 9, Buffer.from('fuzz\0')); break;
    default: base = str(6, ['blksize', String(i)]);
  }
  for (let k = 0; k < i % 4; k++) base[(i * 7919 + k * 104729) % base.length] = (i >> k) & 0xff;
  return kind === 9 ? base.subarray(0, i % base.length) : base;
}
(async () => {
  const socks = await Promise.all(['127.0.0.2', '127.0.0.3', '127.0.0.2', '127.0.0.3'].map((a) => new Promise((res) => { const s = dgram.createSocket('udp4'); s.on('message', () => {}); s.bind(0, a, () => res(s)); })));
  for (let i = from; i < to; i++) {
    socks[i % socks.length].send(datagram(i), port, '127.0.0.1');
    if (i % 32 === 31) await new Promise((r) => setTimeout(r, 1));
  }
  await new Promise((r) => setTimeout(r, 200));
  for (const s of socks) s.close();
})();
`;

describe('fuzz', () => {
  it('100,000 random and mutated datagrams, then a normal download still works and RSS grew ≤ 20 MB', async () => {
    // Warm up with a download and a first round of noise: the baseline is then a server whose allocator has
    // reached its working size (Node takes a 64 KiB buffer per received datagram), so growth past it is a leak.
    await rawGet(h.port, 'one-m.bin', [['blksize', '1468']]);
    await run(process.execPath, ['-e', FUZZER, String(h.port), '0', '20000'], { timeoutMs: 100_000 });
    const before = await settledRss();
    const seen = h.tftp.received;

    const fuzz = await run(process.execPath, ['-e', FUZZER, String(h.port), '20000', '120000'], { timeoutMs: 100_000 });
    expect(fuzz.code, fuzz.stderr).toBe(0);
    // Most datagrams must reach the handler rather than the kernel's drop counter for this to test anything.
    expect(h.tftp.received - seen).toBeGreaterThan(90_000);

    const got = await rawGet(h.port, 'one-m.bin', [['blksize', '1468']]);
    expect(got.data.equals(h.files['one-m.bin']!)).toBe(true);
    const out = join(h.dir, 'after-fuzz.bin');
    const r = await run('tftp', ['-m', 'binary', '127.0.0.1', String(h.port), '-c', 'get', 'one-m.bin', out]);
    expect(r.code).toBe(0);
    expect(readFileSync(out).equals(h.files['one-m.bin']!)).toBe(true);

    const grownMb = ((await settledRss()) - before) / 1e6;
    if (process.env.TFTP_TEST_REPORT) console.log({ received: h.tftp.received - seen, grownMb });
    expect(grownMb).toBeLessThanOrEqual(20);
  }, 120_000);
});
