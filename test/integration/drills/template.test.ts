import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BootResult } from '../../support/storm-machine.js';
import { machinesFor, runStorm, type StormSummary } from '../../support/storm-run.js';
import { packageRoot } from '../../../src/config/config.js';
import { startTestAppliance, type TestAppliance, waitFor } from '../../support/appliance.js';
import { deployingNodes, leakedSecrets, secretsIn, targetFor, tftpPort, writePayloads } from '../../support/drill.js';

const machines = machinesFor(40, '127.30');
const nodes = deployingNodes(machines);
const shipped = readFileSync(join(packageRoot(), 'templates/ipxe/install.eta'), 'utf8');
const good = (version: string) => shipped.replace('#!ipxe\n', `#!ipxe\n# drill template ${version}\n`);
const BROKEN = '#!ipxe\n# drill template broken\nkernel <%= it.urls.kernel \n';

describe('drill: a template broken mid-storm', () => {
  let t: TestAppliance;
  let file: string;
  let summary: StormSummary;
  let results: BootResult[];
  const scripts: string[] = [];
  let breaks = 0;

  beforeAll(async () => {
    t = await startTestAppliance({ nodes }, { tftp: { enabled: true, port: 0 }, loader_dirs: [] });
    const p = writePayloads(t.bootRoot);
    mkdirSync(join(t.overrideDir, 'ipxe'), { recursive: true });
    file = join(t.overrideDir, 'ipxe', 'install_ubuntu.eta');
    writeFileSync(file, good('v1'));
    await waitFor(async () => (await (await fetch(`${t.base}/ipxe/node/${machines[0]!.mac.replace(/:/g, '-')}`)).text()).includes('drill template v1'), 5000, 'v1');

    // Machines read their images at 1 MiB/s so the storm lasts a few seconds while an operator's edits land.
    let storming = true;
    const breaker = (async () => {
      await new Promise((r) => setTimeout(r, 300));
      while (storming) {
        // In place, the way an editor without atomic saves writes: truncate, then write.
        writeFileSync(file, BROKEN);
        breaks++;
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    // Every node script a machine fetched is kept, to check it was the last good compile.
    const target = targetFor(t.base, tftpPort(t.app), p, { rateBytesPerSec: 1024 * 1024 });
    const observed = await runStorm(machines, target, 1500);
    storming = false;
    await breaker;
    summary = observed.summary;
    results = observed.results;
    for (const m of machines.slice(0, 5)) scripts.push(await (await fetch(`${t.base}/ipxe/node/${m.mac.replace(/:/g, '-')}`)).text());
  }, 60_000);
  afterAll(async () => {
    await t?.stop();
  });

  it('the template really was broken during the storm (rejected, reported on /healthz)', async () => {
    expect(breaks).toBeGreaterThan(10);
    expect(t.log.entries().some((e) => e.msg === 'template rejected; keeping the last good version' && e.template === file)).toBe(true);
    const health = (await (await fetch(`${t.base}/healthz`)).json()) as { templateErrors: string[] };
    expect(health.templateErrors.join()).toContain(file);
  });

  it('every machine booted: script, kernel, initrd and answer file, byte-exact', () => {
    expect(summary.errors).toEqual([]);
    expect(summary.completed).toBe(machines.length);
  });

  it('no request was answered 500 (or anything but 200)', () => {
    expect(results.flatMap((r) => r.statuses).filter((s) => s !== 200)).toEqual([]);
    expect(t.log.entries().filter((e) => typeof e.status === 'number' && e.status >= 500)).toEqual([]);
  });

  it('scripts come from the last good compile while the file on disk is broken', () => {
    for (const s of scripts) expect(s).toContain('drill template v1');
  });

  it('a good edit after the storm is served again', async () => {
    writeFileSync(file, good('v2'));
    await waitFor(async () => (await (await fetch(`${t.base}/ipxe/node/${machines[1]!.mac.replace(/:/g, '-')}`)).text()).includes('drill template v2'), 5000, 'v2');
  });

  it('logged no token and no answer-URL signature', () => {
    expect(leakedSecrets(t.log.text(), secretsIn(nodes))).toEqual([]);
  });
});
