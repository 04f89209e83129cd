import { execFile, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packageRoot } from '../../../../src/config/config.js';
import { createLogger } from '../../../../src/core/log.js';
import { downloadImageFile } from '../../../../src/sync/images/image-download.js';
import { syncImages } from '../../../../src/sync/images/image-sync.js';
import { NodeStore } from '../../../../src/sync/nodes/node-store.js';
import { RegionClient } from '../../../../src/sync/region/region-client.js';
import { RegionSource } from '../../../../src/sync/region/region-source.js';
import { LogSink, waitFor } from '../../../support/appliance.js';
import { rawNode, startRack, startRegion, TOKENS, type TestRegion } from '../../../support/region-harness.js';

const run = promisify(execFile);

/** One snapshot fetch as `edgeboot images sync` does it; the source (and its region helper process) is stopped after. */
async function fetchOnce(client: RegionClient, store: NodeStore): Promise<void> {
  const source = new RegionSource({ client, store, log: createLogger('silent') });
  try {
    await source.reload({ throwOnError: true });
  } finally {
    await source.stop();
  }
}
const CLI = join(packageRoot(), 'dist/src/cli/edgeboot.js');
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** Every file under `dir`, relative. */
function tree(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => relative(dir, join(d.parentPath, d.name)))
    .sort();
}

/** Put `content` on the region as resources/<path> and return its selection file entry. */
function resource(region: TestRegion, name: string, path: string, content: Buffer) {
  mkdirSync(join(region.resources, path, '..'), { recursive: true });
  writeFileSync(join(region.resources, path), content);
  return { name, path, size: content.length, sha256: sha(content) };
}

describe('boot image sync from a reference region', () => {
  let region: TestRegion;
  let work: string;
  let client: RegionClient;
  const kernel = randomBytes(64 * 1024);
  const initrd = randomBytes(300 * 1024);
  const kernel2 = randomBytes(70 * 1024);
  let selA: Record<string, unknown>;
  let selB: Record<string, unknown>;
  const log = new LogSink();

  /** Publish selections on the region and fetch them as the rack would. */
  const selections = async (list: unknown[]) => {
    writeFileSync(region.inventoryPath, stringify({ nodes: [rawNode(1)], boot_selections: list }));
    const store = new NodeStore();
    await waitFor(async () => {
      await fetchOnce(client, store);
      return JSON.stringify(store.snapshot()?.bootSelections.map((s) => s.files)) === JSON.stringify(list.map((s) => (s as { files: unknown }).files));
    }, 5000, 'the region to serve the selections');
    return store.snapshot()!.bootSelections;
  };

  beforeAll(async () => {
    region = await startRegion({ nodes: [rawNode(1)] });
    work = mkdtempSync(join(tmpdir(), 'edgeboot-images-'));
    writeFileSync(join(work, 'token'), TOKENS.rackA);
    client = new RegionClient({ url: region.url, clusterId: 'rack-a', tokenFile: join(work, 'token') });
    selA = {
      os: 'ubuntu', release: 'noble', arch: 'amd64', subarch: 'generic', label: 'stable',
      files: [resource(region, 'kernel', 'ubuntu/noble/kernel', kernel), resource(region, 'initrd', 'ubuntu/noble/initrd', initrd)],
    };
    selB = {
      os: 'debian', release: 'trixie', arch: 'amd64', subarch: 'generic', label: 'stable',
      files: [resource(region, 'kernel', 'debian/trixie/kernel', kernel2)],
    };
  });
  afterAll(async () => {
    client?.close();
    await region?.cleanup();
    rmSync(work, { recursive: true, force: true });
  });

  it('no selections means no downloads', async () => {
    const root = join(work, 'empty');
    const r = await syncImages(await selections([]), { client, bootRoot: root });
    expect(r).toMatchObject({ files: 0, fetched: 0 });
    expect(tree(join(root, 'images'))).toEqual([]);
    expect(region.log.entries().filter((e) => String(e.path).startsWith('/api/v1/boot-resources'))).toHaveLength(0);
  });

  it('downloads each selected file into images/<os>/<arch>/<subarch>/<release>/<label>/ and verifies it', async () => {
    const root = join(work, 'a');
    const r = await syncImages(await selections([selA]), { client, bootRoot: root, log: createLogger('silent', log) });
    expect(r.fetched).toBe(2);
    expect(tree(join(root, 'images'))).toEqual(['ubuntu/amd64/generic/noble/stable/initrd', 'ubuntu/amd64/generic/noble/stable/kernel']);
    expect(readFileSync(join(root, 'images/ubuntu/amd64/generic/noble/stable/kernel')).equals(kernel)).toBe(true);
  });

  it('a second sync finds everything in place and fetches nothing', async () => {
    const r = await syncImages(await selections([selA]), { client, bootRoot: join(work, 'a') });
    expect(r.fetched).toBe(0);
  });

  it('a tampered file (wrong sha256) is rejected and the old image is still served', async () => {
    const rack = await startRack(region.url);
    try {
      const root = rack.bootRoot;
      await syncImages(await selections([selA]), { client, bootRoot: root });
      // The region announces a new kernel but serves other bytes of the same size.
      const announced = randomBytes(kernel.length);
      const tampered = { ...selA, files: [{ name: 'kernel', path: 'ubuntu/noble/kernel2', size: announced.length, sha256: sha(announced) }] };
      writeFileSync(join(region.resources, 'ubuntu/noble/kernel2'), randomBytes(kernel.length));
      await expect(syncImages(await selections([tampered]), { client, bootRoot: root })).rejects.toMatchObject({
        code: 'E_IMAGE',
        message: expect.stringContaining('does not match its sha256'),
      });
      const served = Buffer.from(await (await fetch(`${rack.base}/images/ubuntu/amd64/generic/noble/stable/kernel`)).arrayBuffer());
      expect(served.equals(kernel)).toBe(true);
      expect(tree(join(root, 'images'))).toEqual(['ubuntu/amd64/generic/noble/stable/initrd', 'ubuntu/amd64/generic/noble/stable/kernel']);
    } finally {
      await rack.stop();
    }
  });

  it('an image no longer selected is kept while the new set is incomplete', async () => {
    const root = join(work, 'a');
    const broken = { ...selB, files: [{ name: 'kernel', path: 'debian/trixie/missing', size: 10, sha256: 'a'.repeat(64) }] };
    await expect(syncImages(await selections([broken]), { client, bootRoot: root })).rejects.toMatchObject({
      code: 'E_REGION',
      message: expect.stringContaining('has no boot resource debian/trixie/missing'),
    });
    expect(tree(join(root, 'images'))).toContain('ubuntu/amd64/generic/noble/stable/kernel');
  });

  it('an image no longer selected is removed once the new set is complete', async () => {
    const root = join(work, 'a');
    const r = await syncImages(await selections([selB]), { client, bootRoot: root });
    expect(r.removed).toEqual(['ubuntu/amd64/generic/noble/stable']);
    expect(tree(join(root, 'images'))).toEqual(['debian/amd64/generic/trixie/stable/kernel']);
  });

  it('images placed by hand (not synced) are never removed', async () => {
    const root = join(work, 'hand');
    mkdirSync(join(root, 'images/custom/amd64/generic/x/stable'), { recursive: true });
    writeFileSync(join(root, 'images/custom/amd64/generic/x/stable/kernel'), 'mine');
    await syncImages(await selections([selB]), { client, bootRoot: root });
    expect(tree(join(root, 'images'))).toContain('custom/amd64/generic/x/stable/kernel');
  });

  it('the appliance syncs the selections of each new snapshot by itself', async () => {
    await selections([selA]);
    const rack = await startRack(region.url, { images: { sync: true } });
    try {
      await waitFor(() => tree(join(rack.bootRoot, 'images')).length === 2, 10_000, 'the rack to fetch the images');
      const h = (await (await fetch(`${rack.base}/healthz`)).json()) as { region: { images: { state: string } } };
      expect(h.region.images.state).toBe('idle');
    } finally {
      await rack.stop();
    }
  });

  it('a region that does not know the cluster fails the sync with that error', async () => {
    const other = new RegionClient({ url: region.url, clusterId: 'rack-z', tokenFile: join(work, 'token') });
    await expect(fetchOnce(other, new NodeStore())).rejects.toMatchObject({
      code: 'E_REGION',
      message: expect.stringContaining('does not know cluster rack-z'),
    });
  });

  it('`edgeboot images sync` prints plain lines when stdout is not a terminal', async () => {
    await selections([selA, selB]);
    const dir = join(work, 'cli');
    mkdirSync(dir);
    const cfg = join(dir, 'edgeboot.yaml');
    writeFileSync(cfg, stringify({ boot_root: join(dir, 'boot'), region: { url: region.url, cluster_id: 'rack-a', token_file: join(work, 'token') } }));
    const { stdout } = await run(process.execPath, [CLI, 'images', 'sync', '--config', cfg]);
    expect(stdout).not.toContain('\r');
    expect(stdout).toMatch(/^fetch ubuntu\/amd64\/generic\/noble\/stable\/kernel/m);
    expect(stdout).toMatch(/^ok {4}debian\/amd64\/generic\/trixie\/stable\/kernel .*sha256 verified/m);
    const list = await run(process.execPath, [CLI, 'images', 'list', '--config', cfg]);
    expect(list.stdout.trim().split('\n').every((l) => l.startsWith('ok'))).toBe(true);
  });

  it('`edgeboot images sync` with the region down fails with a clear error', async () => {
    const cfg = join(work, 'down.yaml');
    writeFileSync(cfg, stringify({ boot_root: join(work, 'down'), region: { url: 'http://127.0.0.1:9', cluster_id: 'rack-a', token_file: join(work, 'token') } }));
    await expect(run(process.execPath, [CLI, 'images', 'sync', '--config', cfg])).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/cannot reach region http:\/\/127\.0\.0\.1:9/),
    });
  });
});

describe('image sync interrupted or out of space', () => {
  let dir: string;
  const big = randomBytes(3 * 1024 * 1024);
  const small = randomBytes(100 * 1024);
  let server: ReturnType<typeof createServer>;
  let url: string;
  const selection = (files: Array<{ name: string; path: string; content: Buffer }>) => ({
    version: '1',
    nodes: [],
    boot_selections: [{ os: 'ubuntu', release: 'noble', arch: 'amd64', files: files.map((f) => ({ name: f.name, path: f.path, size: f.content.length, sha256: sha(f.content) })) }],
  });
  let snapshot = selection([{ name: 'squashfs', path: 'big', content: big }]);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'edgeboot-images-slow-'));
    writeFileSync(join(dir, 'token'), TOKENS.rackA);
    // A region whose boot resources trickle out (64 KiB every 20 ms) and honour Range, so a sync can be killed mid-file.
    server = createServer((req, res) => {
      if (req.url?.includes('/snapshot')) return void res.writeHead(200, { etag: '"x"', 'content-type': 'application/json' }).end(JSON.stringify(snapshot));
      const body = req.url?.endsWith('/big') ? big : small;
      const m = /bytes=(\d+)-/.exec(req.headers.range ?? '');
      const from = m ? Number(m[1]) : 0;
      res.writeHead(m ? 206 : 200, { 'content-length': body.length - from });
      let at = from;
      const timer = setInterval(() => {
        if (res.destroyed) return clearInterval(timer);
        res.write(body.subarray(at, at + 65536));
        at += 65536;
        if (at >= body.length) {
          clearInterval(timer);
          res.end();
        }
      }, 20);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  it('a sync killed mid-download leaves no partial file in the images tree, and the next sync resumes', async () => {
    const cfg = join(dir, 'edgeboot.yaml');
    const root = join(dir, 'boot');
    writeFileSync(cfg, stringify({ boot_root: root, region: { url, cluster_id: 'rack-a', token_file: join(dir, 'token') } }));
    const child = spawn(process.execPath, [CLI, 'images', 'sync', '--config', cfg], { stdio: 'ignore' });
    try {
      await waitFor(() => tree(join(root, '.image-sync/partial')).some((f) => readFileSync(join(root, '.image-sync/partial', f)).length > 512 * 1024), 10_000, 'half a download');
    } finally {
      child.kill('SIGKILL');
    }
    await new Promise((r) => child.once('exit', r));
    expect(tree(join(root, 'images'))).toEqual([]);
    const { stdout } = await run(process.execPath, [CLI, 'images', 'sync', '--config', cfg]);
    expect(stdout).toMatch(/resuming at/);
    expect(readFileSync(join(root, 'images/ubuntu/amd64/generic/noble/stable/squashfs')).equals(big)).toBe(true);
    expect(tree(join(root, '.image-sync/partial'))).toEqual([]);
  });

  describe('on a 1 MiB tmpfs', () => {
    const mnt = join(tmpdir(), `edgeboot-tmpfs-${process.pid}`);
    let client: RegionClient;
    beforeAll(async () => {
      mkdirSync(mnt, { recursive: true });
      await run('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mnt]);
      client = new RegionClient({ url, clusterId: 'rack-a', tokenFile: join(dir, 'token') });
      snapshot = selection([{ name: 'kernel', path: 'small', content: small }]);
      const store = new NodeStore();
      await fetchOnce(client, store);
      await syncImages(store.snapshot()!.bootSelections, { client, bootRoot: mnt });
    });
    afterAll(async () => {
      client?.close();
      await run('umount', [mnt]).catch(() => undefined);
      rmSync(mnt, { recursive: true, force: true });
    });

    it('a selection larger than the free space fails cleanly before downloading, and nothing is lost', async () => {
      snapshot = selection([
        { name: 'kernel', path: 'small', content: small },
        { name: 'squashfs', path: 'big', content: big },
      ]);
      const store = new NodeStore();
      await fetchOnce(client, store);
      await expect(syncImages(store.snapshot()!.bootSelections, { client, bootRoot: mnt })).rejects.toMatchObject({
        code: 'E_IMAGE',
        message: expect.stringMatching(/not enough free space .*nothing was changed/),
      });
      expect(readFileSync(join(mnt, 'images/ubuntu/amd64/generic/noble/stable/kernel')).equals(small)).toBe(true);
      expect(tree(join(mnt, '.image-sync/partial'))).toEqual([]);
    });

    it('a disk that fills up mid-file fails with "no space left" and leaves the old file in place', async () => {
      const dest = join(mnt, 'images/ubuntu/amd64/generic/noble/stable/kernel');
      const task = { label: 'ubuntu/amd64/generic/noble/stable/kernel', regionPath: 'big', dest, part: join(mnt, '.image-sync/partial/x.part'), size: big.length, sha256: sha(big) };
      await expect(downloadImageFile(client, task)).rejects.toMatchObject({ code: 'E_IMAGE', message: expect.stringContaining('no space left') });
      expect(readFileSync(dest).equals(small)).toBe(true);
      expect(existsSync(task.part)).toBe(false);
    });
  });
});
