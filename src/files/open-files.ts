import { sep } from 'node:path';

/** Files being sent right now (HTTP streams, TFTP transfers), so image sync never removes one mid-transfer. */
export class OpenFiles {
  readonly #count = new Map<string, number>();

  /** Mark `path` open; call the returned function (once) when the transfer ends. */
  open(path: string): () => void {
    this.#count.set(path, (this.#count.get(path) ?? 0) + 1);
    let closed = false;
    return () => {
      if (closed) return;
      closed = true;
      const n = (this.#count.get(path) ?? 1) - 1;
      if (n > 0) this.#count.set(path, n);
      else this.#count.delete(path);
    };
  }

  /** True while any open file lies under `dir`. */
  inUseUnder(dir: string): boolean {
    const prefix = dir.endsWith(sep) ? dir : dir + sep;
    for (const path of this.#count.keys()) if (path.startsWith(prefix)) return true;
    return false;
  }

  /** Number of distinct open files. */
  get size(): number {
    return this.#count.size;
  }
}
