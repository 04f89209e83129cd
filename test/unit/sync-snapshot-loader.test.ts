import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { packageRoot } from '../../src/config/config.js';
import { Secret } from '../../src/core/secret.js';
import { type LoadedSnapshot, loadSnapshot } from '../../src/sync/snapshot-loader.js';

// The worker runs in plain Node, so it is the built one (`npm run build` first); vitest loads this loader from src.
const BUILT = join(packageRoot(), 'dist/src/sync/snapshot-worker.js');
const worker = pathToFileURL(BUILT);

const node = (i: number, status = 'deployed') => ({
  system_id: `s${i}`,
  hostname: `h${i}`,
  macs: [`52:54:00:00:00:${i.toString(16).padStart(2, '0')}`],
  arch: 'amd64/generic',
  status,
  token: { consumer_key: `ck${i}`, token_key: `tk${i}`, token_secret: `secret-${i}` },
});
const body = (nodes: unknown[]) => Buffer.from(JSON.stringify({ version: 'v1', nodes, boot_selections: [] }));

describe('loadSnapshot on the worker thread', () => {
  it('finds the built worker script', () => {
    expect(existsSync(BUILT), `${BUILT} is missing: run npm run build`).toBe(true);
  });

  it('gives the normalised snapshot back across chunks, tokens wrapped in Secret', async () => {
    const { snapshot } = await loadSnapshot(body(Array.from({ length: 25 }, (_, i) => node(i))), 'test', { workerUrl: worker, chunkNodes: 4 });
    expect(snapshot.nodes.map((n) => n.systemId)).toEqual(Array.from({ length: 25 }, (_, i) => `s${i}`));
    const t = snapshot.nodes[7]!.token!;
    expect(t.tokenSecret).toBeInstanceOf(Secret);
    expect(t.tokenSecret.reveal()).toBe('secret-7');
    expect(JSON.stringify(snapshot)).not.toContain('secret-7');
  });

  it('reuses the objects of unchanged nodes from the previous load and rebuilds changed ones', async () => {
    const first: LoadedSnapshot = await loadSnapshot(body([node(1), node(2), node(3)]), 'test', { workerUrl: worker });
    const { snapshot } = await loadSnapshot(body([node(3), node(2, 'ready'), node(1)]), 'test', { workerUrl: worker, previous: first });
    const [n3, n2, n1] = snapshot.nodes;
    expect(n3).toBe(first.snapshot.nodes[2]);
    expect(n1).toBe(first.snapshot.nodes[0]);
    expect(n2).not.toBe(first.snapshot.nodes[1]);
    expect(n2!.status).toBe('ready');
  });

  it('rejects an invalid snapshot whole, naming every problem with its path', async () => {
    const bad = [node(1), { ...node(2), macs: ['nope'] }, { ...node(3), hostname: 'bad host' }, node(1)];
    const err = await loadSnapshot(body(bad), 'region x', { workerUrl: worker }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'E_SNAPSHOT' });
    const msg = (err as Error).message;
    expect(msg).toMatch(/^region x is invalid: /);
    expect(msg).toContain('nodes[1].macs[0]: is not a MAC address');
    expect(msg).toContain('nodes[2].hostname: must be a DNS hostname');
    expect(msg).toContain('nodes[3].system_id: s1 appears twice');
    expect(msg).not.toContain('secret-');
  });

  it('reports a body that is not JSON', async () => {
    const err = await loadSnapshot(Buffer.from('{"nodes": ['), 'region x', { workerUrl: worker }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'E_SNAPSHOT' });
    expect((err as Error).message).toMatch(/^region x is not JSON: /);
  });
});

describe('loadSnapshot in this thread (no worker script)', () => {
  it('gives the same snapshot as the worker does', async () => {
    const b = body(Array.from({ length: 5 }, (_, i) => node(i)));
    const here = await loadSnapshot(Buffer.from(b), 'test', { workerUrl: null });
    const there = await loadSnapshot(Buffer.from(b), 'test', { workerUrl: worker });
    expect(here.snapshot).toEqual(there.snapshot);
    expect(here.snapshot.nodes[0]!.token!.consumerKey.reveal()).toBe('ck0');
  });

  it('rejects an invalid snapshot with the same message', async () => {
    const b = body([node(1), { ...node(2), macs: [] }]);
    const here = await loadSnapshot(Buffer.from(b), 'r', { workerUrl: null }).catch((e: unknown) => (e as Error).message);
    const there = await loadSnapshot(Buffer.from(b), 'r', { workerUrl: worker }).catch((e: unknown) => (e as Error).message);
    expect(here).toContain('nodes[1].macs: must list at least one MAC');
    expect(here).toBe(there);
  });
});
