import { describe, expect, it } from 'vitest';
import { createLogger } from '../../../../src/core/log.js';
import { NodeStore } from '../../../../src/sync/nodes/node-store.js';
import type { RegionClient, SnapshotAnswer } from '../../../../src/sync/region/region-client.js';
import { RegionError } from '../../../../src/sync/region/region-error.js';
import { InlineSnapshotFetcher } from '../../../../src/sync/region/region-fetcher.js';
import { RegionSource } from '../../../../src/sync/region/region-source.js';
import { LogSink } from '../../../support/appliance.js';

const body = (status: string) =>
  JSON.stringify({ version: status, nodes: [{ system_id: 's1', hostname: 'h1', macs: ['52:54:00:00:00:01'], arch: 'amd64', status }] });

/** A scripted region: each call takes the next answer (or throws it); the last one repeats. */
function scripted(answers: Array<SnapshotAnswer | RegionError>) {
  const calls: Array<{ etag?: string; waitSeconds?: number }> = [];
  const client = {
    where: 'http://region.test',
    clusterId: 'rack-a',
    loadCredentials: async () => undefined,
    close: () => undefined,
    fetchSnapshot: async (o: { etag?: string; waitSeconds?: number }) => {
      calls.push({ etag: o.etag, waitSeconds: o.waitSeconds });
      const a = answers[Math.min(calls.length - 1, answers.length - 1)]!;
      await new Promise((r) => setTimeout(r, 2));
      if (a instanceof RegionError) throw a;
      return a;
    },
  };
  return { client: client as unknown as RegionClient, calls };
}

const changed = (status: string, etag: string): SnapshotAnswer => ({ kind: 'changed', etag, body: Buffer.from(body(status)), bytes: 0 });

describe('RegionSource', () => {
  it('sends the ETag and wait once it holds a snapshot, and a 304 confirms freshness', async () => {
    const s = scripted([changed('ready', '"e1"'), { kind: 'unchanged' }]);
    const store = new NodeStore();
    const src = new RegionSource({ client: s.client, fetcher: new InlineSnapshotFetcher(s.client), store, log: createLogger('silent'), waitSeconds: 7, minIntervalMs: 5 });
    await src.start();
    await new Promise((r) => setTimeout(r, 40));
    await src.stop();
    expect(s.calls[0]).toEqual({ etag: undefined, waitSeconds: 7 });
    expect(s.calls[1]).toEqual({ etag: '"e1"', waitSeconds: 7 });
    expect(store.status().version).toBe('ready');
    expect(store.status().confirmedAt).toBeGreaterThan(store.status().loadedAt!);
  });

  it('logs a failure once however often it repeats, and again only when the failure changes', async () => {
    const sink = new LogSink();
    const unreachable = new RegionError('unreachable', 'cannot reach region http://region.test: connect ECONNREFUSED');
    const s = scripted([changed('ready', '"e1"'), unreachable, unreachable, unreachable, new RegionError('unauthorized', 'HTTP 401', { status: 401 })]);
    const src = new RegionSource({ client: s.client, fetcher: new InlineSnapshotFetcher(s.client), store: new NodeStore(), log: createLogger('debug', sink), backoffMaxMs: 4, minIntervalMs: 1 });
    await src.start();
    await new Promise((r) => setTimeout(r, 150));
    await src.stop();
    const errors = sink.entries().filter((e) => e.level === 50).map((e) => String(e.msg));
    expect(errors.filter((m) => m.startsWith('region unreachable'))).toHaveLength(1);
    expect(errors.filter((m) => m.startsWith('region refused this cluster'))).toHaveLength(1);
    expect(s.calls.length).toBeGreaterThan(6);
  });

  it('rejects a malformed snapshot whole and keeps the last good one', async () => {
    const s = scripted([changed('ready', '"e1"'), { kind: 'changed', etag: '"e2"', body: Buffer.from('{"nodes":[{"system_id":"s1"}]}'), bytes: 0 }]);
    const store = new NodeStore();
    const src = new RegionSource({ client: s.client, fetcher: new InlineSnapshotFetcher(s.client), store, log: createLogger('silent'), backoffMaxMs: 4, minIntervalMs: 1 });
    await src.start();
    await new Promise((r) => setTimeout(r, 40));
    await src.stop();
    expect(store.status().version).toBe('ready');
    expect(src.health().state).toBe('malformed');
    // The bad ETag is never adopted: the next request asks for the whole snapshot again.
    expect(s.calls.at(-1)!.etag).toBe('"e1"');
  });
});
