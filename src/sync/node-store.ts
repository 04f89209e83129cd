import type { MacAddress } from '../core/mac.js';
import type { Node, Snapshot } from '../core/node.js';
import type { NodeQuery, NodeSource } from './node-source.js';

const SHARDS = 32;

/**
 * A string-keyed map split over a few Maps by the key's last characters, so growing it never rehashes
 * 100,000 entries in one go (a pause a sliced swap cannot split).
 */
class ShardedIndex {
  readonly #shards = Array.from({ length: SHARDS }, () => new Map<string, Node>());

  #shard(key: string): Map<string, Node> {
    let h = 0;
    for (let i = 0; i < key.length; i++) h = (h * 31 + key.charCodeAt(i)) | 0;
    return this.#shards[(h >>> 0) % SHARDS]!;
  }

  get(key: string): Node | undefined {
    return this.#shard(key).get(key);
  }

  set(key: string, node: Node): void {
    this.#shard(key).set(key, node);
  }
}

interface Indexed {
  snapshot: Snapshot;
  byMac: ShardedIndex;
  byUuid: ShardedIndex;
  bySystemId: ShardedIndex;
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
    const steps = this.#index(snapshot, Number.MAX_SAFE_INTEGER);
    let r = steps.next();
    while (!r.done) r = steps.next();
    this.#install(r.value, source);
  }

  /**
   * Like swap, but builds the new indexes in slices, yielding to the event loop between them;
   * lookups keep answering from the old snapshot until the new one is complete.
   */
  async swapInSlices(snapshot: Snapshot, source: string, slice = 5000): Promise<void> {
    const steps = this.#index(snapshot, slice);
    let r = steps.next();
    while (!r.done) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      r = steps.next();
    }
    this.#install(r.value, source);
  }

  /** Record that the source confirmed the snapshot in force is still current (e.g. HTTP 304). */
  confirm(): void {
    if (this.#current) this.#current.confirmedAt = this.#now();
  }

  *#index(snapshot: Snapshot, slice: number): Generator<void, Indexed> {
    const byMac = new ShardedIndex();
    const byUuid = new ShardedIndex();
    const bySystemId = new ShardedIndex();
    let i = 0;
    for (const node of snapshot.nodes) {
      if (++i % slice === 0) yield;
      for (const mac of node.macs) byMac.set(mac, node);
      if (node.uuid) byUuid.set(node.uuid, node);
      bySystemId.set(node.systemId, node);
    }
    return { snapshot, byMac, byUuid, bySystemId, loadedAt: 0, confirmedAt: 0 };
  }

  #install(indexed: Indexed, source: string): void {
    const now = this.#now();
    this.#current = { ...indexed, loadedAt: now, confirmedAt: now };
    this.source = source;
    for (const fn of this.#listeners) fn(indexed.snapshot);
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
    return (
      (q.mac && cur.byMac.get(q.mac)) ||
      (q.uuid && cur.byUuid.get(q.uuid)) ||
      (q.systemId && cur.bySystemId.get(q.systemId)) ||
      undefined
    );
  }

  async lookup(q: NodeQuery): Promise<Node | undefined> {
    return this.find(q);
  }

  /** The node owning `mac`, if any. */
  byMac(mac: MacAddress): Node | undefined {
    return this.#current?.byMac.get(mac);
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
