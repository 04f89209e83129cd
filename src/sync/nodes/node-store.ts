import type { MacAddress } from '../../core/mac.js';
import type { Node, Snapshot } from '../../core/node.js';
import { indexSteps, lookUp, type NodeIndexTables } from '../../core/node-index.js';
import type { NodeQuery, NodeSource } from './node-source.js';

interface Indexed {
  snapshot: Snapshot;
  tables: NodeIndexTables;
  loadedAt: number;
  /** Last time the source said this snapshot is still current (a 304 from the region). */
  confirmedAt: number;
}

/** Where the store's data stands: used by /healthz and /metrics. */
export interface StoreStatus {
  loaded: boolean;
  version: string;
  nodes: number;
  loadedAt?: number;
  /** Last time the source confirmed the snapshot is current (load or 304). */
  confirmedAt?: number;
  /** Seconds since the snapshot was last loaded or confirmed current by its source. */
  ageSeconds?: number;
  source: string;
}

/** In-memory, indexed last good snapshot; swapped whole, never patched in place. */
export class NodeStore implements NodeSource {
  #current: Indexed | undefined;
  readonly #now: () => number;
  readonly #listeners = new Set<(s: Snapshot) => void>();
  source = 'none';

  constructor(options: { now?: () => number } = {}) {
    this.#now = options.now ?? Date.now;
  }

  /** Replace the whole snapshot with an already validated one. */
  swap(snapshot: Snapshot, source: string): void {
    const steps = indexSteps(snapshot.nodes);
    let r = steps.next();
    while (!r.done) r = steps.next();
    this.install(snapshot, r.value, source);
  }

  /**
   * Like swap, but builds the lookup tables in slices, yielding to the event loop between them;
   * lookups keep answering from the old snapshot until the new one is complete.
   */
  async swapInSlices(snapshot: Snapshot, source: string, slice = 5000): Promise<void> {
    const steps = indexSteps(snapshot.nodes, slice);
    let r = steps.next();
    while (!r.done) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      r = steps.next();
    }
    this.install(snapshot, r.value, source);
  }

  /** Replace the whole snapshot with one whose tables were built already (node-index.ts, e.g. on the region worker). */
  install(snapshot: Snapshot, tables: NodeIndexTables, source: string): void {
    const now = this.#now();
    this.#current = { snapshot, tables, loadedAt: now, confirmedAt: now };
    this.source = source;
    for (const fn of this.#listeners) fn(snapshot);
  }

  /** Record that the source confirmed the snapshot in force is still current (e.g. HTTP 304). */
  confirm(): void {
    if (this.#current) this.#current.confirmedAt = this.#now();
  }

  /** Call `fn` after every swap. */
  onSwap(fn: (s: Snapshot) => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  /** Synchronous lookup: MAC first, then UUID, then system_id. */
  find(q: NodeQuery): Node | undefined {
    const cur = this.#current;
    if (!cur) return undefined;
    const nodes = cur.snapshot.nodes;
    let pos = -1;
    if (q.mac) {
      const mac = q.mac;
      pos = lookUp(cur.tables.mac, mac, (p) => nodes[p]!.macs.includes(mac));
    }
    if (pos < 0 && q.uuid) {
      const uuid = q.uuid;
      pos = lookUp(cur.tables.uuid, uuid, (p) => nodes[p]!.uuid === uuid);
    }
    if (pos < 0 && q.systemId) {
      const id = q.systemId;
      pos = lookUp(cur.tables.systemId, id, (p) => nodes[p]!.systemId === id);
    }
    return pos < 0 ? undefined : nodes[pos];
  }

  async lookup(q: NodeQuery): Promise<Node | undefined> {
    return this.find(q);
  }

  /** The node owning `mac`, if any. */
  byMac(mac: MacAddress): Node | undefined {
    return this.find({ mac });
  }

  /** The snapshot in force, or undefined when none was ever loaded. */
  snapshot(): Snapshot | undefined {
    return this.#current?.snapshot;
  }

  /** True once any snapshot has been loaded. */
  get loaded(): boolean {
    return this.#current !== undefined;
  }

  /** Where the data stands, for /healthz and /metrics. */
  status(): StoreStatus {
    const cur = this.#current;
    if (!cur) return { loaded: false, version: '', nodes: 0, source: this.source };
    return {
      loaded: true,
      version: cur.snapshot.version,
      nodes: cur.snapshot.nodes.length,
      loadedAt: cur.loadedAt,
      confirmedAt: cur.confirmedAt,
      ageSeconds: (this.#now() - Math.max(cur.loadedAt, cur.confirmedAt)) / 1000,
      source: this.source,
    };
  }
}
