import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../../support/appliance.js';
import { type FeedRegion, startFeedRegion } from '../../../support/feed-region.js';
import { rawNode, scriptFor, startRack } from '../../../support/region-harness.js';

// The rack follows the region's delta feed after a full snapshot: only what changed crosses the wire, a bad
// delta is rejected whole (the last good snapshot stays, the next request re-lists), 410 and a region without
// the feed fall back to the full snapshot, several region URLs fail over, and the persisted copy keeps the
// revision so a restarted rack catches up by delta.

const token = (i: number) => ({ consumer_key: `ck-delta-${i}`, token_key: `tk-delta-${i}`, token_secret: `ts-delta-secret-${i}` });
const node = (i: number, release = 'bookworm') => rawNode(i, { status: 'deploying', osystem: 'debian', release, token: token(i) });
const macOf = (i: number) => (node(i).macs as string[])[0]!;
const NODES = Array.from({ length: 50 }, (_, i) => node(i + 1));

const dirs: string[] = [];
const stateDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'edgeboot-delta-state-'));
  dirs.push(d);
  return d;
};

async function metric(base: string, name: string): Promise<number | undefined> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  return line === undefined ? undefined : Number(line.split(' ').at(-1));
}

let region: FeedRegion;
beforeAll(async () => {
  region = await startFeedRegion(NODES);
});
afterAll(async () => {
  await region?.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('delta sync', () => {
  it('follows /changes after the full snapshot: a one-node change arrives fast and small', async () => {
    const rack = await startRack(region.url, { region: { state_dir: stateDir() } });
    try {
      await waitFor(() => region.requests.some((r) => r.startsWith('changes?since=')), 5000, 'the rack asking for changes');
      expect(await scriptFor(rack.base, macOf(7))).toContain('bookworm');
      const before = region.requests.filter((r) => r === 'snapshot').length;
      const t0 = Date.now();
      region.put(node(7, 'trixie'));
      await waitFor(async () => (await scriptFor(rack.base, macOf(7))).includes('trixie'), 5000, 'the change on the rack');
      const ms = Date.now() - t0;
      region.remove(String(node(9).system_id));
      await waitFor(async () => !(await scriptFor(rack.base, macOf(9))).includes('bookworm'), 5000, 'the removal on the rack');
      // New nodes arrive by delta too.
      region.put(node(77));
      await waitFor(async () => (await scriptFor(rack.base, macOf(77))).includes('bookworm'), 5000, 'the new node on the rack');
      expect(await scriptFor(rack.base, macOf(8))).toContain('bookworm');
      // No full snapshot was asked for after the first one.
      expect(region.requests.filter((r) => r === 'snapshot').length).toBe(before);
      const delta = region.changeBytes.find((b) => b > 100)!;
      const full = region.snapshotBytes[0]!;
      console.log(`one-node change reached the rack in ${ms} ms; delta ${delta} B vs full snapshot ${full} B (ratio ${(delta / full).toFixed(4)})`);
      expect(ms).toBeLessThan(1000);
      expect(delta).toBeLessThan(full / 10);
      expect(await metric(rack.base, 'edgeboot_region_revision')).toBe(region.revision);
    } finally {
      await rack.stop();
    }
  });

  it("takes an empty answer at a newer revision (another cluster's write) without re-checking its snapshot", async () => {
    const rack = await startRack(region.url, { region: { state_dir: stateDir() } });
    try {
      await waitFor(async () => (await metric(rack.base, 'edgeboot_region_revision')) === region.revision, 5000, 'rack at region revision');
      const applied = () => rack.log.entries().filter((e) => e.msg === 'region changes applied').length;
      const before = applied();
      region.pushRaw({ revision: region.revision + 1 });
      await waitFor(async () => (await metric(rack.base, 'edgeboot_region_revision')) === region.revision, 5000, 'the rack at the new revision');
      expect(applied()).toBe(before);
      // The next change is asked for from the new revision and applies as usual.
      const mark = region.requests.length;
      region.put(node(15, 'trixie'));
      await waitFor(async () => (await scriptFor(rack.base, macOf(15))).includes('trixie'), 5000, 'the next change');
      expect(region.requests.slice(mark).filter((r) => r === 'snapshot')).toEqual([]);
      expect(applied()).toBe(before + 1);
    } finally {
      await rack.stop();
    }
  });

  it('rejects a bad delta whole, keeps the last good snapshot and re-lists', async () => {
    const rack = await startRack(region.url, { region: { state_dir: stateDir() } });
    try {
      await waitFor(() => rack.app.store?.loaded ?? false, 5000, 'first snapshot');
      const at = region.requests.length;
      await waitFor(() => region.requests.slice(at).some((r) => r.startsWith('changes?since=')), 5000, 'a changes poll');
      // Node 10 changes its release but takes node 11's MAC: the merged snapshot fails the checker.
      const bad = { ...node(10, 'trixie'), macs: [macOf(11)] };
      const mark = region.requests.length;
      region.pushRaw({ revision: region.revision + 1, nodes_changed: [bad] });
      await waitFor(() => region.requests.slice(mark).includes('snapshot'), 5000, 'the re-list after the bad delta');
      // Nothing of the bad delta was taken: node 10 still has its old release and node 11 its MAC.
      expect(await scriptFor(rack.base, macOf(10))).toContain('bookworm');
      expect(await scriptFor(rack.base, macOf(11))).toContain('bookworm');
      const health = (await (await fetch(`${rack.base}/healthz`)).json()) as { region: { revision: number | null } };
      await waitFor(async () => (await metric(rack.base, 'edgeboot_region_revision')) === region.revision, 5000, 'the rack at the region revision');
      expect(health.region).toBeDefined();
    } finally {
      await rack.stop();
    }
  });

  it('re-lists with the full snapshot on 410', async () => {
    const rack = await startRack(region.url, { region: { state_dir: stateDir() } });
    try {
      await waitFor(async () => (await metric(rack.base, 'edgeboot_region_revision')) === region.revision, 5000, 'rack at region revision');
      // The region goes away, changes twice and drops its history meanwhile: the rack's revision is gone.
      await region.stop();
      region.put(node(12, 'trixie'));
      region.compact();
      region.put(node(13, 'trixie'));
      const mark = region.requests.length;
      await region.start();
      await waitFor(async () => (await scriptFor(rack.base, macOf(12))).includes('trixie'), 8000, 'the re-listed snapshot');
      expect(await scriptFor(rack.base, macOf(13))).toContain('trixie');
      const after = region.requests.slice(mark);
      expect(after[0]).toMatch(/^changes\?since=/);
      expect(after).toContain('snapshot');
    } finally {
      await rack.stop();
    }
  });

  it('keeps the revision on disk: restarted while the region is away, it serves stale and catches up by delta', async () => {
    const state = stateDir();
    const first = await startRack(region.url, { region: { state_dir: state } });
    await waitFor(async () => (await metric(first.base, 'edgeboot_region_revision')) === region.revision, 5000, 'rack at region revision');
    await first.stop();
    const saved = JSON.parse(readFileSync(join(state, 'region-snapshot-rack-a.json'), 'utf8')) as { revision: number };
    expect(saved.revision).toBe(region.revision);
    await region.stop();
    const rack = await startRack(region.url, { region: { state_dir: state } });
    try {
      const h = (await (await fetch(`${rack.base}/healthz`)).json()) as { region: { stale: boolean; revision: number } };
      expect(h.region.stale).toBe(true);
      expect(h.region.revision).toBe(saved.revision);
      expect(await scriptFor(rack.base, macOf(14))).toContain('bookworm');
      region.put(node(14, 'trixie'));
      const mark = region.requests.length;
      await region.start();
      await waitFor(async () => (await scriptFor(rack.base, macOf(14))).includes('trixie'), 8000, 'the catch-up');
      const after = region.requests.slice(mark);
      // Caught up by delta: no full snapshot crossed the wire.
      expect(after.filter((r) => r === 'snapshot')).toEqual([]);
      expect(after[0]).toBe(`changes?since=${saved.revision}`);
      const h2 = (await (await fetch(`${rack.base}/healthz`)).json()) as { region: { stale: boolean } };
      expect(h2.region.stale).toBe(false);
      await first.stop().catch(() => undefined);
      const again = JSON.parse(readFileSync(join(state, 'region-snapshot-rack-a.json'), 'utf8')) as { revision: number };
      await rack.stop();
      const last = JSON.parse(readFileSync(join(state, 'region-snapshot-rack-a.json'), 'utf8')) as { revision: number; snapshot: { nodes: Array<{ system_id: string; release: string }> } };
      // The delta was persisted with its revision.
      expect(last.revision).toBe(region.revision);
      expect(last.revision).toBeGreaterThanOrEqual(again.revision);
      expect(last.snapshot.nodes.find((n) => n.system_id === node(14).system_id)!.release).toBe('trixie');
    } finally {
      await rack.stop().catch(() => undefined);
    }
  });

  it('follows a region without the feed by snapshot long poll (404 on /changes)', async () => {
    const old = await startFeedRegion(NODES, { feed: false });
    const rack = await startRack(old.url, { region: { state_dir: stateDir() } });
    try {
      await waitFor(() => old.requests.includes('404'), 5000, 'the changes probe');
      old.put(node(15, 'trixie'));
      await waitFor(async () => (await scriptFor(rack.base, macOf(15))).includes('trixie'), 5000, 'the change by snapshot');
      expect(old.requests.filter((r) => r === '404')).toHaveLength(1);
      expect(old.requests.filter((r) => r === 'snapshot').length).toBeGreaterThanOrEqual(2);
    } finally {
      await rack.stop();
      await old.stop();
    }
  });

  it('fails over between region replicas listed in region.url', async () => {
    const a = await startFeedRegion(NODES);
    const b = await startFeedRegion(NODES);
    const rack = await startRack(a.url, { region: { url: [a.url, b.url], state_dir: stateDir() } });
    try {
      await waitFor(() => a.requests.some((r) => r.startsWith('changes')), 5000, 'following replica a');
      // Replica a dies; the change is made on replica b (the same database behind both in a real fleet).
      await a.stop();
      b.put(node(16, 'trixie'));
      const t0 = Date.now();
      await waitFor(async () => (await scriptFor(rack.base, macOf(16))).includes('trixie'), 8000, 'the change through replica b');
      console.log(`failover to replica b took ${Date.now() - t0} ms; replica b saw ${b.requests.length} requests`);
      const h = (await (await fetch(`${rack.base}/healthz`)).json()) as { region: { url: string; replicas: string[] } };
      expect(h.region.replicas).toEqual([a.url, b.url]);
      expect(h.region.url).toBe(b.url);
    } finally {
      await rack.stop();
      await a.stop().catch(() => undefined);
      await b.stop();
    }
  });
});

describe('delta sync against the reference region (edgeboot region)', () => {
  it('follows the reference region by /changes: an admin status change arrives as a delta', async () => {
    const { startRegion, TOKENS } = await import('../../../support/region-harness.js');
    const real = await startRegion({ nodes: NODES.slice(0, 20) });
    const rack = await startRack(real.url, { region: { state_dir: stateDir() } });
    try {
      await waitFor(async () => ((await metric(rack.base, 'edgeboot_region_revision')) ?? 0) > 0, 5000, 'a revision from the reference region');
      expect(await scriptFor(rack.base, macOf(3))).toContain('bookworm');
      const t0 = Date.now();
      const res = await fetch(`${real.url}/api/v1/admin/nodes/${String(node(3).system_id)}/status`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKENS.admin}`, 'content-type': 'application/json' },
        body: JSON.stringify({ status: 'broken', reason: 'delta test' }),
      });
      expect(res.status).toBe(200);
      await waitFor(async () => !(await scriptFor(rack.base, macOf(3))).includes('bookworm'), 5000, 'the status change on the rack');
      const ms = Date.now() - t0;
      const text = await (await fetch(`${rack.base}/metrics`)).text();
      const deltas = Number(/edgeboot_region_requests_total\{result="delta"\} (\d+)/.exec(text)?.[1] ?? 0);
      const bytes = Number(/edgeboot_region_delta_bytes_total (\d+)/.exec(text)?.[1] ?? 0);
      console.log(`reference region: status change reached the rack in ${ms} ms by ${deltas} delta(s), ${bytes} B`);
      expect(deltas).toBeGreaterThan(0);
      expect(ms).toBeLessThan(1000);
    } finally {
      await rack.stop();
      await real.cleanup();
    }
  });
});
