import type { RegionBootEvent } from '../contract/index.js';
import { tryParseMac } from '../core/mac.js';
import type { BootTimeline } from './timeline.js';

/** How the event reporter tells its listeners which batch the region accepted. */
export type OnDelivered = (fn: (batch: readonly RegionBootEvent[]) => void) => unknown;

/** Region events sent: one timeline entry per MAC per batch the region accepted. */
export function recordRegionDeliveriesOnTimeline(onDelivered: OnDelivered, timeline: BootTimeline): void {
  onDelivered((batch) => {
    const perMac = new Map<string, string[]>();
    for (const e of batch) if (e.mac) perMac.set(e.mac, [...(perMac.get(e.mac) ?? []), e.kind]);
    for (const [mac, kinds] of perMac) {
      const parsed = tryParseMac(mac);
      if (parsed) timeline.record(parsed, { at: Date.now(), stage: 'region-event', via: 'region', detail: `sent ${kinds.join(', ')}`.slice(0, 120), outcome: 'ok' });
    }
  });
}
