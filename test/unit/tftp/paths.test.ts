import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BootService } from '../../../src/boot/boot-service.js';
import { FileCache } from '../../../src/tftp/file-cache.js';
import { type SourceOptions, errorFor, resolveSource } from '../../../src/tftp/source.js';

let dir: string;
let o: SourceOptions;
const SECRET = 'TOP-SECRET-OUTSIDE-THE-ROOT';

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'edgeboot-tftp-paths-'));
  const root = join(dir, 'boot');
  mkdirSync(join(root, 'sub'), { recursive: true });
  mkdirSync(join(root, 'adir'));
  writeFileSync(join(root, 'one-k.bin'), Buffer.alloc(1024, 1));
  writeFileSync(join(root, 'sub', 'inside.bin'), 'inside');
  writeFileSync(join(dir, 'secret.txt'), SECRET);
  symlinkSync(join(dir, 'secret.txt'), join(root, 'escape'));
  symlinkSync(dir, join(root, 'escape-dir'));
  symlinkSync('one-k.bin', join(root, 'inner-link'));
  const boot = { virtualFile: async () => undefined } as unknown as BootService;
  o = { boot, root, loaderDirs: [], cache: new FileCache({ maxFileBytes: 1 << 20, maxTotalBytes: 1 << 22 }) };
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

const ctx = { clientIp: '192.0.2.10', localAddress: '192.0.2.1' };

const HOSTILE = [
  '../secret.txt',
  '../../etc/passwd',
  '/../secret.txt',
  'sub/../../secret.txt',
  './../secret.txt',
  'sub/./../../secret.txt',
  '..',
  '../',
  '/..',
  'sub/..',
  './././../secret.txt',
  'sub/../../../../../../../../etc/passwd',
  '../boot/one-k.bin',
  '..\\secret.txt',
  '..\\..\\etc\\passwd',
  'sub\\..\\..\\secret.txt',
  'C:\\Windows\\win.ini',
  '\\\\server\\share\\file',
  'one-k.bin\u0000../../secret.txt',
  '\u0000',
  'a\nb',
  'tab\there',
  '\u007f',
  'escape',
  'sub/../escape',
  'escape-dir/secret.txt',
  'escape-dir',
  'adir',
  'adir/',
  '/etc/passwd',
  '//etc//passwd',
  '/proc/self/environ',
  '/dev/zero',
  '~/.ssh/id_rsa',
  '..%2f..%2fetc%2fpasswd',
  '%2e%2e/secret.txt',
  '....//secret.txt',
  'sub/\u2025/secret.txt',
  '..\u2215secret.txt',
  'x'.repeat(2000),
  '',
];

describe('path confinement: hostile names never read outside boot_root', () => {
  it('the table has at least 30 names', () => {
    expect(HOSTILE.length).toBeGreaterThanOrEqual(30);
  });

  it.each(HOSTILE.map((n) => [JSON.stringify(n).slice(0, 60), n]))('%s → TFTP error 1 or 2', async (_label, name) => {
    let caught: unknown;
    try {
      const r = await resolveSource(name, false, ctx, o);
      const content = await r.open(512);
      const first = content.packet(1)?.subarray(4).toString('latin1') ?? '';
      content.close();
      throw new Error(`resolved ${r.path} (${first.slice(0, 20)})`);
    } catch (err) {
      caught = err;
    }
    const e = errorFor(caught);
    expect([1, 2], `${String(caught)}`).toContain(e.code);
  });
});

describe('names inside the root still resolve', () => {
  it.each(['one-k.bin', '/one-k.bin', './one-k.bin', 'sub/inside.bin', 'sub//inside.bin', 'inner-link'])('%s', async (name) => {
    const r = await resolveSource(name, false, ctx, o);
    expect(r.size).toBeGreaterThan(0);
  });
});
