import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { BootService, type BootServiceOptions } from '../../../src/boot/boot-service.js';
import { type MacAddress, parseMac } from '../../../src/core/mac.js';
import { LeaseBook } from '../../../src/observe/lease-book.js';
import { BootTimeline } from '../../../src/observe/timeline.js';
import { NodeStore } from '../../../src/sync/nodes/index.js';

// An IPv6 machine's first-stage loader is fetched from the firmware's own DHCPv6 address, which nothing
// else names: the neighbour table ties it to the MAC, so the loader shows on the machine's timeline.

const MAC = parseMac('52:54:00:00:06:01');

function service(neighbourMac: (ip: string) => Promise<MacAddress | undefined>, timeline: BootTimeline): BootService {
  // recordFile needs only the timeline, the lease book, the store and the neighbour lookup.
  const options = { timeline, leases: new LeaseBook(), store: new NodeStore(), neighbourMac, log: pino({ level: 'silent' }) };
  return new BootService(options as unknown as BootServiceOptions);
}

const settle = () => new Promise((r) => setTimeout(r, 10));

describe('timeline of an IPv6 client no lease names', () => {
  it("puts the firmware's loader fetch on the MAC the neighbour table holds for its address", async () => {
    const timeline = new BootTimeline();
    const asked: string[] = [];
    const boot = service(async (ip) => {
      asked.push(ip);
      return ip === 'fd80:21::9' ? MAC : undefined;
    }, timeline);
    boot.recordFile('fd80:21::9', { stage: 'loader', via: 'tftp', detail: 'snponly.efi', outcome: 'ok' });
    await settle();
    expect(asked).toEqual(['fd80:21::9']);
    expect(timeline.events(MAC).map((e) => e.detail)).toEqual(['snponly.efi']);
    // The address is known now: the next fetch goes straight to the MAC, no second lookup.
    boot.recordFile('fd80:21::9', { stage: 'kernel', via: 'http', detail: 'images/k', outcome: 'ok' });
    expect(timeline.events(MAC).map((e) => e.detail)).toEqual(['snponly.efi', 'images/k']);
    expect(asked).toHaveLength(1);
  });

  it('asks nothing for IPv4 (leases name those) and keeps the event held when the table has no entry', async () => {
    const timeline = new BootTimeline();
    const asked: string[] = [];
    const boot = service(async (ip) => {
      asked.push(ip);
      return undefined;
    }, timeline);
    boot.recordFile('10.0.0.9', { stage: 'loader', via: 'tftp', detail: 'undionly.kpxe', outcome: 'ok' });
    boot.recordFile('fd80:21::77', { stage: 'loader', via: 'tftp', detail: 'snponly.efi', outcome: 'ok' });
    await settle();
    expect(asked).toEqual(['fd80:21::77']);
    timeline.learnIp('fd80:21::77', MAC);
    expect(timeline.events(MAC).map((e) => e.detail)).toEqual(['snponly.efi']);
  });

  it('runs at most a few lookups at once, whatever a flood of unknown addresses asks', async () => {
    const timeline = new BootTimeline();
    let inFlight = 0;
    let most = 0;
    const boot = service(async () => {
      most = Math.max(most, ++inFlight);
      await settle();
      inFlight--;
      return undefined;
    }, timeline);
    for (let i = 1; i <= 50; i++) boot.recordFile(`fd80:21::${i.toString(16)}`, { stage: 'loader', via: 'tftp', detail: 'x.efi', outcome: 'ok' });
    await settle();
    await settle();
    expect(most).toBeGreaterThan(0);
    expect(most).toBeLessThanOrEqual(4);
  });
});
