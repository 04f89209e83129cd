import { readFile } from 'node:fs/promises';
import type { BootFile } from '../files/boot-files.js';
import { type PacketTable, VIEW_BYTES, buildPackets } from './content.js';

/** Limits of the in-memory cache of small files (boot loaders). */
export interface FileCacheOptions {
  /** Files larger than this are streamed, never cached. */
  maxFileBytes: number;
  /** Total bytes kept; least recently used files are dropped first. */
  maxTotalBytes: number;
}

interface Entry {
  mtimeMs: number;
  size: number;
  data: Promise<Buffer>;
  /** The file laid out as DATA packets, per block size asked for. */
  packets: Map<number, PacketTable>;
  bytes: number;
}

/**
 * Small files held in memory after their first read. Each request passes the file's current stat
 * (resolution does one anyway); a changed mtime or size invalidates the entry. Concurrent first
 * requests (a rack booting at once) share one read.
 */
export class FileCache {
  readonly #o: FileCacheOptions;
  // Map iteration order is insertion order: re-inserting on use makes the first key the least recent.
  readonly #entries = new Map<string, Entry>();
  #total = 0;

  constructor(options: FileCacheOptions) {
    this.#o = options;
  }

  /** True when a file of `size` bytes is served from the cache. */
  holds(size: number): boolean {
    return size <= this.#o.maxFileBytes && size <= this.#o.maxTotalBytes;
  }

  /** Bytes currently cached. */
  get bytes(): number {
    return this.#total;
  }

  /** The content of `file`, read once per (path, mtime, size). */
  async get(file: BootFile): Promise<Buffer> {
    return (await this.#entry(file)).data;
  }

  /** `file` as ready-to-send DATA packets of `blksize`, built once per block size. */
  async packets(file: BootFile, blksize: number): Promise<PacketTable> {
    const entry = await this.#entry(file);
    const data = await entry.data;
    let built = entry.packets.get(blksize);
    if (!built) {
      built = buildPackets(data, blksize);
      if (this.#entries.get(file.path) === entry) {
        entry.packets.set(blksize, built);
        const bytes = built.bytes.length + built.blocks.length * VIEW_BYTES;
        entry.bytes += bytes;
        this.#total += bytes;
        this.#evict();
      }
    }
    return built;
  }

  async #entry(file: BootFile): Promise<Entry> {
    const hit = this.#entries.get(file.path);
    if (hit && hit.mtimeMs === file.mtimeMs && hit.size === file.size) {
      this.#entries.delete(file.path);
      this.#entries.set(file.path, hit);
      return hit;
    }
    if (hit) this.#drop(file.path, hit);
    const entry: Entry = { mtimeMs: file.mtimeMs, size: file.size, bytes: file.size, data: readFile(file.path), packets: new Map() };
    this.#entries.set(file.path, entry);
    this.#total += entry.bytes;
    this.#evict();
    try {
      await entry.data;
      return entry;
    } catch (err) {
      if (this.#entries.get(file.path) === entry) this.#drop(file.path, entry);
      throw err;
    }
  }

  /** Forget everything (reload). */
  clear(): void {
    this.#entries.clear();
    this.#total = 0;
  }

  #drop(path: string, entry: Entry): void {
    this.#entries.delete(path);
    this.#total -= entry.bytes;
  }

  #evict(): void {
    for (const [path, entry] of this.#entries) {
      if (this.#total <= this.#o.maxTotalBytes) break;
      this.#drop(path, entry);
    }
  }
}
