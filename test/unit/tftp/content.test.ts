import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BootFile } from '../../../src/files/boot-files.js';
import { type Content, PacketContent, PrebuiltContent, VIEW_BYTES, buildPackets, lastBlock, toNetascii } from '../../../src/tftp/content.js';
import { FileCache } from '../../../src/tftp/file-cache.js';
import { fileSource, netasciiFileSource } from '../../../src/tftp/file-stream.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'edgeboot-tftp-content-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

async function all(c: Content, blksize: number): Promise<{ data: Buffer; headers: number[] }> {
  const parts: Buffer[] = [];
  const headers: number[] = [];
  for (let n = 1; n <= lastBlock(c.size, blksize); n++) {
    let p = c.packet(n);
    if (!p) {
      await c.load(n);
      p = c.packet(n)!;
    }
    expect(p.readUInt16BE(0)).toBe(3);
    headers.push(p.readUInt16BE(2));
    parts.push(Buffer.from(p.subarray(4)));
    c.release(n);
  }
  return { data: Buffer.concat(parts), headers };
}

describe('packets built up front (rendered files, cached loaders)', () => {
  it.each([8, 512, 1468, 65464])('blksize %i gives back the bytes exactly', async (blksize) => {
    const data = randomBytes(300_001);
    const { data: got } = await all(new PrebuiltContent(buildPackets(data, blksize), data.length, blksize, 'memory'), blksize);
    expect(got.equals(data)).toBe(true);
  });

  it('a size that is a multiple of blksize ends with an empty block', async () => {
    const c = new PrebuiltContent(buildPackets(Buffer.alloc(1024, 7), 512), 1024, 512, 'memory');
    expect(lastBlock(1024, 512)).toBe(3);
    expect(c.packet(3)!.length).toBe(4);
  });

  it('an empty file is one empty block', () => {
    const c = new PrebuiltContent(buildPackets(Buffer.alloc(0), 512), 0, 512, 'memory');
    expect(lastBlock(0, 512)).toBe(1);
    expect(c.packet(1)!.equals(Buffer.from([0, 3, 0, 1]))).toBe(true);
  });

  it('block numbers on the wire roll over from 65535 to 0', async () => {
    const c = new PrebuiltContent(buildPackets(Buffer.alloc(8 * 65540), 8), 8 * 65540, 8, 'memory');
    expect(c.packet(65535)!.readUInt16BE(2)).toBe(65535);
    await c.load(65536);
    expect(c.packet(65536)!.readUInt16BE(2)).toBe(0);
    await c.load(65537);
    expect(c.packet(65537)!.readUInt16BE(2)).toBe(1);
  });
});

describe('packets streamed from a file', () => {
  it('a 3 MiB file comes back exactly at blksize 1468, read in chunks', async () => {
    const data = randomBytes(3 * 1024 * 1024 + 17);
    const path = join(dir, 'big.bin');
    writeFileSync(path, data);
    const c = new PacketContent(await fileSource(path, data.length), 1468, 'stream');
    expect(c.packet(1)).toBeUndefined();
    const { data: got } = await all(c, 1468);
    c.close();
    expect(got.equals(data)).toBe(true);
  });

  it('blksize 8 needs more than IOV_MAX slots per chunk and still reads exactly', async () => {
    const data = randomBytes(200_000);
    const path = join(dir, 'small-blocks.bin');
    writeFileSync(path, data);
    const c = new PacketContent(await fileSource(path, data.length), 8, 'stream');
    const { data: got } = await all(c, 8);
    c.close();
    expect(got.equals(data)).toBe(true);
  });

  it('a file that shrank after opening fails the load instead of sending short data', async () => {
    const path = join(dir, 'shrinks.bin');
    writeFileSync(path, randomBytes(10_000));
    const c = new PacketContent(await fileSource(path, 400_000), 512, 'stream');
    await expect(c.load(1)).rejects.toMatchObject({ code: 'E_IMAGE' });
    c.close();
  });
});

describe('netascii (RFC 1350 §2, RFC 764)', () => {
  it('LF becomes CR LF and a bare CR becomes CR NUL', () => {
    expect(toNetascii(Buffer.from('a\nb\rc\r\n')).equals(Buffer.from('a\r\nb\r\0c\r\0\r\n', 'latin1'))).toBe(true);
  });

  it('a large file streamed as netascii equals the whole-buffer conversion, and its size is known up front', async () => {
    const data = randomBytes(700_000);
    const path = join(dir, 'ascii.txt');
    writeFileSync(path, data);
    const want = toNetascii(data);
    const src = await netasciiFileSource(path);
    expect(src.size).toBe(want.length);
    const c = new PacketContent(src, 1468, 'stream');
    const { data: got } = await all(c, 1468);
    c.close();
    expect(got.equals(want)).toBe(true);
  });

  it('text without CR or LF is passed through', () => {
    const b = Buffer.from('plain');
    expect(toNetascii(b)).toBe(b);
  });
});

describe('file cache', () => {
  async function bootFile(path: string): Promise<BootFile> {
    const st = await stat(path);
    return { path, size: st.size, mtimeMs: st.mtimeMs, from: 'root' };
  }

  it('a second request is served from memory', async () => {
    const path = join(dir, 'loader.efi');
    writeFileSync(path, 'v1');
    const cache = new FileCache({ maxFileBytes: 1024, maxTotalBytes: 4096 });
    const a = await cache.get(await bootFile(path));
    const b = await cache.get(await bootFile(path));
    expect(b).toBe(a);
  });

  it('a changed mtime or size invalidates the entry', async () => {
    const path = join(dir, 'changes.efi');
    writeFileSync(path, 'version-one');
    const cache = new FileCache({ maxFileBytes: 1024, maxTotalBytes: 4096 });
    expect((await cache.get(await bootFile(path))).toString()).toBe('version-one');
    writeFileSync(path, 'version-two');
    utimesSync(path, new Date(), new Date(Date.now() + 5000));
    expect((await cache.get(await bootFile(path))).toString()).toBe('version-two');
  });

  it('packets of a cached file are built once per block size', async () => {
    const path = join(dir, 'pk.efi');
    writeFileSync(path, Buffer.alloc(1000, 3));
    const cache = new FileCache({ maxFileBytes: 4096, maxTotalBytes: 65536 });
    const a = await cache.packets(await bootFile(path), 512);
    expect(await cache.packets(await bootFile(path), 512)).toBe(a);
    expect(a.bytes.length).toBe(1000 + 2 * 4);
    expect(a.blocks.map((b) => b.length)).toEqual([516, 492]);
    expect(cache.bytes).toBe(1000 + 1008 + 2 * VIEW_BYTES);
  });

  it('least recently used files are evicted past the byte budget', async () => {
    const cache = new FileCache({ maxFileBytes: 1000, maxTotalBytes: 2500 });
    for (const n of ['e1', 'e2', 'e3']) {
      writeFileSync(join(dir, n), Buffer.alloc(1000));
      await cache.get(await bootFile(join(dir, n)));
    }
    expect(cache.bytes).toBe(2000);
  });

  it('only files up to the per-file limit are cached', () => {
    const cache = new FileCache({ maxFileBytes: 1000, maxTotalBytes: 2500 });
    expect([cache.holds(1000), cache.holds(1001)]).toEqual([true, false]);
  });
});

describe('chunk recycling', () => {
  it('buffers of acknowledged chunks are reused, with headers rewritten for their new blocks', async () => {
    const data = randomBytes(1468 * 89 * 6);
    const path = join(dir, 'recycle.bin');
    writeFileSync(path, data);
    const c = new PacketContent(await fileSource(path, data.length), 1468, 'stream');
    const buffers = new Set<ArrayBuffer>();
    for (let n = 1; n <= lastBlock(data.length, 1468); n++) {
      if (!c.packet(n)) await c.load(n);
      const p = c.packet(n)!;
      expect(p.readUInt16BE(2)).toBe(n & 0xffff);
      expect(p.subarray(4).equals(data.subarray((n - 1) * 1468, n * 1468))).toBe(true);
      if (p.length > 4) buffers.add(p.buffer as ArrayBuffer);
      c.release(n);
    }
    c.close();
    expect(buffers.size).toBeLessThanOrEqual(3);
  });
});
