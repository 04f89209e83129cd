import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../../../src/core/log.js';
import { parseMac } from '../../../../src/core/mac.js';
import { parseUuid } from '../../../../src/core/uuid.js';
import { InventorySource } from '../../../../src/sync/inventory/inventory-source.js';
import type { SnapshotFeed } from '../../../../src/sync/nodes/node-source.js';
import { NodeStore } from '../../../../src/sync/nodes/node-store.js';
import { RegionClient } from '../../../../src/sync/region/region-client.js';
import { RegionSource } from '../../../../src/sync/region/region-source.js';
import { parseSnapshot } from '../../../../src/contract/snapshot-schema.js';
import { LogSink, waitFor } from '../../../support/appliance.js';
import { rawNode, startRegion, TOKENS } from '../../../support/region-harness.js';

/** One node source under test, and how to change what it serves. */
interface Harness {
  source: SnapshotFeed;
  store: NodeStore;
  /** Replace the data at the origin (inventory file or region inventory) and wait until the source has it. */
  update(doc: unknown): Promise<void>;
  /** Write an invalid document at the origin and wait until it has been looked at and refused. */
  updateInvalid(text: string): Promise<void>;
  close(): Promise<void>;
}

const UUID = '4c4c4544-0042-3510-8056-b4c04f395231';
const fixture = {
  config: { commissioning_release: 'noble' },
  nodes: [
    rawNode(1, { uuid: UUID, status: 'deploying', token: { consumer_key: 'ck-contract', token_key: 'tk-contract', token_secret: 'ts-contract' } }),
    rawNode(2, { macs: ['52-54-00-5E-00-02', '5254.005e.0f02'], status: 'new' }),
    rawNode(3, { arch: 'arm64', status: 'broken', status_reason: 'fan failure' }),
  ],
};

async function inventoryHarness(): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'edgeboot-contract-inv-'));
  const file = join(dir, 'inventory.yaml');
  writeFileSync(file, stringify(fixture));
  const store = new NodeStore();
  const source = new InventorySource({ path: file, store, log: createLogger('silent'), debounceMs: 20 });
  await source.start();
  return {
    source,
    store,
    async update(doc) {
      const before = store.status().version;
      const n = (doc as { nodes: unknown[] }).nodes.length;
      writeFileSync(file, stringify(doc));
      await waitFor(() => store.status().version !== before && store.status().nodes === n, 5000, 'inventory reload');
    },
    async updateInvalid(text) {
      writeFileSync(file, text);
      await waitFor(() => source.lastError !== undefined, 5000, 'inventory rejection');
    },
    async close() {
      await source.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function regionHarness(): Promise<Harness> {
  const region = await startRegion(fixture);
  const tokenDir = mkdtempSync(join(tmpdir(), 'edgeboot-contract-token-'));
  writeFileSync(join(tokenDir, 't'), TOKENS.rackA);
  const store = new NodeStore();
  const client = new RegionClient({ url: region.url, clusterId: 'rack-a', tokenFile: join(tokenDir, 't') });
  const source = new RegionSource({ client, store, log: createLogger('silent', new LogSink()), waitSeconds: 5, backoffMaxMs: 500 });
  await source.start();
  return {
    source,
    store,
    async update(doc) {
      const before = store.status().version;
      writeFileSync(region.inventoryPath, stringify(doc));
      await waitFor(() => store.status().version !== before, 5000, 'region change to reach the rack');
    },
    async updateInvalid(text) {
      const seen = region.log.lines.length;
      writeFileSync(region.inventoryPath, text);
      await waitFor(() => region.log.lines.slice(seen).some((l) => l.includes('inventory rejected')), 5000, 'region rejection');
      await new Promise((r) => setTimeout(r, 300));
    },
    async close() {
      await source.stop();
      await region.cleanup();
      rmSync(tokenDir, { recursive: true, force: true });
    },
  };
}

const HARNESSES: Array<[string, () => Promise<Harness>]> = [
  ['InventorySource (inventory files)', inventoryHarness],
  ['RegionSource (reference region over HTTP)', regionHarness],
];

describe.each(HARNESSES)('NodeSource contract: %s', (_name, make) => {
  let h: Harness;
  const expected = parseSnapshot(fixture, 'fixture');
  beforeAll(async () => {
    h = await make();
  });
  afterAll(async () => {
    await h?.close();
  });

  it('finds a node by MAC, whatever spelling the origin used', async () => {
    const n = await h.source.lookup({ mac: parseMac('52:54:00:5e:0f:02') });
    expect(n?.systemId).toBe('sys0002');
  });

  it('finds a node by SMBIOS UUID', async () => {
    expect((await h.source.lookup({ uuid: parseUuid(UUID.toUpperCase()) }))?.systemId).toBe('sys0001');
  });

  it('finds a node by system_id', async () => {
    expect((await h.source.lookup({ systemId: 'sys0003' }))?.hostname).toBe('node-0003');
  });

  it('answers undefined (not a throw) for an unknown machine', async () => {
    await expect(h.source.lookup({ mac: parseMac('02:00:00:00:00:99') })).resolves.toBeUndefined();
  });

  it('prefers the MAC when MAC and UUID name different nodes', async () => {
    const n = await h.source.lookup({ mac: parseMac('52:54:00:5e:00:03'), uuid: parseUuid(UUID) });
    expect(n?.systemId).toBe('sys0003');
  });

  it('gives the same normalised nodes as parsing the origin data directly', async () => {
    for (const want of expected.nodes) {
      const got = await h.source.lookup({ systemId: want.systemId });
      expect(JSON.parse(JSON.stringify(got))).toEqual(JSON.parse(JSON.stringify(want)));
      expect(got?.token?.tokenSecret.reveal()).toBe(want.token?.tokenSecret.reveal());
    }
  });

  it('keeps node tokens as secrets that print redacted', async () => {
    const n = await h.source.lookup({ systemId: 'sys0001' });
    expect(inspect(n, { depth: 5 }) + JSON.stringify(n)).not.toContain('ts-contract');
    expect(n?.token?.tokenSecret.reveal()).toBe('ts-contract');
  });

  it('follows a change at the origin: an added node is found, a removed one is not', async () => {
    await h.update({ ...fixture, nodes: [...fixture.nodes.slice(1), rawNode(9, { status: 'ready' })] });
    expect((await h.source.lookup({ systemId: 'sys0009' }))?.status).toBe('ready');
    expect(await h.source.lookup({ systemId: 'sys0001' })).toBeUndefined();
  });

  it('refuses an invalid change whole and keeps answering from the last good data', async () => {
    const before = h.store.status().version;
    await h.updateInvalid(stringify({ nodes: [rawNode(9, { status: 'ready' }), rawNode(10, { macs: ['not-a-mac'] })] }));
    expect(h.store.status().version).toBe(before);
    expect((await h.source.lookup({ systemId: 'sys0009' }))?.status).toBe('ready');
    expect(await h.source.lookup({ systemId: 'sys0010' })).toBeUndefined();
  });
});
