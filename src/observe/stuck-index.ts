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
 * The stuck set and the per-last-stage counts, kept up to date so that a scrape or a status page costs
 * O(changed), not O(MACs). An event marks its MAC dirty (O(1)); a query re-diagnoses the dirty MACs.
 * A diagnosis depends on the clock only through `now - event.at` crossing the boot window or the
 * kernel deadline, so each MAC also keeps one scheduled instant, its next such crossing, after which
 * a query diagnoses it again.
 */
export class StuckIndex {
  readonly #flags = new Map<MacAddress, StuckFlag>();
  readonly #lastStage = new Map<MacAddress, Stage>();
  readonly #stageCounts = new Map<Stage, number>();
  readonly #dirty = new Set<MacAddress>();
  readonly #due = new DueHeap();
  /** The instant each MAC is scheduled for in the heap (one live entry per MAC). */
  readonly #scheduled = new Map<MacAddress, number>();

  /**
   * `windowMs`: how long an event counts towards a boot; `scriptDeadlineMs`: how long after a boot
   * script the kernel must follow; `eventsOf` and `diagnose`: the MAC's events and the full rules.
   */
  constructor(
    private readonly windowMs: number,
    private readonly scriptDeadlineMs: number,
    private readonly eventsOf: (mac: MacAddress) => BootEvent[],
    private readonly diagnose: (events: BootEvent[], now: number) => StuckFlag | undefined,
  ) {}

  /** Note a recorded event: its MAC's diagnosis is due again, and its latest stage changed. */
  noteEvent(mac: MacAddress, e: BootEvent): void {
    const prev = this.#lastStage.get(mac);
    if (prev !== e.stage) {
      if (prev !== undefined) this.#bump(prev, -1);
      this.#bump(e.stage, 1);
      this.#lastStage.set(mac, e.stage);
    }
    this.#dirty.add(mac);
  }

  /** Forget an evicted MAC. */
  forget(mac: MacAddress): void {
    const prev = this.#lastStage.get(mac);
    if (prev !== undefined) this.#bump(prev, -1);
    this.#lastStage.delete(mac);
    this.#flags.delete(mac);
    this.#dirty.delete(mac);
    this.#scheduled.delete(mac);
  }

  /** The stuck MACs and their flags at `now` (insertion order). */
  stuck(now: number): ReadonlyMap<MacAddress, StuckFlag> {
    while (this.#due.peek() < now) {
      const mac = this.#due.pop();
      // Stale entries (rescheduled or forgotten MACs) are skipped; the live one is in #scheduled.
      const at = this.#scheduled.get(mac);
      if (at !== undefined && at < now) {
        this.#scheduled.delete(mac);
        this.#dirty.add(mac);
      }
    }
    for (const mac of this.#dirty) this.#rediagnose(mac, now);
    this.#dirty.clear();
    return this.#flags;
  }

  /** How many MACs have each stage as their latest event. */
  stageCounts(): ReadonlyMap<Stage, number> {
    return this.#stageCounts;
  }

  #rediagnose(mac: MacAddress, now: number): void {
    if (!this.#lastStage.has(mac)) return;
    const events = this.eventsOf(mac);
    const flag = this.diagnose(events, now);
    if (flag) this.#flags.set(mac, flag);
    else this.#flags.delete(mac);
    // The next instant the rules compare differently: the soonest window exit or script deadline not yet passed.
    let next = Infinity;
    for (const e of events) {
      const out = e.at + this.windowMs;
      if (out >= now && out < next) next = out;
      if (e.stage === 'script') {
        const late = e.at + this.scriptDeadlineMs;
        if (late >= now && late < next) next = late;
      }
    }
    const current = this.#scheduled.get(mac);
    if (next !== Infinity && next !== current) {
      this.#scheduled.set(mac, next);
      this.#due.push(next, mac);
    } else if (next === Infinity) this.#scheduled.delete(mac);
  }

  #bump(stage: Stage, by: number): void {
    const n = (this.#stageCounts.get(stage) ?? 0) + by;
    if (n === 0) this.#stageCounts.delete(stage);
    else this.#stageCounts.set(stage, n);
  }
}
