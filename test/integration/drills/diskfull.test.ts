import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BootResult } from '../../support/storm-machine.js';
import { machinesFor, runStorm, type StormSummary } from '../../support/storm-run.js';
import type { TestAppliance } from '../../support/appliance.js';
import { waitFor } from '../../support/appliance.js';
import { deployingNodes, leakedSecrets, NOBLE_DIR, type Payloads, secretsIn, targetFor, tftpPort } from '../../support/drill.js';
import { startThrottleProxy } from '../../support/throttle-proxy.js';
import { startRack, startRegion, TOKENS, type TestRegion } from '../../support/region-harness.js';

const run = promisify(execFile);
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const machines = machinesFor(20, '127.80');
const nodes = deployingNodes(machines);

interface ImagesHealth {
  state: string;
  lastError: string | null;
  lastSyncAt: string | null;
}

/**
 * One drill run: v1 is synced and served; v2 (`newKernel`: a new kernel too, else only a new initrd)
 * is selected and the disk fills once `fillAfter` bytes of its download are on disk.
 */
function diskFillDrill(title: string, newKernel: boolean, fillAfter: number, pairCheck: typeof it | typeof it.fails = it): void {
describe(title, () => {
  const mnt = join(tmpdir(), `edgeboot-drill-full-${process.pid}-${newKernel ? 'k' : 'i'}`);
  let region: TestRegion;
  let proxy: Awaited<ReturnType<typeof startThrottleProxy>>;
  let rack: TestAppliance;
  let p: Payloads;
  let filled = 0;
  let summary: StormSummary;
  let results: BootResult[];
  const v1 = { kernel: randomBytes(256 * 1024), initrd: randomBytes(1024 * 1024) };
  const v2 = { kernel: newKernel ? randomBytes(256 * 1024) : v1.kernel, initrd: randomBytes(8 * 1024 * 1024) };

  const publish = (files: Record<string, Buffer>, tag: string) => {
    const entries = Object.entries(files).map(([name, content]) => {
      const path = `noble/${tag}/${name}`;
      mkdirSync(join(region.resources, 'noble', tag), { recursive: true });
      writeFileSync(join(region.resources, path), content);
      return { name, path, size: content.length, sha256: sha(content) };
    });
    writeFileSync(region.inventoryPath, stringify({ nodes, boot_selections: [{ os: 'ubuntu', release: 'noble', arch: 'amd64', subarch: 'generic', label: 'stable', files: entries }] }));
  };
  const images = async () => ((await (await fetch(`${rack.base}/healthz`)).json()) as { region: { images: ImagesHealth } }).region.images;
  const served = (name: string) => readFileSync(join(mnt, NOBLE_DIR, name));

  beforeAll(async () => {
    mkdirSync(mnt, { recursive: true });
    await run('mount', ['-t', 'tmpfs', '-o', 'size=12m', 'tmpfs', mnt]);
    region = await startRegion({ nodes });
    publish({ kernel: v1.kernel, initrd: v1.initrd }, 'v1');
    // The rack reaches the region over a slow link: boot resources trickle at 2 MiB/s.
    proxy = await startThrottleProxy(region.url, 2 * 1024 * 1024, (path) => path.includes('/boot-resources/'));
    rack = await startRack(proxy.url, { images: { sync: true }, extra: { boot_root: mnt, tftp: { enabled: true, port: 0 }, loader_dirs: [] } });
    const loader = randomBytes(64 * 1024);
    writeFileSync(join(mnt, 'undionly.kpxe'), loader);
    await waitFor(async () => (await images()).lastSyncAt !== null && existsSync(join(mnt, NOBLE_DIR, 'initrd')), 20_000, 'the first image sync');
    p = {
      loader: { name: 'undionly.kpxe', size: loader.length, sha256: sha(loader) },
      kernel: { size: v1.kernel.length, sha256: sha(v1.kernel) },
      initrd: { size: v1.initrd.length, sha256: sha(v1.initrd) },
    };

    // A new initrd is selected; once its download is under way something else fills the disk.
    publish({ kernel: v2.kernel, initrd: v2.initrd }, 'v2');
    const parts = join(mnt, '.image-sync', 'partial');
    const filler = (async () => {
      await waitFor(() => existsSync(parts) && readdirSync(parts).some((f) => statSync(join(parts, f)).size > fillAfter), 20_000, 'the v2 download to start');
      const fd = openSync(join(mnt, 'filler'), 'w');
      const chunk = Buffer.alloc(64 * 1024, 1);
      try {
        for (;;) filled += writeSync(fd, chunk);
      } catch (err) {
        if ((err as { code?: string }).code !== 'ENOSPC') throw err;
      } finally {
        closeSync(fd);
      }
    })();
    const observed = await runStorm(machines, targetFor(rack.base, tftpPort(rack.app), p, { rateBytesPerSec: 1024 * 1024 }), 2000);
    await filler;
    summary = observed.summary;
    results = observed.results;
  }, 60_000);
  afterAll(async () => {
    await rack?.stop();
    await proxy?.close();
    await region?.cleanup();
    await run('umount', [mnt]).catch(() => undefined);
    rmSync(mnt, { recursive: true, force: true });
  });

  it('the disk really filled while the new initrd was downloading', () => {
    expect(filled).toBeGreaterThan(0);
  });

  it('the sync fails with one clear sentence in the log, and /healthz says the disk is the problem', async () => {
    await waitFor(async () => (await images()).state === 'failed', 15_000, 'the sync to fail');
    const failed = rack.log.entries().filter((e) => e.msg === 'boot image sync failed; images in place are kept, retrying with backoff').map((e) => String(e.err));
    expect(failed[0]).toMatch(/no space left on the boot_root filesystem while writing ubuntu\/amd64\/generic\/noble\/stable\/initrd; nothing was replaced/);
    // Retries then stop before downloading: the free space is checked first.
    expect((await images()).lastError).toMatch(/no space left|not enough free space/);
  });

  pairCheck('every machine booting meanwhile got the images in place (a matching kernel and initrd), byte-exact', () => {
    expect(summary.errors).toEqual([]);
    expect(summary.completed).toBe(machines.length);
    expect(results.flatMap((r) => r.statuses).filter((s) => s !== 200)).toEqual([]);
  });

  pairCheck('the served kernel and initrd are both the old ones and no partial file is in the served tree', () => {
    expect(sha(served('kernel'))).toBe(sha(v1.kernel));
    expect(sha(served('initrd'))).toBe(sha(v1.initrd));
    expect(readdirSync(join(mnt, NOBLE_DIR)).sort()).toEqual(['initrd', 'kernel']);
  });

  it('the appliance stays ready on a full disk', async () => {
    expect((await fetch(`${rack.base}/healthz`)).status).toBe(200);
  });

  pairCheck('machines arriving after the failed sync still boot', async () => {
    const { summary: again } = await runStorm(machines.slice(0, 3), targetFor(rack.base, tftpPort(rack.app), p), 100);
    expect(again.completed).toBe(3);
  });

  it('logged no token and no answer-URL signature (rack and region)', () => {
    const secrets = [...secretsIn(nodes), TOKENS.rackA, TOKENS.admin];
    expect(leakedSecrets(rack.log.text(), secrets)).toEqual([]);
    expect(leakedSecrets(region.log.text(), secrets)).toEqual([]);
  });
});
}

diskFillDrill('drill: boot_root fills up while a new initrd downloads', false, 0);
// Image sync stages every file of a selection and installs the selection only when all of them verified,
// so a disk that fills after the new kernel downloaded never leaves that kernel beside the old initrd.
diskFillDrill('drill: boot_root fills up after the new kernel of a release landed', true, 1024 * 1024);
