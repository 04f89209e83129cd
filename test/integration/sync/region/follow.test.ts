import { writeFileSync } from 'node:fs';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestAppliance } from '../../../support/appliance.js';
import { waitFor } from '../../../support/appliance.js';
import { rawNode, scriptFor, startRack, startRegion, type TestRegion } from '../../../support/region-harness.js';

const inventory = { nodes: [rawNode(1, { status: 'deployed' }), rawNode(2, { status: 'rescue' })] };
const known = rawNode(1).macs as string[];

interface Health {
  ready: boolean;
  snapshot: { ageSeconds: number; version: string; nodes: number };
  region: { state: string; lastContactSecondsAgo: number | null; consecutiveFailures: number };
}

describe('a rack follows a reference region on loopback', () => {
  let region: TestRegion;
  let rack: TestAppliance;
  const health = async () => (await (await fetch(`${rack.base}/healthz`)).json()) as Health;

  beforeAll(async () => {
    region = await startRegion(inventory);
    rack = await startRack(region.url);
  });
  afterAll(async () => {
    await rack?.stop();
    await region?.cleanup();
  });

  it('loads the region snapshot before serving and reports ready', async () => {
    const h = await health();
    expect(h.ready).toBe(true);
    expect(h.snapshot.nodes).toBe(2);
    expect(h.region.state).toBe('connected');
    expect(await scriptFor(rack.base, known[0]!)).toContain('exit');
  });

  it('holds one request per wait period while nothing changes (changes feed, or 304s without it)', async () => {
    const s = region.server.stats;
    const before = { ok: s.snapshotOk, held: s.snapshotNotModified + s.changesOk };
    await new Promise((r) => setTimeout(r, 3500));
    const ok = s.snapshotOk - before.ok;
    // The reference region has the changes feed: the rack's held polls are empty changes answers.
    const notModified = s.snapshotNotModified + s.changesOk - before.held;
    expect(ok).toBe(0);
    // wait_seconds is 1: about three held polls in 3.5 s, never a busy loop.
    expect(notModified).toBeGreaterThanOrEqual(2);
    expect(notModified).toBeLessThanOrEqual(5);
  });

  it('a 304 keeps the snapshot age near zero (age is time since region contact)', async () => {
    const h = await health();
    expect(h.snapshot.ageSeconds).toBeLessThan(2.5);
  });

  it('a node added on the region is bootable on the rack within 2 s', async () => {
    const node = rawNode(3, { status: 'deploying', osystem: 'debian', release: 'trixie' });
    writeFileSync(region.inventoryPath, stringify({ nodes: [...inventory.nodes, node] }));
    const started = Date.now();
    const mac = (node.macs as string[])[0]!;
    await waitFor(async () => (await scriptFor(rack.base, mac)).includes('install'), 2000, 'the new node to boot its install').catch((e) => {
      throw new Error(`${e}\n${region.log.text()}\n${rack.log.lines.filter((l) => l.includes('region')).join('\n')}`);
    });
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('with the region killed, known nodes keep booting and health shows a growing age', async () => {
    await region.kill();
    await waitFor(async () => (await health()).region.state === 'unreachable', 5000, 'the rack to notice');
    await new Promise((r) => setTimeout(r, 1500));
    const h = await health();
    expect(h.ready).toBe(true);
    expect(h.snapshot.ageSeconds).toBeGreaterThan(1);
    expect(h.region.lastContactSecondsAgo).toBeGreaterThan(1);
    expect(await scriptFor(rack.base, known[0]!)).toContain('exit');
    const unreachable = rack.log.entries().filter((e) => String(e.msg).startsWith('region unreachable'));
    expect(unreachable).toHaveLength(1);
  });

  it('with the region restarted, the rack resumes without a restart of its own', async () => {
    writeFileSync(region.inventoryPath, stringify({ nodes: [rawNode(1, { status: 'rescue' }), rawNode(2)] }));
    await region.restart();
    await waitFor(async () => (await scriptFor(rack.base, known[0]!)).includes('rescue'), 5000, 'the change made while away');
    expect((await health()).region.state).toBe('connected');
    expect(rack.log.entries().some((e) => String(e.msg).startsWith('region reachable again'))).toBe(true);
  });
});
