import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BootResult } from '../../support/storm-machine.js';
import { machinesFor, runStorm, type StormSummary } from '../../support/storm-run.js';
import type { TestAppliance } from '../../support/appliance.js';
import { waitFor } from '../../support/appliance.js';
import { deployingNodes, leakedSecrets, secretsIn, targetFor, tftpPort, writePayloads } from '../../support/drill.js';
import { TOKENS, startRack } from '../../support/region-harness.js';
import { freePort } from '../../support/processes.js';
import { RegionProcess } from '../../support/region-process.js';

const machines = machinesFor(40, '127.40');
const nodes = deployingNodes(machines);
// The region counts as up once it serves the cluster's snapshot.
const SERVING = { path: '/api/v1/clusters/rack-a/snapshot', headers: { authorization: `Bearer ${TOKENS.rackA}` } };

describe('drill: the region killed and restarted during a storm', () => {
  let dir: string;
  let region: RegionProcess;
  let rack: TestAppliance;
  let summary: StormSummary;
  let results: BootResult[];
  const states: string[] = [];
  const outageWindow = { from: 0, to: 0 };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'edgeboot-drill-region-'));
    writeFileSync(join(dir, 'inventory.yaml'), stringify({ nodes }));
    writeFileSync(join(dir, 'tokens.yaml'), stringify({ clusters: { 'rack-a': TOKENS.rackA }, admin: TOKENS.admin }), { mode: 0o600 });
    region = new RegionProcess('region', await freePort(), ['--inventory', join(dir, 'inventory.yaml'), '--tokens', join(dir, 'tokens.yaml')]);
    await region.start(SERVING);
    rack = await startRack(`http://127.0.0.1:${region.port}`, { extra: { tftp: { enabled: true, port: 0 }, loader_dirs: [] } });
    const p = writePayloads(rack.bootRoot);
    await waitFor(() => rack.app.store.status().nodes === machines.length, 10_000, 'the rack to load the region snapshot');

    const watch = setInterval(async () => {
      const h = (await (await fetch(`${rack.base}/healthz`)).json()) as { region: { state: string } };
      states.push(h.region.state);
    }, 100);
    const outage = (async () => {
      await new Promise((r) => setTimeout(r, 800));
      await region.kill();
      outageWindow.from = Date.now();
      await new Promise((r) => setTimeout(r, 1800));
      outageWindow.to = Date.now();
      await region.start(SERVING);
    })();
    const observed = await runStorm(machines, targetFor(rack.base, tftpPort(rack.app), p, { rateBytesPerSec: 1024 * 1024 }), 1000);
    await outage;
    clearInterval(watch);
    summary = observed.summary;
    results = observed.results;
  }, 90_000);
  afterAll(async () => {
    await rack?.stop();
    await region?.kill();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('the rack saw the region go away while machines were fetching scripts and answer files', () => {
    expect(states.some((s) => s !== 'connected')).toBe(true);
    const during = (stage: 'script' | 'answer') => results.filter((r) => (r.doneAt[stage] ?? 0) > outageWindow.from && (r.doneAt[stage] ?? 0) < outageWindow.to).length;
    expect(during('script')).toBeGreaterThan(0);
    expect(during('answer')).toBeGreaterThan(0);
  });

  it('no known node failed to boot: scripts, images and answer files all served from the last good snapshot', () => {
    expect(summary.errors).toEqual([]);
    expect(summary.completed).toBe(machines.length);
    expect(results.flatMap((r) => r.statuses).filter((s) => s !== 200)).toEqual([]);
  });

  it('the rack follows the restarted region again', async () => {
    await waitFor(async () => ((await (await fetch(`${rack.base}/healthz`)).json()) as { region: { state: string } }).region.state === 'connected', 15_000, 'reconnect');
  });

  it('logged no token and no answer-URL signature (rack and region)', () => {
    const secrets = [...secretsIn(nodes), TOKENS.rackA, TOKENS.admin];
    expect(leakedSecrets(rack.log.text(), secrets)).toEqual([]);
    expect(leakedSecrets(region.log, secrets)).toEqual([]);
  });
});
