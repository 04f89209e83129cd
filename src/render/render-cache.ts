/** How much rendered text a cache may hold. */
export interface RenderCacheLimits {
  /** Most entries kept (least recently used go first). */
  maxEntries: number;
  /** Most characters of rendered text kept. */
  maxChars: number;
}

/** Default bounds: a storm's worth of per-node scripts (≈1.3 KB each) in at most 16 Mi characters. */
export const DEFAULT_RENDER_CACHE_LIMITS: RenderCacheLimits = { maxEntries: 8192, maxChars: 16 * 1024 * 1024 };

interface Entry<T> {
  node: object | undefined;
  value: T;
  chars: number;
  /** Read since it was (re)queued: it gets a second chance before eviction. */
  used: boolean;
}

/**
 * Rendered texts in memory; eviction is second-chance FIFO (an approximation of least-recently-used that
 * costs a hit one flag write, not a re-insertion). An entry belongs to one generation (the snapshot
 * object in force and the template store's version): any other generation empties the cache before it is
 * read, and a hit also needs the very node object it was rendered for. The key holds every other input.
 */
export class RenderCache<T> {
  readonly #limits: RenderCacheLimits;
  readonly #entries = new Map<string, Entry<T>>();
  #snapshot: unknown;
  #templates = -1;
  #chars = 0;
  #hits = 0;
  #misses = 0;

  constructor(limits: Partial<RenderCacheLimits> = {}) {
    this.#limits = { ...DEFAULT_RENDER_CACHE_LIMITS, ...limits };
  }

  /** Make `snapshot` and template version `templates` the generation in force (a change empties the cache). */
  generation(snapshot: unknown, templates: number): void {
    if (snapshot === this.#snapshot && templates === this.#templates) return;
    this.#snapshot = snapshot;
    this.#templates = templates;
    this.#entries.clear();
    this.#chars = 0;
  }

  /** The value cached under `key` for exactly this `node` object, if any. */
  get(key: string, node: object | undefined): T | undefined {
    const e = this.#entries.get(key);
    if (!e || e.node !== node) {
      this.#misses++;
      return undefined;
    }
    this.#hits++;
    e.used = true;
    return e.value;
  }

  /** Remember `value` (of `chars` characters) under `key` for `node`, evicting the oldest entry not read since queued. */
  set(key: string, node: object | undefined, value: T, chars: number): void {
    if (chars > this.#limits.maxChars) return;
    const old = this.#entries.get(key);
    if (old) {
      this.#chars -= old.chars;
      this.#entries.delete(key);
    }
    while (this.#entries.size > 0 && (this.#entries.size >= this.#limits.maxEntries || this.#chars + chars > this.#limits.maxChars)) {
      const [k, e] = this.#entries.entries().next().value!;
      this.#entries.delete(k);
      if (e.used) {
        // Read since it was queued: back to the end of the queue instead of out.
        e.used = false;
        this.#entries.set(k, e);
        continue;
      }
      this.#chars -= e.chars;
    }
    this.#entries.set(key, { node, value, chars, used: false });
    this.#chars += chars;
  }

  /** Entries, characters held, and hits and misses so far. */
  stats(): { entries: number; chars: number; hits: number; misses: number } {
    return { entries: this.#entries.size, chars: this.#chars, hits: this.#hits, misses: this.#misses };
  }
}
