import { mkdtempSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ContentCache, type FileVersion } from '../../../src/files/content-cache.js';

describe('ContentCache', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'edgeboot-content-cache-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const T = new Date('2026-03-04T05:06:07Z');
  function put(name: string, data: Buffer | string): FileVersion {
    const path = join(dir, name);
    writeFileSync(path, data);
    utimesSync(path, T, T);
    return versionOf(path);
  }
  function versionOf(path: string): FileVersion {
    const st = statSync(path);
    return { path, size: st.size, mtimeMs: st.mtimeMs, ino: st.ino };
  }

  it('reads a file once and answers the same bytes to every request, concurrent first ones included', async () => {
    const v = put('kernel', 'kernel bytes');
    const cache = new ContentCache({ maxFileBytes: 1024, maxTotalBytes: 4096 });
    const [a, b] = await Promise.all([cache.get(v), cache.get(v)]);
    expect(a?.toString()).toBe('kernel bytes');
    expect(b).toBe(a);
    // The held copy answers even after the name is gone: the request named this version.
    rmSync(v.path);
    expect((await cache.get(v))?.toString()).toBe('kernel bytes');
    expect(cache.bytes).toBe(12);
  });

  it('never answers another version: a name replaced by rename with the same size and time is read anew', async () => {
    const old = put('initrd', 'AAAA');
    const cache = new ContentCache({ maxFileBytes: 1024, maxTotalBytes: 4096 });
    expect((await cache.get(old))?.toString()).toBe('AAAA');
    // A sync writes the new image beside the old and renames it over: same size, same time, new inode.
    const tmp = join(dir, 'initrd.new');
    writeFileSync(tmp, 'BBBB');
    utimesSync(tmp, T, T);
    renameSync(tmp, old.path);
    const now = versionOf(old.path);
    expect(now.ino).not.toBe(old.ino);
    expect((await cache.get(now))?.toString()).toBe('BBBB');
    expect(cache.bytes).toBe(4);
  });

  it('answers nothing when the file on disk is not the version asked for', async () => {
    const v = put('kernel', 'version one');
    const cache = new ContentCache({ maxFileBytes: 1024, maxTotalBytes: 4096 });
    writeFileSync(v.path, 'version two, longer');
    expect(await cache.get(v)).toBeUndefined();
    expect(cache.bytes).toBe(0);
    expect(await cache.get({ ...v, path: join(dir, 'missing') })).toBeUndefined();
    expect(cache.bytes).toBe(0);
  });

  it('holds nothing above the file limit, and drops the least recently used files past the total', async () => {
    const cache = new ContentCache({ maxFileBytes: 100, maxTotalBytes: 250 });
    expect(await cache.get(put('big', Buffer.alloc(101)))).toBeUndefined();
    expect(cache.bytes).toBe(0);
    const a = put('a', Buffer.alloc(100, 1));
    const b = put('b', Buffer.alloc(100, 2));
    const c = put('c', Buffer.alloc(100, 3));
    await cache.get(a);
    await cache.get(b);
    await cache.get(a); // a is now the most recent
    await cache.get(c); // 300 > 250: b goes
    expect(cache.bytes).toBe(200);
    rmSync(b.path);
    rmSync(a.path);
    expect(await cache.get(b)).toBeUndefined();
    expect((await cache.get(a))?.[0]).toBe(1);
  });

  it('holds nothing when turned off (limits of 0) and for empty files', async () => {
    const off = new ContentCache({ maxFileBytes: 0, maxTotalBytes: 0 });
    expect(await off.get(put('k', 'x'))).toBeUndefined();
    const on = new ContentCache({ maxFileBytes: 10, maxTotalBytes: 10 });
    expect(await on.get(put('empty', ''))).toBeUndefined();
  });
});
