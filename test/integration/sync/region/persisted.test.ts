import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../../support/appliance.js';
import { rawNode, scriptFor, startRack, startRegion, type TestRegion } from '../../../support/region-harness.js';

// A rack keeps its last good snapshot on disk and boots its known nodes from it when it restarts while the
// region is away; /healthz and /metrics say the data is stale until the region answers, then it catches up.

const token = { consumer_key: 'ck-persist-1', token_key: 'tk-persist-1', token_secret: 'ts-persist-secret-1' };
const known = rawNode(1, { status: 'deploying', osystem: 'debian', release: 'bookworm', token });
const mac = (known.macs as string[])[0]!;
let region: TestRegion;
let state: string;

interface Health {
  ready: boolean;
  snapshot: { source: string };
  region: { stale: boolean; persisted: { path: string; lastError: string | null } };
}

async function healthz(base: string): Promise<{ status: number; body: Health }> {
  const res = await fetch(`${base}/healthz`);
  return { status: res.status, body: (await res.json()) as Health };
}

beforeAll(async () => {
  region = await startRegion({ nodes: [known], config: { metadata_url: 'http://region.test:5240/MAAS/metadata/' } });
  state = mkdtempSync(join(tmpdir(), 'edgeboot-state-'));
});

afterAll(async () => {
  await region?.cleanup();
  rmSync(state, { recursive: true, force: true });
});

describe('the persisted snapshot', () => {
  const file = () => join(state, 'region-snapshot-rack-a.json');

  it('is written after a sync, mode 0600, with the snapshot and no rendered file', async () => {
    const rack = await startRack(region.url, { region: { state_dir: state } });
    try {
      await waitFor(() => rack.app.store?.loaded ?? true, 5000, 'first snapshot');
      expect(await scriptFor(rack.base, mac)).toContain('bookworm');
      await waitFor(() => {
        try {
          statSync(file());
          return true;
        } catch {
          return false;
        }
      }, 5000, 'the persisted file');
      expect(statSync(file()).mode & 0o777).toBe(0o600);
      const doc = JSON.parse(readFileSync(file(), 'utf8')) as { format: string; cluster_id: string; etag: string; snapshot: { nodes: Array<{ system_id: string }> } };
      expect(doc.format).toBe('edgeboot-rack-snapshot/1');
      expect(doc.cluster_id).toBe('rack-a');
      expect(doc.snapshot.nodes.map((n) => n.system_id)).toEqual([known.system_id]);
      expect(doc.etag).toBeTruthy();
      // Only data: no boot script, no answer file.
      expect(readFileSync(file(), 'utf8')).not.toMatch(/#!ipxe|d-i |kernel http/);
      // The token never reaches a log line while saving.
      expect(rack.log.text()).not.toContain(token.token_secret);
    } finally {
      await rack.stop();
    }
  });

  it('boots known nodes after a restart while the region is down, and /healthz says stale', async () => {
    await region.kill();
    const rack = await startRack(region.url, { region: { state_dir: state } });
    try {
      const h = await healthz(rack.base);
      expect(h.status).toBe(200);
      expect(h.body.ready).toBe(true);
      expect(h.body.region.stale).toBe(true);
      expect(h.body.snapshot.source).toMatch(/^persisted:/);
      expect(h.body.region.persisted.path).toBe(file());
      const script = await scriptFor(rack.base, mac);
      expect(script).toContain('bookworm');
      expect(script).toMatch(/\/answers\//);
      const metrics = await (await fetch(`${rack.base}/metrics`)).text();
      expect(metrics).toMatch(/^edgeboot_snapshot_stale 1$/m);
      expect(metrics).toMatch(/^edgeboot_snapshot_persisted_age_seconds \d/m);
      expect(rack.log.text()).toContain('serving the persisted snapshot (stale)');

      // The region returns with a change: the rack takes it and is no longer stale.
      const changed = rawNode(2, { status: 'deploying', osystem: 'debian', release: 'bookworm' });
      writeFileSync(region.inventoryPath, stringify({ nodes: [known, changed], config: { metadata_url: 'http://region.test:5240/MAAS/metadata/' } }));
      await region.restart();
      await waitFor(async () => (await healthz(rack.base)).body.region.stale === false, 15_000, 'the region to be followed again');
      expect((await healthz(rack.base)).body.snapshot.source).toMatch(/^region:/);
      expect(await scriptFor(rack.base, (changed.macs as string[])[0]!)).toContain('bookworm');
      expect(await (await fetch(`${rack.base}/metrics`)).text()).toMatch(/^edgeboot_snapshot_stale 0$/m);
    } finally {
      await rack.stop();
    }
  });

  it('a damaged copy is refused in one line and the rack starts without data, still serving', async () => {
    await region.kill();
    writeFileSync(file(), '{"format":"edgeboot-rack-snapshot/1","cluster_id":"rack-a","snapshot":{"nodes":[{"system_id":"x","hostname":"bad host","macs":["zz"]}]}}');
    const rack = await startRack(region.url, { region: { state_dir: state } });
    try {
      const h = await healthz(rack.base);
      expect(h.status).toBe(503);
      const lines = rack.log.entries().filter((e) => e.msg === 'the persisted snapshot cannot be used; starting without it');
      expect(lines).toHaveLength(1);
      expect(String(lines[0]!.err)).toMatch(/nodes\[0\]/);
      // Unknown machines still get an answer (the enlistment path), nothing crashed.
      expect((await fetch(`${rack.base}/boot.ipxe`)).status).toBe(200);
    } finally {
      await rack.stop();
      await region.restart();
    }
  });

  it('an unwritable state dir costs one log line, not the service', async () => {
    const blocked = join(state, 'not-a-dir');
    writeFileSync(blocked, 'a file where the folder should be');
    chmodSync(blocked, 0o400);
    const rack = await startRack(region.url, { region: { state_dir: blocked } });
    try {
      await waitFor(() => rack.log.entries().some((e) => e.msg?.toString().startsWith('cannot persist the snapshot')), 8000, 'the write failure');
      expect(await scriptFor(rack.base, mac)).toContain('bookworm');
      expect((await healthz(rack.base)).body.region.persisted.lastError).toBeTruthy();
      expect(rack.log.entries().filter((e) => String(e.msg).startsWith('cannot persist the snapshot'))).toHaveLength(1);
    } finally {
      await rack.stop();
    }
  });
});
