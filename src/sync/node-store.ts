import type { MacAddress } from '../core/mac.js';
import type { Node, Snapshot } from '../core/node.js';
import type { NodeQuery, NodeSource } from './node-source.js';

interface Indexed {
  snapshot: Snapshot;
  byMac: Map<string, Node>;
  byUuid: Map<string, Node>;
  bySystemId: Map<string, Node>;
  loadedAt: number;
}

/** Where the store's data stands: used by /healthz and /metrics. */
export interface StoreStatus {
  loaded: boolean;
  version: string;
  nodes: number;
  loadedAt?: number;
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
    const byMac = new Map<string, Node>();
    const byUuid = new Map<string, Node>();
    const bySystemId = new Map<string, Node>();
    for (const node of snapshot.nodes) {
      for (const mac of node.macs) byMac.set(mac, node);
      if (node.uuid) byUuid.set(node.uuid, node);
      bySystemId.set(node.systemId, node);
    }
    this.#current = { snapshot, byMac, byUuid, bySystemId, loadedAt: this.#now() };
    this.source = source;
    for (const fn of this.#listeners) fn(snapshot);
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

  status(): StoreStatus {
    const cur = this.#current;
    if (!cur) return { loaded: false, version: '', nodes: 0, source: this.source };
    return {
      loaded: true,
      version: cur.snapshot.version,
      nodes: cur.snapshot.nodes.length,
      loadedAt: cur.loadedAt,
      ageSeconds: (this.#now() - cur.loadedAt) / 1000,
      source: this.source,
    };
  }
}
