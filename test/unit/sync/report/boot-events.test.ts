import { describe, expect, it } from 'vitest';
import { createLogger } from '../../../../src/core/log.js';
import { MetricsRegistry } from '../../../../src/core/metrics.js';
import { toBootEvent } from '../../../../src/contract/boot-events.js';
import { BoundedQueue } from '../../../../src/core/bounded-queue.js';
import { bootEventForFile } from '../../../../src/observe/boot-milestones.js';
import { EventReporter } from '../../../../src/sync/report/event-reporter.js';
import { RegionError } from '../../../../src/sync/region/region-error.js';

describe('BoundedQueue', () => {
  it('drops the oldest entries when full and counts them', () => {
    const q = new BoundedQueue<number>(3);
    for (let i = 1; i <= 5; i++) q.push(i);
    expect(q.take(10)).toEqual([3, 4, 5]);
    expect(q.dropped).toBe(2);
  });

  it('puts an undelivered batch back at the head, still bounded', () => {
    const q = new BoundedQueue<number>(4);
    for (const i of [1, 2, 3]) q.push(i);
    const batch = q.take(2);
    q.push(4);
    q.push(5);
    q.putBack(batch);
    expect(q.take(10)).toEqual([2, 3, 4, 5]);
    expect(q.dropped).toBe(1);
  });
});

describe('toBootEvent', () => {
  it('stamps the time and keeps detail printable and short', () => {
    const e = toBootEvent({ kind: 'kernel-fetched', mac: '52:54:00:00:00:01', detail: `a\nb${'x'.repeat(300)}` }, Date.UTC(2026, 0, 2));
    expect(e).toMatchObject({ kind: 'kernel-fetched', system_id: null, at: '2026-01-02T00:00:00.000Z' });
    expect(e.detail.startsWith('a?b')).toBe(true);
    expect(e.detail.length).toBeLessThanOrEqual(201);
  });
});

describe('EventReporter', () => {
  const fakeClient = (fail: () => boolean) => {
    const sent: unknown[][] = [];
    return {
      sent,
      client: {
        postCluster: async (_e: string, body: unknown) => {
          if (fail()) throw new RegionError('unreachable', 'cannot reach region');
          sent.push((body as { events: unknown[] }).events);
          return 202;
        },
      },
    };
  };

  it('sends queued events in batches of at most batchSize', async () => {
    const f = fakeClient(() => false);
    const r = new EventReporter({ client: f.client, log: createLogger('silent'), batchSize: 3 });
    for (let i = 0; i < 7; i++) r.emitBootEvent({ kind: 'script-served', mac: `m${i}` });
    await r.flush();
    await r.flush();
    await r.flush();
    expect(f.sent.map((b) => b.length)).toEqual([3, 3, 1]);
  });

  it('keeps events while the region is away and counts the dropped ones in /metrics', async () => {
    let down = true;
    const f = fakeClient(() => down);
    const metrics = new MetricsRegistry();
    const r = new EventReporter({ client: f.client, log: createLogger('silent'), maxQueue: 5, batchSize: 10 });
    r.registerMetrics(metrics);
    for (let i = 0; i < 8; i++) r.emitBootEvent({ kind: 'script-served', mac: `m${i}` });
    await r.flush();
    expect(r.queue.size).toBe(5);
    expect(await metrics.expose()).toContain('edgeboot_region_events_dropped_total 3');
    down = false;
    await r.flush();
    expect((f.sent[0] as Array<{ mac: string }>).map((e) => e.mac)).toEqual(['m3', 'm4', 'm5', 'm6', 'm7']);
  });
});

describe('bootEventForFile', () => {
  it.each([
    ['images/ubuntu/amd64/generic/noble/stable/kernel', 'kernel-fetched'],
    ['/images/ubuntu/amd64/generic/noble/stable/initrd', 'initrd-fetched'],
    ['images/ubuntu/amd64/generic/noble/stable/squashfs', 'squashfs-fetched'],
    ['undionly.kpxe', 'loader-fetched'],
    ['snponly.efi', 'loader-fetched'],
    ['pxelinux.0', 'loader-fetched'],
    ['ldlinux.c32', undefined],
    ['images/ubuntu/kernel', undefined],
  ])('%s is %s', (path, kind) => {
    expect(bootEventForFile(path)).toBe(kind);
  });
});
