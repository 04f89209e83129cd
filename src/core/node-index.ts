/**
 * The store's lookup tables: open-addressing hash tables in flat Int32Arrays that map a key (MAC, UUID or
 * system_id) to the node's position in the snapshot. Each slot holds the key's 32-bit hash and position + 1
 * (0 = empty); a hit is confirmed against the node itself, so a table holds no string. Being plain typed
 * arrays, the tables are built where the snapshot is checked (the region helper process), handed over as
 * raw pieces, and installing them gives the garbage collector nothing to trace.
 */

/** The three tables of one snapshot. */
export interface NodeIndexTables {
  mac: Int32Array;
  uuid: Int32Array;
  systemId: Int32Array;
}

/** What the tables are built from: per node, its MACs, UUID and system_id (plain or sealed nodes alike). */
export interface IndexedFields {
  macs: readonly string[];
  uuid?: string;
  systemId: string;
}

/** 32-bit FNV-1a over UTF-16 code units, finished with murmur3's fmix32 so the low bits mix well. */
export function keyHash(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) | 0;
}

/**
 * A growing table of (hash → position); `same` confirms that a candidate position holds the key sought.
 * Load stays at or below one half, so probe runs are short.
 */
export class HashSlots {
  #table = new Int32Array(16);
  #size = 0;

  /** The position already holding the key, or -1 after adding it at `pos`. */
  add(hash: number, pos: number, same: (pos: number) => boolean): number {
    const found = this.find(hash, same);
    if (found >= 0) return found;
    if ((this.#size + 1) * 4 > this.#table.length) this.#grow();
    this.#put(this.#table, hash, pos + 1);
    this.#size++;
    return -1;
  }

  find(hash: number, same: (pos: number) => boolean): number {
    return findIn(this.#table, hash, same);
  }

  /** The table as it is now (a view sized to its slots). */
  get table(): Int32Array {
    return this.#table;
  }

  #put(t: Int32Array, hash: number, value: number): void {
    const mask = (t.length >>> 1) - 1;
    let s = hash & mask;
    while (t[s * 2 + 1] !== 0) s = (s + 1) & mask;
    t[s * 2] = hash;
    t[s * 2 + 1] = value;
  }

  #grow(): void {
    const old = this.#table;
    const t = new Int32Array(old.length * 2);
    for (let s = 0; s < old.length; s += 2) if (old[s + 1] !== 0) this.#put(t, old[s]!, old[s + 1]!);
    this.#table = t;
  }
}

/** The position `table` maps `hash` to among the positions `same` confirms, or -1. */
export function findIn(table: Int32Array, hash: number, same: (pos: number) => boolean): number {
  const mask = (table.length >>> 1) - 1;
  for (let s = hash & mask; ; s = (s + 1) & mask) {
    const at = table[s * 2 + 1]!;
    if (at === 0) return -1;
    if (table[s * 2] === hash && same(at - 1)) return at - 1;
  }
}

/**
 * Builds the three tables node by node, in snapshot order, and says when a key is already taken (which
 * is how snapshot validation finds a MAC, UUID or system_id given twice). Keeps each node's keys until done.
 */
export class IndexBuilder {
  readonly #mac = new HashSlots();
  readonly #uuid = new HashSlots();
  readonly #id = new HashSlots();
  readonly #nodes: IndexedFields[] = [];

  /** Add the next node; answers, per kind, the position of an earlier node holding the same key (or -1). */
  add(n: IndexedFields): { macs: number[]; uuid: number; systemId: number } {
    const pos = this.#nodes.length;
    const keys: IndexedFields = { macs: n.macs, systemId: n.systemId };
    if (n.uuid) keys.uuid = n.uuid;
    this.#nodes.push(keys);
    const macs = n.macs.map((m) => this.#mac.add(keyHash(m), pos, (p) => this.#nodes[p]!.macs.includes(m)));
    const uuid = n.uuid ? this.#uuid.add(keyHash(n.uuid), pos, (p) => this.#nodes[p]!.uuid === n.uuid) : -1;
    const systemId = this.#id.add(keyHash(n.systemId), pos, (p) => this.#nodes[p]!.systemId === n.systemId);
    return { macs, uuid, systemId };
  }

  /** The system_id of the node at `pos`. */
  systemIdAt(pos: number): string {
    return this.#nodes[pos]!.systemId;
  }

  tables(): NodeIndexTables {
    return { mac: this.#mac.table, uuid: this.#uuid.table, systemId: this.#id.table };
  }
}

/** The tables for `nodes`, yielding after every `slice` nodes so the main thread can let other work run. */
export function* indexSteps(nodes: readonly IndexedFields[], slice = Number.MAX_SAFE_INTEGER): Generator<void, NodeIndexTables> {
  const b = new IndexBuilder();
  for (let i = 0; i < nodes.length; i++) {
    if (i > 0 && i % slice === 0) yield;
    b.add(nodes[i]!);
  }
  return b.tables();
}

/** The position of the node `nodes` holds under `key` in `table` (one of NodeIndexTables), or -1. */
export function lookUp(table: Int32Array, key: string, holds: (pos: number) => boolean): number {
  return findIn(table, keyHash(key), holds);
}
