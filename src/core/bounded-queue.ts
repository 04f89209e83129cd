/** A bounded FIFO: when full, the oldest entry is dropped and counted. */
export class BoundedQueue<T> {
  #items: T[] = [];
  #head = 0;
  /** Entries dropped because the queue was full. */
  dropped = 0;

  constructor(readonly max: number) {}

  get size(): number {
    return this.#items.length - this.#head;
  }

  /** Add at the tail, dropping from the head when over `max`. */
  push(item: T): void {
    this.#items.push(item);
    this.#trim();
  }

  /** Remove and return up to `n` entries from the head. */
  take(n: number): T[] {
    const out = this.#items.slice(this.#head, this.#head + n);
    this.#head += out.length;
    this.#compact();
    return out;
  }

  /** Put entries that could not be delivered back at the head (still bounded: the oldest go first). */
  putBack(items: T[]): void {
    this.#items = [...items, ...this.#items.slice(this.#head)];
    this.#head = 0;
    this.#trim();
  }

  #trim(): void {
    const over = this.size - this.max;
    if (over > 0) {
      this.#head += over;
      this.dropped += over;
      this.#compact();
    }
  }

  #compact(): void {
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
  }
}
