import type { BootTimeline } from './timeline.js';
import type { LeaseBook } from './lease-book.js';

/** Put every lease the DHCP hook reports on the timeline: the MAC's first stage, and its IP for later lookups. */
export function recordLeasesOnTimeline(leases: LeaseBook, timeline: BootTimeline): void {
  leases.onRecord((l) => {
    timeline.learnIp(l.ip, l.mac);
    timeline.record(l.mac, { at: l.lastSeen, stage: 'dhcp', via: 'dhcp', detail: `${l.ip}${l.arch ? ` arch ${l.arch}` : ''}`, outcome: 'ok' });
  });
}
