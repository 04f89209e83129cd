import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import type { WireChanges, WireNode } from '../../../src/contract/index.js';
import { createLogger } from '../../../src/core/log.js';
import { tryParseMac } from '../../../src/core/mac.js';
import type { ChangesRefusal } from '../../../src/region-server/change-log.js';
import { PgStore } from '../../../src/region-server/store/pg-store.js';
import type { RegionStore } from '../../../src/region-server/store/region-store.js';
import { YamlStore } from '../../../src/region-server/store/yaml-store.js';
import { createDatabase, type PgCluster, startPgCluster } from '../../support/pg-cluster.js';
import { rawNode } from '../../support/region-harness.js';

// One contract, two stores: every check below runs against the inventory-file store and the PostgreSQL
// store (a private cluster, a fresh database per test), through the RegionStore interface only.

const silent = createLogger(process.env.CONTRACT_LOG ?? 'silent');
let pgc: PgCluster;
let dbs = 0;
const cleanups: Array<() => Promise<void> | void> = [];

interface Made {
  store: RegionStore;
}

type Factory = (inventory: unknown, options?: { keep?: number }) => Promise<Made>;

const yamlFactory: Factory = async (inventory, options = {}) => {
  const dir = mkdtempSync(join(tmpdir(), 'edgeboot-contract-'));
  const file = join(dir, 'inventory.yaml');
  writeFileSync(file, stringify(inventory));
  const store = new YamlStore({ inventory: file, log: silent, watch: false, keepRevisions: options.keep });
  await store.start();
  cleanups.push(async () => {
    await store.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  return { store };
};

const pgFactory: Factory = async (inventory, options = {}) => {
  const dir = mkdtempSync(join(tmpdir(), 'edgeboot-contract-'));
  const file = join(dir, 'inventory.yaml');
  writeFileSync(file, stringify(inventory));
  const url = await createDatabase(pgc, `contract_${++dbs}`);
  const store = new PgStore({ url, inventory: file, log: silent, keepRevisions: options.keep });
  await store.start();
  cleanups.push(async () => {
    await store.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  return { store };
};

const isDelta = (a: WireChanges | ChangesRefusal): a is WireChanges => !('gone' in a);

async function delta(store: RegionStore, since: number): Promise<WireChanges> {
  const a = await store.changesSince(since);
  if (!isDelta(a)) throw new Error(`expected a delta since ${since}, got 410 ${a.gone}`);
  return a;
}

const ids = (nodes: Array<{ system_id: string }>) => nodes.map((n) => n.system_id).sort();

interface Snap {
  revision: number;
  nodes: WireNode[];
  config: unknown;
  boot_selections: unknown;
}

function snapshotOf(store: RegionStore): Snap {
  const cur = store.current()!;
  const s = JSON.parse(cur.body.toString()) as Snap;
  expect(s.revision).toBe(cur.revision);
  return s;
}

/** Apply a delta to a snapshot as the rack does: whole nodes replaced by system_id, removed ids dropped. */
function apply(s: Snap, d: WireChanges): Snap {
  const nodes = new Map(s.nodes.map((n) => [n.system_id, n]));
  for (const n of d.nodes_changed) nodes.set(n.system_id, n);
  for (const id of d.nodes_removed) nodes.delete(id);
  return { revision: d.revision, nodes: [...nodes.values()], config: d.config ?? s.config, boot_selections: d.boot_selections ?? s.boot_selections };
}

const canonical = (s: Snap) => ({
  revision: s.revision,
  nodes: [...s.nodes].sort((a, b) => a.system_id.localeCompare(b.system_id)).map((n) => JSON.stringify(n, Object.keys(n).sort())),
  config: JSON.stringify(s.config, Object.keys(s.config as object).sort()),
  boot_selections: JSON.stringify(s.boot_selections),
});

beforeAll(() => {
  pgc = startPgCluster();
}, 60_000);
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});
afterAll(() => {
  pgc?.cleanup();
});

describe.each([
  ['YamlStore (inventory files)', yamlFactory],
  ['PgStore (PostgreSQL)', pgFactory],
])('region store contract: %s', (_name, make) => {
  it('add, change and remove nodes: each write is a revision and the delta names exactly what it touched', async () => {
    const { store } = await make({ nodes: [rawNode(1), rawNode(2)] });
    const r0 = store.revision;
    expect(store.current()!.nodes).toBe(2);
    expect(await delta(store, r0)).toEqual({ revision: r0, nodes_changed: [], nodes_removed: [] });

    expect(await store.putNodes([rawNode(3)])).toEqual(['sys0003']);
    const r1 = store.revision;
    expect(r1).toBeGreaterThan(r0);
    const d1 = await delta(store, r0);
    expect(ids(d1.nodes_changed)).toEqual(['sys0003']);
    expect(d1.nodes_removed).toEqual([]);
    expect(d1.config).toBeUndefined();

    // The same body again is no change: no revision taken.
    expect(await store.putNodes([rawNode(3)])).toEqual([]);
    expect(store.revision).toBe(r1);

    await store.putNodes([rawNode(1, { status: 'broken', status_reason: 'bad DIMM' })]);
    const r2 = store.revision;
    const d2 = await delta(store, r1);
    expect(d2.nodes_changed).toHaveLength(1);
    expect(d2.nodes_changed[0]).toMatchObject({ system_id: 'sys0001', status: 'broken', status_reason: 'bad DIMM' });

    expect(await store.removeNodes(['sys0002', 'no-such-node'])).toEqual(['sys0002']);
    expect(await store.removeNodes(['sys0002'])).toEqual([]);
    const d3 = await delta(store, r2);
    expect(d3).toMatchObject({ nodes_changed: [], nodes_removed: ['sys0002'] });
    const all = await delta(store, r0);
    expect(ids(all.nodes_changed)).toEqual(['sys0001', 'sys0003']);
    expect(all.nodes_removed).toEqual(['sys0002']);
    expect(all.revision).toBe(store.revision);
    expect(store.current()!.nodes).toBe(2);
    expect((await store.findNode('sys0002'))).toBeUndefined();
    expect((await store.findNode('52:54:00:5e:00:03'))?.systemId).toBe('sys0003');
    expect((await store.findNode('node-0001'))?.status).toBe('broken');
  });

  it('a write that fails changes nothing: no revision, no half of the batch', async () => {
    const { store } = await make({ nodes: [rawNode(1), rawNode(2)] });
    const r0 = store.revision;
    const etag = store.current()!.etag;
    // sys0009 is fine; sys0008 claims node 1's MAC, which only the whole set shows.
    await expect(store.putNodes([rawNode(9), rawNode(8, { macs: ['52:54:00:5e:00:01'] })])).rejects.toThrow(/52:54:00:5e:00:01/);
    expect(store.revision).toBe(r0);
    expect(store.current()!.etag).toBe(etag);
    expect(await store.findNode('sys0009')).toBeUndefined();
    expect(await delta(store, r0)).toEqual({ revision: r0, nodes_changed: [], nodes_removed: [] });
    // A bad node is refused before anything is written, naming the field.
    await expect(store.putNodes([rawNode(7, { hostname: 'bad host' })])).rejects.toThrow(/nodes\[0\]\.hostname/);
    expect(store.revision).toBe(r0);
    // The next good write is the very next revision: the failed ones took none, even unseen in the tables.
    await store.putNodes([rawNode(9)]);
    expect(store.revision).toBe(r0 + 1);
    expect(ids((await delta(store, r0)).nodes_changed)).toEqual(['sys0009']);
  });

  it('answers 410 (too old) once the history kept no longer reaches `since`, and (ahead) for a revision it never made', async () => {
    const { store } = await make({ nodes: [rawNode(1)] }, { keep: 3 });
    const r0 = store.revision;
    for (let i = 0; i < 5; i++) await store.setStatus('sys0001', i % 2 ? 'deployed' : 'broken');
    expect(store.revision).toBe(r0 + 5);
    expect(await store.changesSince(r0)).toEqual({ gone: 'too-old', revision: r0 + 5 });
    expect(await store.changesSince(r0 + 1)).toEqual({ gone: 'too-old', revision: r0 + 5 });
    expect(ids((await delta(store, r0 + 2)).nodes_changed)).toEqual(['sys0001']);
    expect(await store.changesSince(r0 + 99)).toEqual({ gone: 'ahead', revision: r0 + 5 });
  });

  it('approve, discovery and boot events are idempotent', async () => {
    const { store } = await make({ nodes: [rawNode(1, { status: 'new' })] });
    const a = await store.setStatus('sys0001', 'commissioning', { from: 'new' });
    const r = store.revision;
    const b = await store.setStatus('52:54:00:5e:00:01', 'commissioning', { from: 'new' });
    expect(b.systemId).toBe(a.systemId);
    expect(b.status).toBe('commissioning');
    expect(store.revision).toBe(r);
    await expect(store.setStatus('sys0001', 'commissioning', { from: 'deployed', reason: 'other' })).rejects.toThrow(/not deployed/);
    await expect(store.setStatus('nobody', 'broken')).rejects.toThrow(/no node is known as nobody/);

    const mac = tryParseMac('52:54:00:aa:bb:cc')!;
    const d1 = await store.addDiscovery({ mac, arch: 'x86_64', uuid: null }, 'rack-a');
    const r2 = store.revision;
    const d2 = await store.addDiscovery({ mac, arch: 'x86_64', uuid: null }, 'rack-b');
    expect(d1.created).toBe(true);
    expect(d2).toEqual({ created: false, systemId: d1.systemId });
    expect(store.revision).toBe(r2);
    expect((await store.findNode(mac))?.status).toBe('new');
    // The discovery of a MAC an inventory node already has is that node, not a new one.
    expect(await store.addDiscovery({ mac: tryParseMac('52:54:00:5e:00:01')! }, 'rack-a')).toEqual({ created: false, systemId: 'sys0001' });

    const ev = (id: string | undefined) => ({ ...(id ? { id } : {}), mac: null, system_id: 'sys0001', kind: 'script-served' as const, detail: 'x', at: new Date().toISOString() });
    expect(await store.addEvents('rack-a', [ev('e-1'), ev('e-2')])).toBe(2);
    expect(await store.addEvents('rack-a', [ev('e-2'), ev('e-3'), ev('e-3')])).toBe(1);
    // Another cluster's event with the same id is another event.
    expect(await store.addEvents('rack-b', [ev('e-1')])).toBe(1);
    expect(await store.addEvents('rack-a', [ev(undefined), ev(undefined)])).toBe(2);
    const events = await store.listEvents();
    expect(events.map((e) => `${e.cluster}/${e.event.id ?? '-'}`)).toEqual(['rack-a/e-1', 'rack-a/e-2', 'rack-a/e-3', 'rack-b/e-1', 'rack-a/-', 'rack-a/-']);

    await store.addReport({ system_id: 'sys0001', at: '2026-01-01T00:00:00.000Z', kind: 'signal', status: 'OK' });
    expect(await store.listReports()).toEqual([{ system_id: 'sys0001', at: '2026-01-01T00:00:00.000Z', kind: 'signal', status: 'OK' }]);
    expect((await store.listNodes()).every((n) => !('token' in n))).toBe(true);
  });

  it('the snapshot at the end equals the first snapshot with the deltas replayed onto it, step by step or at once', async () => {
    const { store } = await make({
      config: { commissioning_release: 'noble', kernel_opts: 'console=ttyS0' },
      nodes: [rawNode(1), rawNode(2), rawNode(3, { token: { consumer_key: 'ck3', token_key: 'tk3', token_secret: 'ts3' } })],
    });
    const first = snapshotOf(store);
    let stepwise = first;
    const steps: Array<() => Promise<unknown>> = [
      () => store.putNodes([rawNode(4), rawNode(5)]),
      () => store.setStatus('sys0001', 'broken', { reason: 'fan' }),
      () => store.removeNodes(['sys0002']),
      () => store.putNodes([rawNode(2, { hostname: 'back-again' })]),
      () => store.addDiscovery({ mac: tryParseMac('52:54:00:aa:00:01')!, arch: 'arm64' }, 'rack-a'),
      () => store.removeNodes(['sys0004']),
    ];
    for (const step of steps) {
      const before = store.revision;
      await step();
      stepwise = apply(stepwise, await delta(store, before));
    }
    const last = snapshotOf(store);
    expect(canonical(stepwise)).toEqual(canonical(last));
    expect(canonical(apply(first, await delta(store, first.revision)))).toEqual(canonical(last));
    expect(last.nodes.map((n) => n.system_id)).not.toContain('sys0004');
    expect(last.nodes.find((n) => n.system_id === 'sys0003')?.token).toEqual({ consumer_key: 'ck3', token_key: 'tk3', token_secret: 'ts3' });
    expect(last.config).toMatchObject({ kernel_opts: 'console=ttyS0' });
    const token = await store.nodeOfToken({ consumerKey: 'ck3', tokenKey: 'tk3', tokenSecret: 'ts3' });
    expect(token?.systemId).toBe('sys0003');
    expect(await store.nodeOfToken({ consumerKey: 'ck3', tokenKey: 'tk3', tokenSecret: 'wrong' })).toBeUndefined();
  });

  it('a long poll is woken by a write and times out without one', async () => {
    const { store } = await make({ nodes: [rawNode(1)] });
    const r = store.revision;
    const idle = store.waitForRevision(r, 300);
    expect(await idle.changed).toBe(false);
    const w = store.waitForRevision(r, 5000);
    const t0 = Date.now();
    await store.setStatus('sys0001', 'broken');
    expect(await w.changed).toBe(true);
    expect(Date.now() - t0).toBeLessThan(2000);
    const etag = store.current()!.etag;
    const w2 = store.waitForChange(etag, 5000);
    await store.setStatus('sys0001', 'deployed');
    expect(await w2.changed).toBe(true);
    expect(store.current()!.etag).not.toBe(etag);
  });
});
