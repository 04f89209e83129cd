import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeAck, encodeData, encodeError, encodeRequest } from '../../../src/tftp/packet.js';
import { type Harness, RawClient, run, startHarness } from '../../support/tftp-harness.js';

let h: Harness;

beforeAll(async () => {
  h = await startHarness();
});

afterAll(async () => {
  await h?.close();
});

async function ask(file: string, mode = 'octet', options: [string, string][] = [], op: 'rrq' | 'wrq' = 'rrq') {
  const c = await RawClient.open();
  try {
    c.send(encodeRequest(op, file, mode, options), h.port);
    const first = await c.next();
    if (first.packet?.op === 'oack' || first.packet?.op === 'data') c.send(encodeError(0, 'test done'), first.port);
    return first.packet;
  } finally {
    c.close();
  }
}

describe('refusals answered with ERROR packets (RFC 1350 §5)', () => {
  it('a write request is refused with error 2', async () => {
    expect(await ask('upload.bin', 'octet', [], 'wrq')).toMatchObject({ op: 'error', code: 2 });
  });

  it('tftp-hpa put is refused and nothing is written', async () => {
    writeFileSync(join(h.dir, 'up.txt'), 'upload attempt');
    const r = await run('tftp', ['127.0.0.1', String(h.port), '-c', 'put', 'up.txt', 'uploaded.txt'], { cwd: h.dir });
    expect(r.stdout + r.stderr).toMatch(/Error code 2/);
    expect(() => readFileSync(join(h.root, 'uploaded.txt'))).toThrow();
  });

  it('a missing file is error 1', async () => {
    expect(await ask('no-such-file.bin')).toMatchObject({ op: 'error', code: 1 });
  });

  it('a pxelinux.cfg hex-IP name that identifies no machine is error 1 (PXELINUX tries its next name)', async () => {
    expect(await ask('pxelinux.cfg/C0A80002')).toMatchObject({ op: 'error', code: 1 });
  });

  it('a pxelinux.cfg UUID name that identifies no machine is error 1', async () => {
    expect(await ask('pxelinux.cfg/00000000-0000-0000-0000-000000000042')).toMatchObject({ op: 'error', code: 1 });
  });

  it.each(['../secret.txt', '/../secret.txt', 'sub/../../secret.txt', '..\\secret.txt', 'escape'])(
    'traversal %s is error 2 or 1',
    async (name) => {
      const p = await ask(name);
      expect(p?.op).toBe('error');
      expect([1, 2]).toContain(p?.op === 'error' ? p.code : -1);
    },
  );

  it.each([
    ['tftp-hpa', 'tftp', (port: number, out: string) => ['127.0.0.1', String(port), '-c', 'get', '../secret.txt', out]],
    ['curl', 'curl', (port: number, out: string) => ['-sS', '--path-as-is', '-o', out, `tftp://127.0.0.1:${port}/../secret.txt`]],
    ['atftp', 'atftp', (port: number, out: string) => ['-g', '-r', '../secret.txt', '-l', out, '127.0.0.1', String(port)]],
    ['busybox', 'busybox', (port: number, out: string) => ['tftp', '-g', '-r', '../secret.txt', '-l', out, '127.0.0.1', String(port)]],
  ] as const)('%s asking for ../secret.txt receives nothing of it', async (_name, cmd, args) => {
    const out = join(h.dir, `trav-${cmd}.out`);
    await run(cmd, args(h.port, out));
    let got = '';
    try {
      got = readFileSync(out, 'utf8');
    } catch {
      // No file written at all: fine.
    }
    expect(got).not.toContain('outside the root');
  });

  it('an unsupported mode is error 4', async () => {
    expect(await ask('one-k.bin', 'mail')).toMatchObject({ op: 'error', code: 4 });
  });

  it('a malformed request is answered with error 4', async () => {
    const c = await RawClient.open();
    c.send(Buffer.from([0, 1, 0x61, 0x62]), h.port);
    expect((await c.next()).packet).toMatchObject({ op: 'error', code: 4 });
    c.close();
  });

  it('an ACK at the listener (no transfer) is error 5', async () => {
    const c = await RawClient.open();
    c.send(encodeAck(1), h.port);
    expect((await c.next()).packet).toMatchObject({ op: 'error', code: 5 });
    c.close();
  });

  it('an ERROR at the listener is never answered', async () => {
    const c = await RawClient.open();
    c.send(encodeError(0, 'hello'), h.port);
    expect(await c.drain(300)).toEqual([]);
    c.close();
  });
});

describe('negotiation on the wire', () => {
  it('option names are case-insensitive and the OACK answers in the client spelling', async () => {
    expect(await ask('one-k.bin', 'OCTET', [['BLKSIZE', '1024'], ['TSize', '0']])).toEqual({
      op: 'oack',
      options: [
        ['BLKSIZE', '1024'],
        ['TSize', '1024'],
      ],
    });
  });

  it('blksize is clamped to the interface MTU (loopback 65536 → 65464)', async () => {
    expect(await ask('one-k.bin', 'octet', [['blksize', '65464']])).toEqual({ op: 'oack', options: [['blksize', '65464']] });
  });

  it('netascii through tftp-hpa ascii mode arrives as the original text', async () => {
    const out = join(h.dir, 'text.out');
    const r = await run('tftp', ['-m', 'ascii', '127.0.0.1', String(h.port), '-c', 'get', 'text.txt', out]);
    expect(r.code).toBe(0);
    expect(readFileSync(out).equals(h.files['text.txt']!)).toBe(true);
  });
});

describe('transfer IDs (RFC 1350 §4)', () => {
  it('a packet from another port during a transfer gets error 5 and the transfer carries on', async () => {
    const c = await RawClient.open();
    const stranger = await RawClient.open();
    try {
      c.send(encodeRequest('rrq', 'one-k.bin', 'octet'), h.port);
      const d1 = await c.next();
      expect(d1.packet).toMatchObject({ op: 'data', block: 1 });
      stranger.send(encodeAck(1), d1.port);
      expect((await stranger.next()).packet).toMatchObject({ op: 'error', code: 5 });
      c.send(encodeAck(1), d1.port);
      expect((await c.next()).packet).toMatchObject({ op: 'data', block: 2 });
      c.send(encodeAck(2), d1.port);
      c.send(encodeAck(3), d1.port);
    } finally {
      c.close();
      stranger.close();
    }
  });

  it('replies come from the address the request was sent to', async () => {
    const c = await RawClient.open();
    c.send(encodeRequest('rrq', 'one-k.bin', 'octet'), h.port);
    const first = await new Promise<string>((resolve) => c.socket.once('message', (_m, rinfo) => resolve(rinfo.address)));
    expect(first).toBe('127.0.0.1');
    c.close();
  });

  it('a duplicate ACK is not answered with DATA (no Sorcerer’s Apprentice)', async () => {
    const c = await RawClient.open();
    try {
      c.send(encodeRequest('rrq', 'one-m.bin', 'octet'), h.port);
      const d1 = await c.next();
      c.send(encodeAck(1), d1.port);
      expect((await c.next()).packet).toMatchObject({ op: 'data', block: 2 });
      for (let i = 0; i < 5; i++) c.send(encodeAck(1), d1.port);
      expect((await c.drain(150)).length).toBe(0);
      c.send(encodeError(0, 'done'), d1.port);
    } finally {
      c.close();
    }
  });

  it('a retransmitted RRQ from the same port does not start a second transfer', async () => {
    const c = await RawClient.open();
    try {
      const rrq = encodeRequest('rrq', 'one-m.bin', 'octet');
      c.send(rrq, h.port);
      const d1 = await c.next();
      c.send(rrq, h.port);
      expect(await c.drain(150)).toEqual([]);
      c.send(encodeError(0, 'done'), d1.port);
    } finally {
      c.close();
    }
  });

  it('DATA sent to the server mid-transfer is dropped without ending it', async () => {
    const c = await RawClient.open();
    try {
      c.send(encodeRequest('rrq', 'one-k.bin', 'octet'), h.port);
      const d1 = await c.next();
      c.send(encodeData(1, Buffer.from('x')), d1.port);
      c.send(encodeAck(1), d1.port);
      expect((await c.next()).packet).toMatchObject({ op: 'data', block: 2 });
      c.send(encodeAck(2), d1.port);
      c.send(encodeAck(3), d1.port);
    } finally {
      c.close();
    }
  });
});

describe('metrics', () => {
  it('transfers, bytes, errors by code and active transfers are exposed', async () => {
    await run('tftp', ['127.0.0.1', String(h.port), '-c', 'get', 'one-k.bin', join(h.dir, 'm.out')]);
    const text = await h.metrics.expose();
    expect(text).toMatch(/edgeboot_tftp_transfers_total\{outcome="ok"\} [1-9]/);
    expect(text).toMatch(/edgeboot_tftp_bytes_sent_total [1-9]/);
    expect(text).toMatch(/edgeboot_tftp_errors_total\{code="1"\} [1-9]/);
    expect(text).toMatch(/edgeboot_tftp_active_transfers \d/);
    expect(text).toMatch(/edgeboot_tftp_transfer_seconds_bucket/);
  });
});
