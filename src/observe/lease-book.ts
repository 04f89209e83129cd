import type { MacAddress } from '../core/mac.js';

/** A DHCP lease as the hook reports it. */
export interface Lease {
  mac: MacAddress;
  ip: string;
  hostname?: string;
  arch?: string;
  vendorClass?: string;
  userClass?: string;
  uuid?: string;
  firstSeen: number;
  lastSeen: number;
}

/** What a lease event tells about a client (a Lease without the bookkeeping times). */
export type LeaseFacts = Omit<Lease, 'firstSeen' | 'lastSeen'>;

/** IPs leased to each MAC (bounded), for answer-URL binding and the hex-IP pxelinux lookup. */
export class LeaseBook {
  readonly #byMac = new Map<MacAddress, Lease[]>();
  readonly #byIp = new Map<string, MacAddress>();
  readonly #perMac: number;
  readonly #listeners = new Set<(l: Lease) => void>();

  constructor(options: { perMac?: number } = {}) {
    this.#perMac = options.perMac ?? 4;
  }

  /** Record a lease event; returns the stored lease. */
  record(l: LeaseFacts, now = Date.now()): Lease {
    const list = this.#byMac.get(l.mac) ?? [];
    let lease = list.find((x) => x.ip === l.ip);
    if (lease) {
      Object.assign(lease, { ...l, firstSeen: lease.firstSeen, lastSeen: now });
    } else {
      lease = { ...l, firstSeen: now, lastSeen: now };
      list.push(lease);
      while (list.length > this.#perMac) this.#byIp.delete(list.shift()!.ip);
    }
    this.#byMac.set(l.mac, list);
    this.#byIp.set(l.ip, l.mac);
    for (const fn of this.#listeners) fn(lease);
    return lease;
  }

  /** Listen to every recorded lease event (the boot timeline). */
  onRecord(fn: (l: Lease) => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  /** Every IP currently recorded for `mac`. */
  ipsFor(mac: MacAddress): string[] {
    return (this.#byMac.get(mac) ?? []).map((l) => l.ip);
  }

  /** The MAC last seen holding `ip`. */
  macFor(ip: string): MacAddress | undefined {
    return this.#byIp.get(ip);
  }

  leases(mac: MacAddress): Lease[] {
    return [...(this.#byMac.get(mac) ?? [])];
  }
}
