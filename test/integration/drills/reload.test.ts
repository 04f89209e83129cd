import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BootResult } from '../../support/storm-machine.js';
import { machinesFor, runStorm, type StormSummary } from '../../support/storm-run.js';
import { packageRoot } from '../../../src/config/config.js';
import { waitFor } from '../../support/appliance.js';
import { type ChildAppliance, deployingNodes, leakedSecrets, type Payloads, secretsIn, startChildAppliance, targetFor, writePayloads } from '../../support/drill.js';

const machines = machinesFor(31, '127.50');
const nodes = deployingNodes(machines.slice(0, 30));
const late = deployingNodes(machines).slice(30);
const lines = (log: string) => log.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);

describe('drill: SIGHUP reloads mid-storm', () => {
  let eb: ChildAppliance;
  let p!: Payloads;
  let summary: StormSummary;
  let results: BootResult[];
  let hups = 0;

  beforeAll(async () => {
    eb = await startChildAppliance({ nodes }, (root) => {
      p = writePayloads(root, { loader: 512 * 1024, kernel: 512 * 1024, initrd: 2 * 1024 * 1024 });
    });
    const shipped = readFileSync(join(packageRoot(), 'templates/ipxe/install.eta'), 'utf8');
    let storming = true;
    const reloader = (async () => {
      while (storming) {
        await new Promise((r) => setTimeout(r, 250));
        if (hups === 3) {
          // One reload carries real changes: a new node and a template edit.
          writeFileSync(eb.inventoryPath, stringify({ nodes: [...nodes, ...late] }));
          mkdirSync(join(eb.overrideDir, 'ipxe'), { recursive: true });
          writeFileSync(join(eb.overrideDir, 'ipxe', 'install_ubuntu.eta'), shipped.replace('#!ipxe\n', '#!ipxe\n# reloaded template\n'));
        }
        eb.child.kill('SIGHUP');
        hups++;
      }
    })();
    // Images are read at 2 MiB/s, so every reload lands on running TFTP and HTTP transfers.
    const observed = await runStorm(machines.slice(0, 30), targetFor(eb.base, eb.tftpPort, p, { rateBytesPerSec: 2 * 1024 * 1024 }), 1500);
    storming = false;
    await reloader;
    summary = observed.summary;
    results = observed.results;
  }, 60_000);
  afterAll(async () => {
    await eb?.stop();
  });

  it('edgeboot reloaded many times while the machines were booting', async () => {
    expect(hups).toBeGreaterThanOrEqual(6);
    await waitFor(() => lines(eb.logText()).filter((e) => e.msg === 'reloaded inventory and templates').length === hups, 5000, 'every reload to finish');
  });

  it('every machine booted byte-exact, with no failed or retried transfer', () => {
    expect(summary.errors).toEqual([]);
    expect(summary.completed).toBe(30);
    expect(results.flatMap((r) => r.statuses).filter((s) => s !== 200)).toEqual([]);
    // A dropped connection or TFTP transfer would show up as a retry here even when the retry succeeded.
    expect(summary.transport).toBe(0);
    expect(summary.tftpBusy).toBe(0);
  });

  it('edgeboot logged every TFTP transfer and HTTP request as finished normally', () => {
    const entries = lines(eb.logText());
    expect(entries.filter((e) => e.msg === 'tftp transfer' && e.outcome !== 'ok')).toEqual([]);
    expect(entries.filter((e) => e.msg === 'tftp transfer').length).toBe(30);
    expect(entries.filter((e) => (e.level as number) >= 40)).toEqual([]);
  });

  it('the changes carried by a reload are in force: the new node boots with the edited template', async () => {
    const text = await (await fetch(`${eb.base}/ipxe/node/${machines[30]!.mac.replace(/:/g, '-')}`)).text();
    expect(text).toContain('# reloaded template');
    expect(text).toContain('install boot for drill-30');
  });

  it('logged no token and no answer-URL signature', () => {
    expect(leakedSecrets(eb.logText(), secretsIn([...nodes, ...late]))).toEqual([]);
  });
});
