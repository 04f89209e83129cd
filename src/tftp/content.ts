import { dataHeader, OPCODE } from './packet.js';

/**
 * What a transfer sends: whole DATA packets (RFC 1350 §5) addressed by absolute 1-based block number
 * (block n carries bytes (n-1)·blksize…, §6). Packets are built chunk by chunk with their headers in
 * place, so each one goes out as a single contiguous buffer.
 */
export interface Content {
  readonly size: number;
  /** Where the bytes came from (`memory`, `cache`, `stream`), for the log line. */
  readonly origin: Origin;
  /** The DATA packet of block `n` if it is built, else undefined (then call `load(n)`). */
  packet(n: number): Buffer | undefined;
  /** Build block `n` (and the read-ahead after it). */
  load(n: number): Promise<void>;
  /** Blocks below `n` will never be asked for again. */
  release(n: number): void;
  close(): void;
}

/** Where content comes from, for the log line. */
export type Origin = 'memory' | 'cache' | 'stream';

/** Bytes that fill the payload slots of a chunk; a synchronous source returns undefined. */
export interface ByteSource {
  readonly size: number;
  /** Fill `slots` in order from byte `position`. */
  read(slots: Buffer[], position: number): Promise<void> | undefined;
  close(): void;
}

/** Number of the last block: the first one shorter than blksize, possibly empty (RFC 1350 §6). */
export function lastBlock(size: number, blksize: number): number {
  return Math.floor(size / blksize) + 1;
}

/** A file laid out as ready-to-send DATA packets: one contiguous buffer and a view of each block's packet in it. */
export interface PacketTable {
  readonly bytes: Buffer;
  /** `blocks[n - 1]` is the whole DATA packet of block n. */
  readonly blocks: readonly Buffer[];
}

/** Heap bytes of one Buffer view and its array slot (measured on Node 20), for cache accounting. */
export const VIEW_BYTES = 104;

/**
 * Lay `data` out as ready-to-send DATA packets: block n at (n-1)·(blksize+4), header in place. Built once
 * per (file, blksize) for cached loaders, so a rack booting at once shares one copy, and one view per block,
 * and sends without copying or allocating.
 */
export function buildPackets(data: Buffer, blksize: number): PacketTable {
  const count = Math.ceil(data.length / blksize);
  const bytes = Buffer.allocUnsafe(data.length + 4 * count);
  const blocks: Buffer[] = new Array<Buffer>(count);
  for (let k = 0; k < count; k++) {
    const at = k * (blksize + 4);
    bytes.writeUInt16BE(OPCODE.data, at);
    bytes.writeUInt16BE((k + 1) & 0xffff, at + 2);
    const end = Math.min(data.length, (k + 1) * blksize);
    data.copy(bytes, at + 4, k * blksize, end);
    blocks[k] = bytes.subarray(at, at + 4 + end - k * blksize);
  }
  return { bytes, blocks };
}

/** Content whose packets were all built up front (rendered files, cached loaders). */
export class PrebuiltContent implements Content {
  readonly #blocks: readonly Buffer[];

  constructor(
    packets: PacketTable,
    readonly size: number,
    _blksize: number,
    readonly origin: Origin,
  ) {
    this.#blocks = packets.blocks;
  }

  packet(n: number): Buffer {
    // Past the data: the empty closing block of a size that is a multiple of blksize (RFC 1350 §6).
    return this.#blocks[n - 1] ?? dataHeader(n);
  }

  async load(_n?: number): Promise<void> {}

  release(_n?: number): void {}

  close(): void {}
}

/** Payload bytes per chunk: enough for read-ahead to pay off, small enough for 500 transfers at once. */
const CHUNK_TARGET = 128 * 1024;

interface Chunk {
  buf?: Buffer;
  /** The DATA packet of each block of the chunk, views into `buf` made once per buffer. */
  views?: Buffer[];
  loading?: Promise<void>;
  error?: unknown;
}

/** A full-size chunk buffer whose blocks were all acknowledged, with its packet views (same offsets next time). */
interface Spare {
  buf: Buffer;
  views: Buffer[];
}

/**
 * Packets built chunk by chunk from a byte source (a file), one chunk of read-ahead. Chunks below the ACK
 * floor are recycled for later chunks, so a long transfer allocates a handful of buffers, not one per
 * chunk (allocation churn of external memory drives V8 into full collections).
 */
export class PacketContent implements Content {
  readonly size: number;
  readonly #src: ByteSource;
  readonly #blksize: number;
  readonly #stride: number;
  readonly #perChunk: number;
  readonly #chunks = new Map<number, Chunk>();
  /** Full-size chunk buffers whose blocks were all acknowledged. */
  readonly #spare: Spare[] = [];
  #released = 0;
  #closed = false;

  constructor(
    source: ByteSource,
    blksize: number,
    readonly origin: Origin,
  ) {
    this.#src = source;
    this.size = source.size;
    this.#blksize = blksize;
    this.#stride = blksize + 4;
    this.#perChunk = Math.max(1, Math.floor(CHUNK_TARGET / blksize));
  }

  packet(n: number): Buffer | undefined {
    const start = (n - 1) * this.#blksize;
    // The closing block of a file whose size is a multiple of blksize is empty (RFC 1350 §6).
    if (start >= this.size) return dataHeader(n);
    const c = Math.floor((n - 1) / this.#perChunk);
    const chunk = this.#chunks.get(c) ?? this.#fetch(c);
    if (!chunk.views) return undefined;
    if (!this.#chunks.has(c + 1)) this.#fetch(c + 1);
    return chunk.views[n - 1 - c * this.#perChunk];
  }

  async load(n: number): Promise<void> {
    const c = Math.floor((n - 1) / this.#perChunk);
    const chunk = this.#chunks.get(c) ?? this.#fetch(c);
    if (chunk.loading) await chunk.loading;
    if (chunk.error) throw chunk.error;
  }

  release(n: number): void {
    const floor = Math.floor((n - 1) / this.#perChunk);
    if (floor <= this.#released) return;
    this.#released = floor;
    const full = this.#perChunk * this.#stride;
    for (const [c, chunk] of this.#chunks) {
      if (c >= floor) continue;
      this.#chunks.delete(c);
      if (chunk.buf?.length === full && chunk.views) this.#spare.push({ buf: chunk.buf, views: chunk.views });
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#chunks.clear();
    this.#spare.length = 0;
    this.#src.close();
  }

  #fetch(c: number): Chunk {
    const chunk: Chunk = {};
    const first = c * this.#perChunk + 1;
    const position = (first - 1) * this.#blksize;
    if (this.#closed || position >= this.size) return chunk;
    this.#chunks.set(c, chunk);
    const bytes = Math.min(this.#perChunk * this.#blksize, this.size - position);
    const count = Math.ceil(bytes / this.#blksize);
    const length = bytes + 4 * count;
    const spare = length === this.#perChunk * this.#stride ? this.#spare.pop() : undefined;
    const buf = spare?.buf ?? Buffer.allocUnsafe(length);
    const views = spare?.views ?? [];
    const slots: Buffer[] = [];
    for (let k = 0; k < count; k++) {
      const at = k * this.#stride;
      const end = at + 4 + Math.min(this.#blksize, bytes - k * this.#blksize);
      slots.push(buf.subarray(at + 4, end));
      if (!spare) views.push(buf.subarray(at, end));
    }
    // Headers go in after the payload: a recycled buffer that a late retransmission still points at then
    // carries either its old, acknowledged block number (ignored by the client) or a whole new packet.
    const headers = () => {
      for (let k = 0; k < count; k++) {
        buf.writeUInt16BE(OPCODE.data, k * this.#stride);
        buf.writeUInt16BE((first + k) & 0xffff, k * this.#stride + 2);
      }
      chunk.buf = buf;
      chunk.views = views;
    };
    const pending = this.#src.read(slots, position);
    if (!pending) {
      headers();
      return chunk;
    }
    chunk.loading = pending.then(
      () => {
        headers();
        chunk.loading = undefined;
      },
      (err: unknown) => {
        chunk.error = err;
        chunk.loading = undefined;
      },
    );
    return chunk;
  }
}

const CR = 0x0d;
const LF = 0x0a;

/** Netascii encoding (RFC 1350 §2 via RFC 764): LF → CR LF, bare CR → CR NUL. */
export function toNetascii(data: Buffer): Buffer {
  let extra = 0;
  for (let i = 0; i < data.length; i++) if (data[i] === CR || data[i] === LF) extra++;
  if (extra === 0) return data;
  const out = Buffer.allocUnsafe(data.length + extra);
  let j = 0;
  for (let i = 0; i < data.length; i++) {
    const c = data[i]!;
    if (c === LF) {
      out[j++] = CR;
      out[j++] = LF;
    } else if (c === CR) {
      out[j++] = CR;
      out[j++] = 0;
    } else {
      out[j++] = c;
    }
  }
  return out;
}
