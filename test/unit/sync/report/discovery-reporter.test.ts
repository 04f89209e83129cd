import { describe, expect, it } from 'vitest';
import { createLogger } from '../../../../src/core/log.js';
import { parseMac } from '../../../../src/core/mac.js';
import { DiscoveryLog } from '../../../../src/observe/discoveries.js';
import { DiscoveryReporter } from '../../../../src/sync/report/discovery-reporter.js';
import { NodeStore } from '../../../../src/sync/nodes/node-store.js';
import { RegionError } from '../../../../src/sync/region/region-error.js';
import { parseSnapshot } from '../../../../src/contract/snapshot-schema.js';

const until = async (fn: () => boolean) => {
  for (let i = 0; i < 200 && !fn(); i++) await new Promise((r) => setTimeout(r, 5));
  expect(fn()).toBe(true);
};

describe('DiscoveryReporter', () => {
  const make = (failFirst: number) => {
    const posts: Array<Record<string, unknown>> = [];
    let calls = 0;
    const client = {
      postCluster: async (_e: string, body: unknown) => {
        calls++;
        if (calls <= failFirst) throw new RegionError('unreachable', 'cannot reach region');
        posts.push(body as Record<string, unknown>);
        return 201;
      },
    };
    const log = new DiscoveryLog();
    const store = new NodeStore();
    store.swap(parseSnapshot({ nodes: [] }, 't'), 't');
    const r = new DiscoveryReporter({ client, discoveries: log, store, log: createLogger('silent'), backoffMaxMs: 20, random: () => 0 });
    return { r, log, store, posts, calls: () => calls };
  };

  it('reports an unknown MAC once, however often it is seen', async () => {
    const t = make(0);
    await t.r.start();
    for (let i = 0; i < 5; i++) t.log.see({ mac: parseMac('52:54:00:00:00:01'), via: 'http', ip: '10.0.0.5', arch: 'x86_64' });
    await until(() => t.posts.length === 1);
    await new Promise((r) => setTimeout(r, 30));
    await t.r.stop();
    expect(t.posts).toHaveLength(1);
    expect(t.posts[0]).toMatchObject({ mac: '52:54:00:00:00:01', ip: '10.0.0.5', arch: 'x86_64', uuid: null });
    expect(String(t.posts[0]!.seen_at)).toMatch(/Z$/);
  });

  it('retries with backoff until the region accepts it', async () => {
    const t = make(3);
    await t.r.start();
    t.log.see({ mac: parseMac('52:54:00:00:00:02'), via: 'tftp' });
    await until(() => t.posts.length === 1);
    await t.r.stop();
    expect(t.calls()).toBe(4);
    expect(t.log.list()[0]!.reported).toBe(true);
  });

  it('forgets a MAC once the region lists it, so a later removal is reported again', async () => {
    const t = make(0);
    await t.r.start();
    const mac = parseMac('52:54:00:00:00:03');
    t.log.see({ mac, via: 'dhcp' });
    await until(() => t.posts.length === 1);
    t.store.swap(parseSnapshot({ nodes: [{ system_id: 'd1', hostname: 'h', macs: [mac], arch: 'amd64', status: 'new' }] }, 't'), 't');
    expect(t.log.list()).toHaveLength(0);
    t.store.swap(parseSnapshot({ nodes: [] }, 't'), 't');
    t.log.see({ mac, via: 'http' });
    await until(() => t.posts.length === 2);
    await t.r.stop();
  });
});
