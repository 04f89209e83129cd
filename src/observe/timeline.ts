import type { MacAddress } from '../core/mac.js';
import { StuckIndex } from './stuck-index.js';

/** Boot stages, in the order a healthy boot passes them. */
export const STAGES = ['dhcp', 'loader', 'config', 'script', 'kernel', 'initrd', 'squashfs', 'answer', 'answer-refused', 'region-event', 'file'] as const;

/** One stage of a boot. */
export type Stage = (typeof STAGES)[number];

/** One thing that happened to a machine. Small and flat: a million of these must fit in memory. */
export interface BootEvent {
  at: number;
  stage: Stage;
  via: 'dhcp' | 'tftp' | 'http' | 'region';
  /** File name, template, purpose or reason: one short string. */
  detail: string;
  bytes?: number;
  ms?: number;
  retransmits?: number;
  /** ok, or why not (error code, refusal reason). */
  outcome: string;
}

/** A node's stuck diagnosis. */
export interface StuckFlag {
  kind: 'chain-loop' | 'no-kernel' | 'repeating' | 'answer-refused';
  message: string;
}

/** Bounds of the timeline store; the defaults give ≈ 1,000,000 events at most. */
export interface TimelineLimits {
  perNode: number;
  maxNodes: number;
  /** How far back events count as one boot, for stuck detection. */
  bootWindowMs: number;
  /** How long after a boot script the kernel must have been fetched. */
  kernelDeadlineMs: number;
}

const DEFAULT_LIMITS: TimelineLimits = { perNode: 20, maxNodes: 50_000, bootWindowMs: 10 * 60_000, kernelDeadlineMs: 120_000 };

const VIAS = ['dhcp', 'tftp', 'http', 'region'] as const;
const CHUNK_RINGS = 1024;
/** How long, how many events per address and how many addresses `holdForIp` keeps. */
const HOLD_MS = 60_000;
const HOLD_PER_IP = 8;
const HOLD_IPS = 4096;
const NONE = -1;

/** Typed-array columns for CHUNK_RINGS rings: a fixed cost per chunk, no object per event. */
class Chunk {
  readonly at: Float64Array;
  readonly bytes: Float64Array;
  readonly ms: Float32Array;
  readonly retransmits: Int32Array;
  readonly stage: Uint8Array;
  readonly via: Uint8Array;
  readonly detail: string[];
  readonly outcome: string[];
  constructor(slots: number) {
    this.at = new Float64Array(slots);
    this.bytes = new Float64Array(slots).fill(NONE);
    this.ms = new Float32Array(slots).fill(NONE);
    this.retransmits = new Int32Array(slots).fill(NONE);
    this.stage = new Uint8Array(slots);
    this.via = new Uint8Array(slots);
    this.detail = new Array<string>(slots).fill('');
    this.outcome = new Array<string>(slots).fill('');
  }
}

/**
 * Per-MAC rings of boot events, bounded per node (`perNode`) and in total (`maxNodes`, least recently
 * seen MAC evicted). Events live in typed-array columns allocated 1,024 rings at a time, so memory is
 * proportional to maxNodes × perNode and independent of how many events pass through.
 */
export class BootTimeline {
  readonly limits: TimelineLimits;
  /** MAC → ring number; Map order is least-recently-seen first (refreshed at most once a second). */
  readonly #ringOf = new Map<MacAddress, number>();
  readonly #chunks: Chunk[] = [];
  #count: Int32Array;
  #next: Int32Array;
  #touched: Float64Array;
  readonly #free: number[] = [];
  #allocated = 0;
  readonly #intern = new Map<string, string>();
  readonly #ipToMac = new Map<string, MacAddress>();
  /** Events from addresses not yet tied to a MAC, oldest address first (bounded). */
  readonly #held = new Map<string, BootEvent[]>();
  readonly #listeners = new Set<(mac: MacAddress, e: BootEvent) => void>();
  readonly #index: StuckIndex;
  evicted = 0;

  constructor(limits: Partial<TimelineLimits> = {}) {
    this.limits = { ...DEFAULT_LIMITS, ...limits };
    this.#index = new StuckIndex(this.limits.bootWindowMs, this.limits.kernelDeadlineMs, (mac) => this.events(mac), (events, now) => diagnose(events, now, this.limits));
    this.#count = new Int32Array(0);
    this.#next = new Int32Array(0);
    this.#touched = new Float64Array(0);
  }

  /** Remember which MAC holds `ip`, so HTTP/TFTP file fetches (which carry no MAC) can be attributed. */
  learnIp(ip: string, mac: MacAddress): void {
    if (!ip) return;
    this.#ipToMac.delete(ip);
    this.#ipToMac.set(ip, mac);
    if (this.#ipToMac.size > this.limits.maxNodes * 2) this.#ipToMac.delete(this.#ipToMac.keys().next().value!);
    const held = this.#held.get(ip);
    if (held) {
      this.#held.delete(ip);
      const now = Date.now();
      for (const e of held) if (now - e.at <= HOLD_MS) this.record(mac, e);
    }
  }

  /**
   * Keep an event from an address no MAC is known at yet, for the MAC that learns it within a minute.
   * UEFI HTTP Boot fetches its loader before a DHCP server's lease hook has reported the lease (dnsmasq
   * runs its script after the ACK), and behind proxyDHCP the address is known only at the first script.
   */
  holdForIp(ip: string, event: BootEvent): void {
    if (!ip) return;
    const list = this.#held.get(ip) ?? [];
    if (list.length >= HOLD_PER_IP) return;
    list.push(event);
    this.#held.set(ip, list);
    if (this.#held.size > HOLD_IPS) this.#held.delete(this.#held.keys().next().value!);
  }

  /** The MAC last seen at `ip`. */
  macAt(ip: string): MacAddress | undefined {
    return this.#ipToMac.get(ip);
  }

  #internString(s: string): string {
    const hit = this.#intern.get(s);
    if (hit !== undefined) return hit;
    // Bounded: file names and template names repeat; a flood of unique strings just resets the table.
    if (this.#intern.size >= 4096) this.#intern.clear();
    this.#intern.set(s, s);
    return s;
  }

  #newRing(): number {
    const reused = this.#free.pop();
    if (reused !== undefined) return reused;
    const ring = this.#allocated++;
    if (ring % CHUNK_RINGS === 0) {
      this.#chunks.push(new Chunk(CHUNK_RINGS * this.limits.perNode));
      const grow = (a: Int32Array) => {
        const b = new Int32Array(this.#allocated - 1 + CHUNK_RINGS);
        b.set(a);
        return b;
      };
      this.#count = grow(this.#count);
      this.#next = grow(this.#next);
      const t = new Float64Array(this.#allocated - 1 + CHUNK_RINGS);
      t.set(this.#touched);
      this.#touched = t;
    }
    return ring;
  }

  #ringFor(mac: MacAddress, now: number): number {
    let ring = this.#ringOf.get(mac);
    if (ring === undefined) {
      if (this.#ringOf.size >= this.limits.maxNodes) {
        const [oldMac, oldRing] = this.#ringOf.entries().next().value!;
        this.#ringOf.delete(oldMac);
        this.#free.push(oldRing);
        this.#index.forget(oldMac);
        this.evicted++;
      }
      ring = this.#newRing();
      this.#count[ring] = 0;
      this.#next[ring] = 0;
      this.#touched[ring] = now;
      this.#ringOf.set(mac, ring);
    } else if (now - this.#touched[ring]! > 1000) {
      // Refresh the LRU position, but not on every event of a busy MAC.
      this.#ringOf.delete(mac);
      this.#ringOf.set(mac, ring);
      this.#touched[ring] = now;
    }
    return ring;
  }

  /** Append an event to the MAC's ring. */
  record(mac: MacAddress, event: BootEvent): void {
    const ring = this.#ringFor(mac, event.at);
    const per = this.limits.perNode;
    const chunk = this.#chunks[Math.floor(ring / CHUNK_RINGS)]!;
    const slot = (ring % CHUNK_RINGS) * per + this.#next[ring]!;
    chunk.at[slot] = event.at;
    chunk.stage[slot] = STAGES.indexOf(event.stage);
    chunk.via[slot] = VIAS.indexOf(event.via);
    chunk.detail[slot] = this.#internString(event.detail);
    chunk.outcome[slot] = this.#internString(event.outcome);
    chunk.bytes[slot] = event.bytes ?? NONE;
    chunk.ms[slot] = event.ms ?? NONE;
    chunk.retransmits[slot] = event.retransmits ?? NONE;
    this.#next[ring] = (this.#next[ring]! + 1) % per;
    if (this.#count[ring]! < per) this.#count[ring]!++;
    this.#index.noteEvent(mac, event);
    for (const fn of this.#listeners) fn(mac, event);
  }

  /** Listen to every recorded event (metrics, region events). */
  onEvent(fn: (mac: MacAddress, e: BootEvent) => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  /** The MAC's events, oldest first. */
  events(mac: MacAddress): BootEvent[] {
    const ring = this.#ringOf.get(mac);
    if (ring === undefined) return [];
    const per = this.limits.perNode;
    const count = this.#count[ring]!;
    const chunk = this.#chunks[Math.floor(ring / CHUNK_RINGS)]!;
    const base = (ring % CHUNK_RINGS) * per;
    const first = count < per ? 0 : this.#next[ring]!;
    const out: BootEvent[] = [];
    for (let i = 0; i < count; i++) {
      const slot = base + ((first + i) % per);
      const e: BootEvent = {
        at: chunk.at[slot]!,
        stage: STAGES[chunk.stage[slot]!]!,
        via: VIAS[chunk.via[slot]!]!,
        detail: chunk.detail[slot]!,
        outcome: chunk.outcome[slot]!,
      };
      if (chunk.bytes[slot]! !== NONE) e.bytes = chunk.bytes[slot]!;
      if (chunk.ms[slot]! !== NONE) e.ms = chunk.ms[slot]!;
      if (chunk.retransmits[slot]! !== NONE) e.retransmits = chunk.retransmits[slot]!;
      out.push(e);
    }
    return out;
  }

  /** Every MAC with events, most recently seen first (to the second). */
  macs(): MacAddress[] {
    return [...this.#ringOf.keys()].reverse();
  }

  /** The `count` most recently seen MACs, newest first, without copying the whole key list (a page of the node list). */
  newestMacs(count: number): MacAddress[] {
    const n = Math.min(count, this.#ringOf.size);
    if (n <= 0) return [];
    // Map order is oldest first: keep the last n keys in a circular buffer while walking it.
    const buf = new Array<MacAddress>(n);
    let i = 0;
    for (const mac of this.#ringOf.keys()) buf[i++ % n] = mac;
    const out = new Array<MacAddress>(n);
    for (let k = 0; k < n; k++) out[k] = buf[(i - 1 - k + n * 2) % n]!;
    return out;
  }

  /** Number of MACs held. */
  get size(): number {
    return this.#ringOf.size;
  }

  /** When the MAC's latest event happened, read straight from its ring (no copies). */
  lastAt(mac: MacAddress): number | undefined {
    const ring = this.#ringOf.get(mac);
    if (ring === undefined || this.#count[ring] === 0) return undefined;
    const per = this.limits.perNode;
    const slot = (ring % CHUNK_RINGS) * per + ((this.#next[ring]! + per - 1) % per);
    return this.#chunks[Math.floor(ring / CHUNK_RINGS)]!.at[slot];
  }

  /** When the MAC was last seen. */
  lastSeen(mac: MacAddress): number | undefined {
    return this.events(mac).at(-1)?.at;
  }

  /** The MACs flagged stuck at `now`, kept incrementally (cost: the MACs whose diagnosis may have changed). */
  stuckMacs(now = Date.now()): ReadonlyMap<MacAddress, StuckFlag> {
    return this.#index.stuck(now);
  }

  /** How many MACs have each stage as their latest event (kept incrementally). */
  stageCounts(): ReadonlyMap<Stage, number> {
    return this.#index.stageCounts();
  }

  /** Whether the MAC has events in memory. */
  has(mac: MacAddress): boolean {
    return this.#ringOf.has(mac);
  }

  /** Diagnose a stuck boot from the MAC's recent events (pure function of the events and `now`). */
  stuck(mac: MacAddress, now = Date.now()): StuckFlag | undefined {
    return diagnose(this.events(mac), now, this.limits);
  }
}

const PROGRESS: ReadonlySet<Stage> = new Set(['loader', 'config', 'script', 'kernel', 'initrd', 'squashfs', 'answer']);

/** The stuck rules: chain loop, script without kernel, the same stage twice with no progress, refused answers. */
export function diagnose(all: BootEvent[], now: number, limits: TimelineLimits): StuckFlag | undefined {
  const recent = all.filter((e) => now - e.at <= limits.bootWindowMs);
  const steps = recent.filter((e) => PROGRESS.has(e.stage) && e.outcome === 'ok');
  const last = steps.at(-1);
  if (!last) return undefined;
  // Chain loop: the same loader fetched again with no boot script in between (DHCP hands the loader to
  // iPXE too). Different loader files in a row are normal (pxelinux.0 then ldlinux.c32).
  const loaders = steps.filter((e) => e.stage === 'loader');
  const lastLoader = loaders.at(-1);
  if (lastLoader) {
    const same = loaders.filter((e) => e.detail === lastLoader.detail);
    const prev = same.at(-2);
    if (prev && !steps.some((e) => e.stage === 'script' && e.at >= prev.at && e.at <= lastLoader.at)) {
      return {
        kind: 'chain-loop',
        message: `loader ${lastLoader.detail} fetched ${same.length} times with no boot script: the DHCP server hands the loader to iPXE again (chain loop); send user class iPXE to http://<edgeboot>:5248/boot.ipxe`,
      };
    }
  }
  const refused = recent.filter((e) => e.stage === 'answer-refused');
  if (refused.length >= 2 && !steps.some((e) => e.stage === 'answer' && e.at > refused.at(-1)!.at)) {
    return { kind: 'answer-refused', message: `answer file refused ${refused.length} times (${refused.at(-1)!.outcome}); the installer cannot get its configuration` };
  }
  if (last.stage === 'script' && /^(install|commission|enlist|rescue)/.test(last.detail) && now - last.at > limits.kernelDeadlineMs) {
    return { kind: 'no-kernel', message: `boot script (${last.detail}) served ${Math.round((now - last.at) / 1000)} s ago but the kernel was never fetched` };
  }
  const prev = steps.at(-2);
  if (prev && prev.stage === last.stage && prev.detail === last.detail && last.stage !== 'script' && last.stage !== 'config') {
    return { kind: 'repeating', message: `stuck at ${last.stage} (${last.detail}): fetched twice with no progress` };
  }
  return undefined;
}
