import { execFile } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packageRoot } from '../../../../src/config/config.js';
import { tryParseMac } from '../../../../src/core/mac.js';
import type { TestAppliance } from '../../../support/appliance.js';
import { waitFor } from '../../../support/appliance.js';
import { rawNode, scriptFor, startRack, startRegion, TOKENS, type TestRegion } from '../../../support/region-harness.js';

const run = promisify(execFile);
const CLI = join(packageRoot(), 'dist/src/cli/edgeboot.js');
const MAC = '52:54:00:e1:15:01';

describe('discovery and enlistment through a reference region', () => {
  let region: TestRegion;
  let rack: TestAppliance;
  let adminToken: string;
  const nodes = () => (parse(readFileSync(region.inventoryPath, 'utf8')) as { nodes: Array<Record<string, unknown>> }).nodes;
  const cli = (...args: string[]) => run(process.execPath, [CLI, 'nodes', ...args, '--region', region.url, '--token-file', adminToken, '--config', '/nonexistent']);

  beforeAll(async () => {
    expect(existsSync(CLI), `${CLI} is missing: run "npm run build" first`).toBe(true);
    region = await startRegion({ nodes: [rawNode(1)] });
    adminToken = join(region.dir, 'admin.token');
    writeFileSync(adminToken, TOKENS.admin);
    rack = await startRack(region.url, { region: { wait_seconds: 2 } });
  });
  afterAll(async () => {
    await rack?.stop();
    await region?.cleanup();
  });

  it('an unknown MAC boots the enlistment path', async () => {
    const text = await scriptFor(rack.base, MAC);
    expect(text).toContain('enlist');
    expect(text).toContain('edgeboot.purpose=enlist');
  });

  it('the region inventory then holds it as status new (written atomically, still valid YAML)', async () => {
    await waitFor(() => nodes().some((n) => (n.macs as string[]).includes(MAC)), 5000, 'the discovered node in the inventory');
    const n = nodes().find((x) => (x.macs as string[]).includes(MAC))!;
    expect(n.status).toBe('new');
    expect(String(n.hostname)).toBe('new-525400e11501');
  });

  it('the next boot gets the wait script, with nothing that touches a disk', async () => {
    await waitFor(async () => (await scriptFor(rack.base, MAC)).includes('awaiting approval'), 5000, 'wait script');
    const text = await scriptFor(rack.base, MAC);
    expect(text).not.toMatch(/^\s*(kernel|sanboot|initrd)\b/m);
  });

  it('the discovery is reported once, however often the machine asks', async () => {
    for (let i = 0; i < 5; i++) await scriptFor(rack.base, '52:54:00:e1:15:02');
    await waitFor(() => region.server.stats.discoveries === 2, 5000, 'second discovery');
    await new Promise((r) => setTimeout(r, 500));
    expect(region.server.stats.discoveries).toBe(2);
    expect(nodes().filter((n) => (n.macs as string[]).includes('52:54:00:e1:15:02'))).toHaveLength(1);
  });

  it('`edgeboot nodes list` shows the new node', async () => {
    const { stdout } = await cli('list');
    expect(stdout).toMatch(/new-525400e11501\s+new\s+amd64\/generic\s+52:54:00:e1:15:01/);
  });

  it('`edgeboot nodes approve <mac>` moves it on to the commissioning boot', async () => {
    const { stdout } = await cli('approve', MAC);
    expect(stdout).toContain('new -> commissioning');
    await waitFor(async () => (await scriptFor(rack.base, MAC)).includes('edgeboot.purpose=commission'), 5000, 'commissioning script');
  });

  it('approving again (a retry, maybe on another replica) is idempotent: the node stays commissioning', async () => {
    await cli('approve', MAC);
    expect(region.server.store.byMac(tryParseMac(MAC)!)?.status).toBe('commissioning');
  });

  it('`edgeboot nodes set-status` changes the state the rack boots', async () => {
    await cli('set-status', MAC, 'broken', '--reason', 'bad DIMM');
    await waitFor(async () => (await scriptFor(rack.base, MAC)).includes('bad DIMM'), 5000, 'error script with the reason');
  });

  it('approving a node that is neither new nor already approved fails with a clear message', async () => {
    await expect(cli('approve', MAC)).rejects.toMatchObject({ stderr: expect.stringContaining('is broken, not new') });
  });

  it('boot milestones arrive at the events endpoint in batches', async () => {
    await waitFor(() => region.server.events.some((e) => e.event.mac === MAC && e.event.kind === 'script-served'), 5000, 'events');
    const e = region.server.events.find((x) => x.event.mac === MAC)!;
    expect(e.cluster).toBe('rack-a');
    expect(e.event.at).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(region.server.stats.eventBatches).toBeLessThan(region.server.events.length);
  });
});
