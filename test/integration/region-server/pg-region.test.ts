import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { createLogger } from '../../../src/core/log.js';
import { PgStore, type PgStoreOptions, RegionServer } from '../../../src/region-server/index.js';
import { LogSink, waitFor } from '../../support/appliance.js';
import { createDatabase, type PgCluster, startPgCluster } from '../../support/pg-cluster.js';
import { rawNode, scriptFor, startRack, TOKENS } from '../../support/region-harness.js';

// The region on a real PostgreSQL (a private cluster on a unix socket): replicas sharing one database, a
// NOTIFY that never comes, and the database restarted under a long poll while a real rack follows.

const rack = { authorization: `Bearer ${TOKENS.rackA}`, 'content-type': 'application/json' };
const admin = { authorization: `Bearer ${TOKENS.admin}`, 'content-type': 'application/json' };
const token = (i: number) => ({ consumer_key: `ck-pg-${i}`, token_key: `tk-pg-${i}`, token_secret: `ts-pg-secret-${i}` });
const node = (i: number, patch: Record<string, unknown> = {}) => rawNode(i, { status: 'deploying', osystem: 'debian', release: 'bookworm', token: token(i), ...patch });
const macOf = (i: number) => (node(i).macs as string[])[0]!;

let pgc: PgCluster;
let dir: string;
let dbs = 0;

interface Replica {
  server: RegionServer;
  url: string;
  log: LogSink;
  stop(): Promise<void>;
}

async function replica(db: string, options: Partial<PgStoreOptions> = {}): Promise<Replica> {
  const log = new LogSink();
  const logger = createLogger('debug', log);
  const store = new PgStore({ url: db, log: logger, inventory: join(dir, 'inventory.yaml'), ...options });
  const server = new RegionServer({ tokensFile: join(dir, 'tokens.yaml'), host: '127.0.0.1', port: 0, log: logger }, store);
  const port = await server.start();
  return { server, url: `http://127.0.0.1:${port}`, log, stop: () => server.stop() };
}

const freshDb = () => createDatabase(pgc, `region_${++dbs}`);

async function revisionOf(url: string): Promise<number> {
  const res = await fetch(`${url}/api/v1/clusters/rack-a/snapshot`, { headers: rack });
  expect(res.status).toBe(200);
  return Number(res.headers.get('x-edgeboot-revision'));
}

function poll(url: string, since: number, wait: number): Promise<{ status: number; ms: number; body: { revision: number; nodes_changed: Array<{ system_id: string; status: string }> } }> {
  const t0 = Date.now();
  return fetch(`${url}/api/v1/clusters/rack-a/changes?since=${since}&wait=${wait}`, { headers: rack }).then(async (res) => ({
    status: res.status,
    ms: Date.now() - t0,
    body: res.status === 200 ? await res.json() : { revision: -1, nodes_changed: [] },
  }));
}

const setStatus = (url: string, id: string, status: string) => fetch(`${url}/api/v1/admin/nodes/${id}/status`, { method: 'POST', headers: admin, body: JSON.stringify({ status }) });

beforeAll(() => {
  pgc = startPgCluster();
  dir = mkdtempSync(join(tmpdir(), 'edgeboot-pg-region-'));
  writeFileSync(join(dir, 'inventory.yaml'), stringify({ nodes: Array.from({ length: 10 }, (_, i) => node(i + 1)) }));
  writeFileSync(join(dir, 'tokens.yaml'), stringify({ clusters: { 'rack-a': TOKENS.rackA }, admin: TOKENS.admin }));
}, 60_000);
afterAll(() => {
  pgc?.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

describe('region replicas on one PostgreSQL database', () => {
  it('a write on replica A reaches a long poll held on replica B in under a second (NOTIFY, no re-check)', async () => {
    const db = await freshDb();
    const a = await replica(db);
    const b = await replica(db, { recheckMs: 0 });
    try {
      const since = await revisionOf(b.url);
      const held = poll(b.url, since, 20);
      await new Promise((r) => setTimeout(r, 300));
      const t0 = Date.now();
      expect((await setStatus(a.url, 'sys0003', 'broken')).status).toBe(200);
      const got = await held;
      const ms = Date.now() - t0;
      console.log(`replica A write reached a long poll on replica B in ${ms} ms`);
      expect(got.status).toBe(200);
      expect(got.body.nodes_changed.map((n) => `${n.system_id}:${n.status}`)).toEqual(['sys0003:broken']);
      expect(ms).toBeLessThan(1000);
    } finally {
      await a.stop();
      await b.stop();
    }
  });

  it('a NOTIFY that never comes costs latency, not data: the periodic re-check answers the poll within its wait', async () => {
    const db = await freshDb();
    // A sends no NOTIFY at all (as if every notification were lost).
    const a = await replica(db, { notify: false });
    const b = await replica(db, { recheckMs: 500 });
    const blind = await replica(db, { recheckMs: 0 });
    try {
      const since = await revisionOf(b.url);
      const held = poll(b.url, since, 10);
      const heldBlind = poll(blind.url, since, 3);
      await new Promise((r) => setTimeout(r, 200));
      const t0 = Date.now();
      expect((await setStatus(a.url, 'sys0004', 'broken')).status).toBe(200);
      const got = await held;
      console.log(`without NOTIFY the re-check delivered the change in ${Date.now() - t0} ms`);
      expect(got.body.nodes_changed.map((n) => n.system_id)).toEqual(['sys0004']);
      expect(Date.now() - t0).toBeLessThan(3000);
      // The control: with neither NOTIFY nor re-check, the poll runs out empty, so the test above can fail.
      const none = await heldBlind;
      expect(none.status).toBe(200);
      expect(none.body).toMatchObject({ revision: since, nodes_changed: [] });
      // ...and yet the data is in the table: the next request that names a newer revision reads it.
      expect((await poll(blind.url, got.body.revision, 0)).status).toBe(200);
    } finally {
      await a.stop();
      await b.stop();
      await blind.stop();
    }
  });

  it('an enlistment and a boot-event batch retried on replica B after A died are stored exactly once', async () => {
    const db = await freshDb();
    const a = await replica(db);
    const b = await replica(db);
    try {
      const ev = (i: number) => ({ id: `5b2e0c4e-2222-4c1e-9d1a-${String(i).padStart(12, '0')}`, mac: macOf(1), system_id: 'sys0001', kind: 'script-served', detail: 'pg', at: new Date().toISOString() });
      const batch = JSON.stringify({ events: [ev(1), ev(2), ev(3)] });
      const discovery = JSON.stringify({ mac: '52:54:00:ab:cd:ef', arch: 'x86_64' });
      const first = await fetch(`${a.url}/api/v1/clusters/rack-a/events`, { method: 'POST', headers: rack, body: batch });
      expect(await first.json()).toEqual({ accepted: 3, duplicates: 0 });
      const made = (await (await fetch(`${a.url}/api/v1/clusters/rack-a/discoveries`, { method: 'POST', headers: rack, body: discovery })).json()) as { status: string; system_id: string };
      expect(made.status).toBe('created');
      await a.stop();
      // The rack never saw A's answers (A died), so it sends both again to the next replica.
      const again = await fetch(`${b.url}/api/v1/clusters/rack-a/events`, { method: 'POST', headers: rack, body: batch });
      expect(await again.json()).toEqual({ accepted: 3, duplicates: 3 });
      const known = await fetch(`${b.url}/api/v1/clusters/rack-a/discoveries`, { method: 'POST', headers: rack, body: discovery });
      expect(known.status).toBe(200);
      expect(await known.json()).toEqual({ status: 'known', system_id: made.system_id });
      const events = ((await (await fetch(`${b.url}/api/v1/admin/events`, { headers: admin })).json()) as { events: unknown[] }).events;
      expect(events).toHaveLength(3);
      const nodes = ((await (await fetch(`${b.url}/api/v1/admin/nodes`, { headers: admin })).json()) as { nodes: Array<{ macs: string[] }> }).nodes;
      expect(nodes.filter((n) => n.macs.includes('52:54:00:ab:cd:ef'))).toHaveLength(1);
      // Two replicas racing on the same new MAC still make one node.
      const racing = JSON.stringify({ mac: '52:54:00:ab:cd:01' });
      const c = await replica(db);
      try {
        const answers = await Promise.all([b.url, c.url, b.url, c.url].map((u) => fetch(`${u}/api/v1/clusters/rack-a/discoveries`, { method: 'POST', headers: rack, body: racing }).then((r) => r.json() as Promise<{ status: string; system_id: string }>)));
        expect(answers.filter((x) => x.status === 'created')).toHaveLength(1);
        expect(new Set(answers.map((x) => x.system_id)).size).toBe(1);
      } finally {
        await c.stop();
      }
    } finally {
      await a.stop().catch(() => undefined);
      await b.stop();
    }
  });
});

describe('a rack following two PostgreSQL replicas', () => {
  it('fails over when its replica dies and carries on by delta: revisions are the same on every replica', async () => {
    const db = await freshDb();
    const a = await replica(db);
    const b = await replica(db);
    const stateDir = mkdtempSync(join(tmpdir(), 'edgeboot-pg-rack-'));
    const t = await startRack(a.url, { region: { url: [a.url, b.url], state_dir: stateDir, wait_seconds: 5 } });
    const requests = async (result: string) => {
      const text = await (await fetch(`${t.base}/metrics`)).text();
      return Number(new RegExp(`edgeboot_region_requests_total\\{result="${result}"\\} (\\d+)`).exec(text)?.[1] ?? 0);
    };
    try {
      await waitFor(async () => (await scriptFor(t.base, macOf(7))).includes('bookworm'), 10_000, 'the rack to load the snapshot from replica A');
      const fulls = await requests('ok');
      await a.stop();
      const t0 = Date.now();
      expect((await setStatus(b.url, 'sys0007', 'broken')).status).toBe(200);
      await waitFor(async () => !(await scriptFor(t.base, macOf(7))).includes('bookworm'), 15_000, 'the change written on B to reach the rack');
      console.log(`replica A died; the change on B reached the rack in ${Date.now() - t0} ms`);
      // No re-list: the revision the rack got from A is one B knows.
      expect(await requests('ok')).toBe(fulls);
      expect(await requests('delta')).toBeGreaterThan(0);
      expect(await scriptFor(t.base, macOf(8))).toContain('bookworm');
    } finally {
      await t.stop();
      await a.stop().catch(() => undefined);
      await b.stop();
      rmSync(stateDir, { recursive: true, force: true });
    }
  }, 60_000);
});

describe('PostgreSQL restarted under a long poll', () => {
  it('a replica started while the database is down answers 503 and serves once it is up, without a restart', async () => {
    const db = await freshDb();
    pgc.stop();
    let r: Replica | undefined;
    try {
      r = await replica(db);
      const res = await fetch(`${r.url}/api/v1/clusters/rack-a/snapshot`, { headers: rack });
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('5');
      expect(await res.text()).toMatch(/^The region's database is unreachable/);
      expect((await fetch(`${r.url}/healthz`)).status).toBe(503);
    } finally {
      pgc.start();
    }
    const up = Date.now();
    await waitFor(async () => (await fetch(`${r.url}/healthz`)).status === 200, 10_000, 'the replica to come up with its database');
    console.log(`replica started before its database served ${Date.now() - up} ms after PostgreSQL came up`);
    expect(await revisionOf(r.url)).toBeGreaterThan(0);
    await r.stop();
  }, 60_000);

  it('the region answers 503 with a sentence while it is down and again within seconds after; the rack keeps serving and converges', async () => {
    const db = await freshDb();
    const r = await replica(db);
    const stateDir = mkdtempSync(join(tmpdir(), 'edgeboot-pg-rack-'));
    const t = await startRack(r.url, { region: { state_dir: stateDir, wait_seconds: 5 } });
    try {
      await waitFor(async () => (await scriptFor(t.base, macOf(5))).includes('bookworm'), 10_000, 'the rack to load the snapshot from the PostgreSQL region');
      const since = await revisionOf(r.url);
      const held = poll(r.url, since, 30);
      await new Promise((res) => setTimeout(res, 300));
      pgc.stop();
      const down = Date.now();
      // The held poll ends with a sentence, not a hang or a crash.
      const cut = await held;
      expect(cut.status).toBe(503);
      const res = await fetch(`${r.url}/api/v1/clusters/rack-a/changes?since=${since}`, { headers: rack });
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('5');
      expect(await res.text()).toMatch(/^The region's database is unreachable \(.+\); retry shortly\.\n$/);
      const write = await setStatus(r.url, 'sys0005', 'broken');
      expect(write.status).toBe(503);
      // The rack keeps booting known nodes from what it holds.
      for (let i = 0; i < 5; i++) {
        expect(await scriptFor(t.base, macOf(5))).toContain('bookworm');
        await new Promise((res2) => setTimeout(res2, 200));
      }
      console.log(`database down for ${Date.now() - down} ms while the rack served`);
      pgc.start();
      const up = Date.now();
      await waitFor(async () => (await fetch(`${r.url}/healthz`)).status === 200, 10_000, 'the region to answer again');
      const back = Date.now() - up;
      console.log(`region answered again ${back} ms after PostgreSQL was back`);
      expect(back).toBeLessThan(5000);
      expect((await setStatus(r.url, 'sys0005', 'broken')).status).toBe(200);
      const t0 = Date.now();
      await waitFor(async () => !(await scriptFor(t.base, macOf(5))).includes('bookworm'), 15_000, 'the rack to converge after the restart');
      console.log(`the rack converged ${Date.now() - t0} ms after the first write once PostgreSQL was back`);
      expect(await scriptFor(t.base, macOf(6))).toContain('bookworm');
      // One line when it went, one when it came back: not one per request or retry.
      const lines = r.log.entries().map((e) => String(e.msg));
      expect(lines.filter((m) => m.startsWith('database unreachable'))).toHaveLength(1);
      expect(lines.filter((m) => m === 'database reachable again')).toHaveLength(1);
      expect(lines.filter((m) => m.startsWith('LISTEN connection lost'))).toHaveLength(1);
      expect(r.log.text()).not.toContain(TOKENS.rackA);
    } finally {
      await t.stop();
      await r.stop();
      rmSync(stateDir, { recursive: true, force: true });
    }
  }, 90_000);
});
