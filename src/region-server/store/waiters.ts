/** A held long poll: resolves true when its condition came true, false when `ms` ran out; `cancel` on client close. */
export interface Waiting {
  changed: Promise<boolean>;
  cancel: () => void;
}

/** Long polls waiting for a condition, woken together whenever the state they watch may have moved. */
export class Waiters {
  readonly #wakes = new Set<() => void>();

  /** Resolve true once `done()` holds at a wake-up, or false after `ms` (the caller checks before waiting). */
  wait(done: () => boolean, ms: number): Waiting {
    let wake: () => void = () => undefined;
    let timer: NodeJS.Timeout | undefined;
    const changed = new Promise<boolean>((resolve) => {
      wake = () => {
        if (!done()) return;
        this.#wakes.delete(wake);
        clearTimeout(timer);
        resolve(true);
      };
      timer = setTimeout(() => {
        this.#wakes.delete(wake);
        resolve(false);
      }, ms);
      this.#wakes.add(wake);
    });
    return {
      changed,
      cancel: () => {
        this.#wakes.delete(wake);
        clearTimeout(timer);
      },
    };
  }

  /** Let every waiter re-check its condition. */
  wakeAll(): void {
    for (const wake of this.#wakes) wake();
  }

  /** Polls being held right now. */
  get size(): number {
    return this.#wakes.size;
  }
}
