import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rawNode, startRegion, TOKENS, type TestRegion } from '../../support/region-harness.js';

const rack = { authorization: `Bearer ${TOKENS.rackA}`, 'content-type': 'application/json' };
const admin = { authorization: `Bearer ${TOKENS.admin}` };

describe('region writes are idempotent, so a rack retrying on another replica does no harm', () => {
  let region: TestRegion;
  beforeAll(async () => {
    region = await startRegion({ nodes: [rawNode(1, { status: 'new' })] });
  });
  afterAll(async () => {
    await region?.cleanup();
  });

  it('a boot-event batch sent twice is stored once; events without an id (old racks) are all kept', async () => {
    const ev = (id: string | undefined, kind: string) => ({ ...(id ? { id } : {}), mac: '52:54:00:5e:00:01', system_id: 'sys0001', kind, detail: '', at: new Date().toISOString() });
    const batch = { events: [ev('5b2e0c4e-1111-4c1e-9d1a-000000000001', 'loader-fetched'), ev('5b2e0c4e-1111-4c1e-9d1a-000000000002', 'script-served')] };
    const post = (body: unknown) => fetch(`${region.url}/api/v1/clusters/rack-a/events`, { method: 'POST', headers: rack, body: JSON.stringify(body) });
    expect(await (await post(batch)).json()).toEqual({ accepted: 2, duplicates: 0 });
    expect(await (await post(batch)).json()).toEqual({ accepted: 2, duplicates: 2 });
    expect(region.server.events.map((e) => e.event.kind)).toEqual(['loader-fetched', 'script-served']);
    await post({ events: [ev(undefined, 'kernel-fetched'), ev(undefined, 'kernel-fetched')] });
    expect(region.server.events).toHaveLength(4);
    const bad = await post({ events: [ev('not an id!', 'kernel-fetched')] });
    expect(bad.status).toBe(400);
  });

  it('a discovery sent twice makes one node', async () => {
    const post = () =>
      fetch(`${region.url}/api/v1/clusters/rack-a/discoveries`, { method: 'POST', headers: rack, body: JSON.stringify({ mac: '52:54:00:aa:bb:cc', arch: 'x86_64' }) });
    const first = (await (await post()).json()) as { status: string; system_id: string };
    const again = (await (await post()).json()) as { status: string; system_id: string };
    expect(first.status).toBe('created');
    expect(again).toEqual({ status: 'known', system_id: first.system_id });
  });

  it('an approve repeated after it succeeded answers the same result, not a conflict', async () => {
    const approve = () => fetch(`${region.url}/api/v1/admin/nodes/sys0001/approve`, { method: 'POST', headers: admin });
    const a = await approve();
    const b = await approve();
    expect(a.status).toBe(200);
    expect(b.status).toBe(200);
    expect(await b.json()).toEqual(await a.json());
    const wrong = await fetch(`${region.url}/api/v1/admin/nodes/sys0001/status`, { method: 'POST', headers: { ...admin, 'content-type': 'application/json' }, body: '{"status":"deployed"}' });
    expect(wrong.status).toBe(200);
    // Approving a node that moved on is still refused: only a repeat of the same change is idempotent.
    expect((await approve()).status).toBe(409);
  });
});
