import { writeFileSync } from 'node:fs';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { changesBodySchema, REVISION_HEADER, type WireChanges } from '../../../src/contract/index.js';
import { rawNode, startRegion, TOKENS, type TestRegion } from '../../support/region-harness.js';

const auth = { authorization: `Bearer ${TOKENS.rackA}` };
const nodes = [rawNode(1), rawNode(2), rawNode(3)];

describe('the region revision feed (YAML store): snapshot revision, GET …/changes, long poll, 410', () => {
  let region: TestRegion;
  const get = (path: string, headers: Record<string, string> = auth) => fetch(`${region.url}/api/v1/clusters/rack-a/${path}`, { headers });
  const snapshotRevision = async () => {
    const res = await get('snapshot');
    const body = (await res.json()) as { revision: number; nodes: unknown[] };
    expect(res.headers.get(REVISION_HEADER)).toBe(String(body.revision));
    return body.revision;
  };
  const write = async (list: Array<Record<string, unknown>>) => {
    writeFileSync(region.inventoryPath, stringify({ nodes: list }));
    await region.server.reload();
  };

  beforeAll(async () => {
    region = await startRegion({ nodes });
  });
  afterAll(async () => {
    await region?.cleanup();
  });

  it('the snapshot carries the revision in body and header; changes since it are empty', async () => {
    const rev = await snapshotRevision();
    expect(Number.isSafeInteger(rev)).toBe(true);
    const res = await get(`changes?since=${rev}`);
    expect(res.status).toBe(200);
    const body = changesBodySchema.parse(await res.json());
    expect(body).toEqual({ revision: rev, nodes_changed: [], nodes_removed: [] });
  });

  it('one node changed, one removed, one added: the delta names exactly those, and a small body', async () => {
    const rev = await snapshotRevision();
    await write([rawNode(1, { status: 'broken' }), rawNode(3), rawNode(4)]);
    const res = await get(`changes?since=${rev}`);
    const text = await res.text();
    const body = JSON.parse(text) as WireChanges;
    expect(body.revision).toBe(rev + 1);
    expect(res.headers.get(REVISION_HEADER)).toBe(String(rev + 1));
    expect(body.nodes_changed.map((n) => [n.system_id, n.status])).toEqual([
      ['sys0001', 'broken'],
      ['sys0004', 'deployed'],
    ]);
    expect(body.nodes_removed).toEqual(['sys0002']);
    expect(body.config).toBeUndefined();
    expect(await snapshotRevision()).toBe(rev + 1);
  });

  it('a long poll is answered within a second of a write, and a timed-out one returns since with empty lists', async () => {
    const rev = await snapshotRevision();
    const started = Date.now();
    const timedOut = (await (await get(`changes?since=${rev}&wait=1`)).json()) as WireChanges;
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(timedOut).toEqual({ revision: rev, nodes_changed: [], nodes_removed: [] });

    const poll = get(`changes?since=${rev}&wait=20`).then(async (r) => ({ at: Date.now(), body: (await r.json()) as WireChanges }));
    await new Promise((r) => setTimeout(r, 300));
    const wrote = Date.now();
    await write([rawNode(1, { status: 'ready' }), rawNode(3), rawNode(4)]);
    const { at, body } = await poll;
    expect(at - wrote).toBeLessThan(1000);
    expect(body.revision).toBe(rev + 1);
    expect(body.nodes_changed.map((n) => n.system_id)).toEqual(['sys0001']);
  });

  it('a since ahead of the region or from before its history gets 410 Gone; bad input gets 400; a wrong token 401', async () => {
    const rev = await snapshotRevision();
    const ahead = await get(`changes?since=${rev + 1}`);
    expect(ahead.status).toBe(410);
    expect(await ahead.text()).toMatch(/ahead .* re-list through the snapshot/);
    expect((await get('changes?since=5')).status).toBe(410);
    const bad = await get('changes?since=abc');
    expect(bad.status).toBe(400);
    expect(await bad.text()).toContain('?since=<revision>');
    expect((await get(`changes?since=${rev}&wait=-1`)).status).toBe(400);
    expect((await get(`changes?since=${rev}`, { authorization: 'Bearer nope' })).status).toBe(401);
    // The region keeps serving after bad input.
    expect((await get(`changes?since=${rev}`)).status).toBe(200);
  });

  it('a restarted region starts above every revision it handed out, and answers 410 for the old ones', async () => {
    const before = await snapshotRevision();
    await region.kill();
    await region.restart();
    const after = await snapshotRevision();
    expect(after).toBeGreaterThan(before);
    expect((await get(`changes?since=${before}`)).status).toBe(410);
  });
});

describe('per-cluster answers over HTTP: a rack is served its own nodes and held polls wait for its own changes', () => {
  let region: TestRegion;
  const get = (cluster: string, token: string, path: string, headers: Record<string, string> = {}) =>
    fetch(`${region.url}/api/v1/clusters/${cluster}/${path}`, { headers: { authorization: `Bearer ${token}`, ...headers } });
  const put = async (list: Array<Record<string, unknown>>) => {
    const res = await fetch(`${region.url}/api/v1/admin/nodes`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${TOKENS.admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({ nodes: list }),
    });
    expect(res.status).toBe(200);
  };

  beforeAll(async () => {
    region = await startRegion({ nodes: [rawNode(1, { cluster: 'rack-a' }), rawNode(2, { cluster: 'rack-b' }), rawNode(3)] });
  });
  afterAll(async () => {
    await region?.cleanup();
  });

  it('a write on rack-b does not answer rack-a’s long poll or change its ETag; a write on rack-a does', async () => {
    const snapA = await get('rack-a', TOKENS.rackA, 'snapshot');
    const a = (await snapA.json()) as { revision: number; nodes: Array<{ system_id: string }> };
    expect(a.nodes.map((n) => n.system_id).sort()).toEqual(['sys0001', 'sys0003']);
    const b = (await (await get('rack-b', TOKENS.rackB, 'snapshot')).json()) as { nodes: Array<{ system_id: string }> };
    expect(b.nodes.map((n) => n.system_id).sort()).toEqual(['sys0002', 'sys0003']);
    const etagA = snapA.headers.get('etag')!;

    let answered = 0;
    const poll = get('rack-a', TOKENS.rackA, `changes?since=${a.revision}&wait=20`).then(async (r) => {
      answered = Date.now();
      return (await r.json()) as WireChanges;
    });
    await new Promise((r) => setTimeout(r, 200));
    await put([rawNode(2, { cluster: 'rack-b', status: 'broken' })]);
    await new Promise((r) => setTimeout(r, 1200));
    expect(answered).toBe(0);
    expect((await get('rack-a', TOKENS.rackA, 'snapshot', { 'if-none-match': etagA })).status).toBe(304);

    const wrote = Date.now();
    await put([rawNode(1, { cluster: 'rack-a', status: 'broken' })]);
    const body = await poll;
    expect(answered - wrote).toBeLessThan(1000);
    expect(body.nodes_changed.map((n) => n.system_id)).toEqual(['sys0001']);
    expect(body.nodes_removed).toEqual([]);
    expect((await get('rack-a', TOKENS.rackA, 'snapshot', { 'if-none-match': etagA })).status).toBe(200);
  });
});
