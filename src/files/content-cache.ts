import { open } from 'node:fs/promises';

/** One version of a file: a replaced name (new inode) or a rewrite (new size or time) is another version. */
export interface FileVersion {
  path: string;
  size: number;
  mtimeMs: number;
  ino: number;
}

/** Limits of a content cache. */
export interface ContentCacheOptions {
  /** Files larger than this are never held. */
  maxFileBytes: number;
  /** Total bytes held; the least recently used files are dropped first. */
  maxTotalBytes: number;
}

interface Entry {
  version: FileVersion;
  /** Undefined when the file on disk was no longer this version while it was read. */
  data: Promise<Buffer | undefined>;
}

/**
 * Whole files held in memory after their first request, so a storm of machines fetching the same kernel and
 * initrd costs one copy per byte sent (memory to socket) instead of two (page cache to a buffer, buffer to
 * socket): on this path that halves the CPU per GiB. Each request names the version it opened (inode, size,
 * time from its descriptor); content is only ever answered for exactly that version, concurrent first
 * requests share one read, and a file that changes while it is read is not kept. A dropped entry's buffer
 * lives on until the sends using it finish.
 */
export class ContentCache {
  readonly #o: ContentCacheOptions;
  // Map iteration order is insertion order: re-inserting on use makes the first key the least recent.
  readonly #entries = new Map<string, Entry>();
  #total = 0;

  constructor(options: ContentCacheOptions) {
    this.#o = options;
  }

  /** True when a file of `size` bytes may be held. */
  holds(size: number): boolean {
    return size > 0 && size <= this.#o.maxFileBytes && size <= this.#o.maxTotalBytes;
  }

  /** Bytes held. */
  get bytes(): number {
    return this.#total;
  }

  /** The content of exactly `v`, read once; undefined when the file on disk is not (or no longer) `v`. */
  async get(v: FileVersion): Promise<Buffer | undefined> {
    if (!this.holds(v.size)) return undefined;
    const hit = this.#entries.get(v.path);
    if (hit && sameVersion(hit.version, v)) {
      this.#entries.delete(v.path);
      this.#entries.set(v.path, hit);
      return hit.data;
    }
    if (hit) this.#drop(v.path, hit);
    const entry: Entry = { version: { ...v }, data: readVersion(v) };
    this.#entries.set(v.path, entry);
    this.#total += v.size;
    const data = await entry.data.catch(() => undefined);
    if (this.#entries.get(v.path) !== entry) return data;
    // Others make room only for a file that was read: a failed read must not push good entries out.
    if (data) this.#evict();
    else this.#drop(v.path, entry);
    return data;
  }

  /** Forget everything. */
  clear(): void {
    this.#entries.clear();
    this.#total = 0;
  }

  #drop(path: string, entry: Entry): void {
    this.#entries.delete(path);
    this.#total -= entry.version.size;
  }

  #evict(): void {
    for (const [path, entry] of this.#entries) {
      if (this.#total <= this.#o.maxTotalBytes) break;
      this.#drop(path, entry);
    }
  }
}

function sameVersion(a: FileVersion, b: FileVersion): boolean {
  return a.ino === b.ino && a.size === b.size && a.mtimeMs === b.mtimeMs;
}

/** Read `v` whole from its own descriptor; undefined if the file there is another version, before or after. */
async function readVersion(v: FileVersion): Promise<Buffer | undefined> {
  const fh = await open(v.path, 'r');
  try {
    if (!sameVersion(statVersion(v.path, await fh.stat()), v)) return undefined;
    const data = Buffer.allocUnsafeSlow(v.size);
    let pos = 0;
    while (pos < v.size) {
      const { bytesRead } = await fh.read(data, pos, v.size - pos, pos);
      if (bytesRead === 0) return undefined;
      pos += bytesRead;
    }
    // A rewrite in place during the read shows in the size or time afterwards.
    return sameVersion(statVersion(v.path, await fh.stat()), v) ? data : undefined;
  } finally {
    await fh.close();
  }
}

function statVersion(path: string, st: { size: number; mtimeMs: number; ino: number }): FileVersion {
  return { path, size: st.size, mtimeMs: st.mtimeMs, ino: st.ino };
}
