/**
 * Read buffers for file streams, reused so a storm of downloads does not churn the heap, under a memory
 * budget: large buffers (1 MiB: few reads per GiB) while their total stays within the budget, small ones
 * (128 KiB) beyond it. Two hundred streams at two large buffers each would hold 400 MiB; with the budget a
 * storm costs at most `budget` plus two small buffers per stream, and per-stream speed only drops when the
 * streams share the link anyway.
 */
export class BufferPool {
  readonly #free: Buffer[] = [];
  readonly #freeSmall: Buffer[] = [];
  readonly size: number;
  readonly smallSize: number;
  readonly #keep: number;
  readonly #budget: number;
  #largeOut = 0;
  /** Large buffers handed out: only these count against the budget when they come back. */
  readonly #out = new WeakSet<Buffer>();

  /** `keep` bounds what an idle pool holds of each size; `budget` bounds the bytes of large buffers handed out. */
  constructor(o: { size?: number; smallSize?: number; keep?: number; budget?: number } = {}) {
    this.size = o.size ?? 1 << 20;
    this.smallSize = Math.min(o.smallSize ?? 128 << 10, this.size);
    this.#keep = o.keep ?? 32;
    this.#budget = o.budget ?? 64 << 20;
  }

  /** A buffer of `size` bytes while the budget allows, else of `smallSize`; stale contents either way. */
  take(): Buffer {
    if ((this.#largeOut + 1) * this.size <= this.#budget) {
      this.#largeOut++;
      const b = this.#free.pop() ?? Buffer.allocUnsafeSlow(this.size);
      this.#out.add(b);
      return b;
    }
    return this.#freeSmall.pop() ?? Buffer.allocUnsafeSlow(this.smallSize);
  }

  /** Give a buffer back once nothing references its bytes any more. */
  give(b: Buffer): void {
    const large = this.#release(b);
    const list = large ? this.#free : this.#freeSmall;
    if (list.length < this.#keep) list.push(b);
  }

  /**
   * Account for a buffer that cannot be reused (an aborted stream's may still sit in the socket's queue):
   * it leaves the budget and is left to the garbage collector.
   */
  drop(b: Buffer): void {
    this.#release(b);
  }

  #release(b: Buffer): boolean {
    if (!this.#out.delete(b)) return false;
    this.#largeOut--;
    return true;
  }

  /** Bytes of large buffers handed out and not yet given back or dropped. */
  get largeBytesOut(): number {
    return this.#largeOut * this.size;
  }

  /** Buffers waiting for reuse. */
  get idle(): number {
    return this.#free.length + this.#freeSmall.length;
  }
}
