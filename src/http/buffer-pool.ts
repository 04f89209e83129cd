/** Read buffers for file streams: 1 MiB each, reused so a storm of downloads does not churn the heap. */
export class BufferPool {
  readonly #free: Buffer[] = [];
  readonly size: number;
  readonly #keep: number;

  /** `keep` bounds what an idle pool holds; more are made while busy and dropped when given back. */
  constructor(size = 1 << 20, keep = 32) {
    this.size = size;
    this.#keep = keep;
  }

  /** A buffer of `size` bytes, with stale contents. */
  take(): Buffer {
    return this.#free.pop() ?? Buffer.allocUnsafeSlow(this.size);
  }

  /** Give a buffer back once nothing references its bytes any more. */
  give(b: Buffer): void {
    if (this.#free.length < this.#keep) this.#free.push(b);
  }

  /** Buffers waiting for reuse. */
  get idle(): number {
    return this.#free.length;
  }
}
