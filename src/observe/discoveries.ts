import type { MacAddress } from '../core/mac.js';

/** An unknown machine seen on the wire. */
export interface Discovery {
  mac: MacAddress;
  uuid?: string;
  arch?: string;
  ip?: string;
  via: 'http' | 'tftp' | 'dhcp';
  firstSeen: number;
  lastSeen: number;
  reported: boolean;
}

/** Unknown MACs seen by TFTP, HTTP or the DHCP hook; bounded, deduplicated per MAC. */
export class DiscoveryLog {
  readonly #byMac = new Map<MacAddress, Discovery>();
  readonly #max: number;
  readonly #listeners = new Set<(d: Discovery) => void>();

  constructor(options: { max?: number } = {}) {
    this.#max = options.max ?? 10_000;
  }

  /** Record a sighting; listeners hear only the first sighting of a MAC. */
  see(d: Omit<Discovery, 'firstSeen' | 'lastSeen' | 'reported'>, now = Date.now()): Discovery {
    const old = this.#byMac.get(d.mac);
    if (old) {
      old.lastSeen = now;
      if (d.ip) old.ip = d.ip;
      if (d.uuid) old.uuid = d.uuid;
      if (d.arch) old.arch = d.arch;
      return old;
    }
    if (this.#byMac.size >= this.#max) {
      // Evict the oldest entry: Map iteration order is insertion order.
      const first = this.#byMac.keys().next().value;
      if (first) this.#byMac.delete(first);
    }
    const entry: Discovery = { ...d, firstSeen: now, lastSeen: now, reported: false };
    this.#byMac.set(d.mac, entry);
    for (const fn of this.#listeners) fn(entry);
    return entry;
  }

  /** Listen for first sightings. */
  onNew(fn: (d: Discovery) => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  /** Forget a MAC (e.g. once the region knows it). */
  forget(mac: MacAddress): void {
    this.#byMac.delete(mac);
  }

  list(): Discovery[] {
    return [...this.#byMac.values()];
  }
}
