/** The part of a log destination (sonic-boom) the batch writes through. */
export interface LineSink {
  write(data: string): boolean;
  flush(cb?: (err?: Error) => void): void;
  flushSync(): void;
  end(): void;
}

/**
 * A log destination that hands the lines of one event-loop turn to `sink` as one write. Under load a turn
 * answers many requests, each with its request line: written one by one, every line cost an fs.write of its
 * own (a thread-pool round trip on the serving core), the largest share of a cached script's CPU after the
 * socket write itself. Lines wait at most until the end of the turn (setImmediate); `flush`, `flushSync`,
 * `end` and process exit hand over what waits first, so nothing logged before a stop is lost.
 */
export class TurnBatch implements LineSink {
  readonly #sink: LineSink;
  #pending = '';
  #scheduled = false;

  constructor(sink: LineSink) {
    this.#sink = sink;
    // At exit there is no next turn: hand the waiting lines over and write them synchronously (pino's own exit
    // hook for the sink may run before or after this one; a second flushSync finds nothing to write).
    process.once('exit', () => {
      if (this.#take()) this.#sink.flushSync();
    });
  }

  write(data: string): boolean {
    this.#pending += data;
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => this.#take());
    }
    return true;
  }

  /** Hand the waiting lines to the sink; true when there were any. */
  #take(): boolean {
    this.#scheduled = false;
    if (this.#pending === '') return false;
    const lines = this.#pending;
    this.#pending = '';
    this.#sink.write(lines);
    return true;
  }

  flush(cb?: (err?: Error) => void): void {
    this.#take();
    this.#sink.flush(cb);
  }

  flushSync(): void {
    this.#take();
    this.#sink.flushSync();
  }

  end(): void {
    this.#take();
    this.#sink.end();
  }
}
