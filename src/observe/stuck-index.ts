import type { MacAddress } from '../core/mac.js';
import type { BootEvent, Stage, StuckFlag } from './timeline.js';

/** A binary min-heap of (due time, MAC): when a MAC's diagnosis may change with no new event. */
class DueHeap {
  readonly #due: number[] = [];
  readonly #mac: MacAddress[] = [];

  get size(): number {
    return this.#due.length;
  }

  push(due: number, mac: MacAddress): void {
    let i = this.#due.length;
    this.#due.push(due);
    this.#mac.push(mac);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (this.#due[p]! <= due) break;
      this.#due[i] = this.#due[p]!;
      this.#mac[i] = this.#mac[p]!;
      i = p;
    }
    this.#due[i] = due;
    this.#mac[i] = mac;
  }

  /** The earliest due time, or Infinity when empty. */
  peek(): number {
    return this.#due.length ? this.#due[0]! : Infinity;
  }

  pop(): MacAddress {
    const top = this.#mac[0]!;
    const due = this.#due.pop()!;
    const mac = this.#mac.pop()!;
    const n = this.#due.length;
    if (n > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const c = l + 1 < n && this.#due[l + 1]! < this.#due[l]! ? l + 1 : l;
        if (this.#due[c]! >= due) break;
        this.#due[i] = this.#due[c]!;
        this.#mac[i] = this.#mac[c]!;
        i = c;
      }
      this.#due[i] = due;
      this.#mac[i] = mac;
    }
    return top;
  }
}

/**
 * The stuck set and the per-last-stage counts, kept up to date on each timeline event so that a scrape
 * or a status page costs O(changed), not O(MACs). A diagnosis depends on the clock only through
 * `now - event.at` crossing the boot window or the kernel deadline, so each event also schedules the
 * two instants after which its MAC must be diagnosed again; a query first re-diagnoses the MACs whose
 * instants have passed.
 */
export class StuckIndex {
  readonly #flags = new Map<MacAddress, StuckFlag>();
  readonly #lastStage = new Map<MacAddress, Stage>();
  readonly #stageCounts = new Map<Stage, number>();
  readonly #due = new DueHeap();
  #checkedUpTo = -Infinity;

  /**
   * `windowMs`: how long an event counts towards a boot; `scriptDeadlineMs`: how long after a boot
   * script the kernel must follow; `diagnoseAt`: the full rules for one MAC at an instant.
   */
  constructor(
    private readonly windowMs: number,
    private readonly scriptDeadlineMs: number,
    private readonly diagnoseAt: (mac: MacAddress, now: number) => StuckFlag | undefined,
  ) {}

  /** Note a recorded event: re-diagnose its MAC and schedule the instants its diagnosis may change. */
  noteEvent(mac: MacAddress, e: BootEvent): void {
    const prev = this.#lastStage.get(mac);
    if (prev !== e.stage) {
      if (prev !== undefined) this.#bump(prev, -1);
      this.#bump(e.stage, 1);
      this.#lastStage.set(mac, e.stage);
    }
    // Drain what is due on the way, so the heap stays bounded by the window even with nobody scraping.
    this.#advance(e.at);
    this.#due.push(e.at + this.windowMs, mac);
    if (e.stage === 'script') this.#due.push(e.at + this.scriptDeadlineMs, mac);
    this.#set(mac, this.diagnoseAt(mac, Math.max(e.at, this.#checkedUpTo)));
  }

  /** Forget an evicted MAC. */
  forget(mac: MacAddress): void {
    const prev = this.#lastStage.get(mac);
    if (prev !== undefined) this.#bump(prev, -1);
    this.#lastStage.delete(mac);
    this.#flags.delete(mac);
  }

  /** The stuck MACs and their flags at `now` (insertion order). */
  stuck(now: number): ReadonlyMap<MacAddress, StuckFlag> {
    this.#advance(now);
    return this.#flags;
  }

  /** How many MACs have each stage as their latest event. */
  stageCounts(): ReadonlyMap<Stage, number> {
    return this.#stageCounts;
  }

  /** Re-diagnose every MAC whose scheduled instant is before `now` (the rules compare with `>`). */
  #advance(now: number): void {
    if (now > this.#checkedUpTo) this.#checkedUpTo = now;
    let seen: Set<MacAddress> | undefined;
    while (this.#due.peek() < now) {
      const mac = this.#due.pop();
      if (seen?.has(mac)) continue;
      (seen ??= new Set()).add(mac);
      if (this.#lastStage.has(mac)) this.#set(mac, this.diagnoseAt(mac, now));
    }
  }

  #set(mac: MacAddress, flag: StuckFlag | undefined): void {
    if (flag) this.#flags.set(mac, flag);
    else this.#flags.delete(mac);
  }

  #bump(stage: Stage, by: number): void {
    const n = (this.#stageCounts.get(stage) ?? 0) + by;
    if (n === 0) this.#stageCounts.delete(stage);
    else this.#stageCounts.set(stage, n);
  }
}
