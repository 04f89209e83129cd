import { describe, expect, it } from 'vitest';
import { NodeStore } from '../../../../src/sync/nodes/node-store.js';
import { parseSnapshot } from '../../../../src/contract/snapshot-schema.js';

const snap = (n: number, status = 'ready') =>
  parseSnapshot(
    {
      version: `v-${status}`,
      nodes: Array.from({ length: n }, (_, i) => ({
        system_id: `s${i}`,
        hostname: `h${i}`,
        macs: [`52:54:00:00:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`],
        arch: 'amd64',
        status,
      })),
    },
    't',
  );

describe('NodeStore freshness and sliced swaps', () => {
  it('confirm() resets the age without changing the snapshot', () => {
    let now = 1_000_000;
    const store = new NodeStore({ now: () => now });
    store.swap(snap(1), 'test');
    now += 30_000;
    expect(store.status().ageSeconds).toBe(30);
    store.confirm();
    now += 2_000;
    expect(store.status()).toMatchObject({ ageSeconds: 2, loadedAt: 1_000_000, version: 'v-ready' });
  });

  it('swapInSlices keeps answering from the old snapshot until the new one is complete', async () => {
    const store = new NodeStore();
    store.swap(snap(20_000, 'ready'), 'old');
    const seen = new Set<string>();
    let stop = false;
    const probe = (async () => {
      while (!stop) {
        seen.add(store.find({ systemId: 's19999' })?.status ?? 'missing');
        await new Promise<void>((r) => setImmediate(r));
      }
    })();
    await store.swapInSlices(snap(20_000, 'deployed'), 'new', 1000);
    stop = true;
    await probe;
    expect([...seen]).toEqual(['ready']);
    expect(store.find({ systemId: 's19999' })?.status).toBe('deployed');
  });
});
