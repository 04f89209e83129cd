import type { Logger } from 'pino';
import { messageOf } from '../../core/errors.js';
import type { MacAddress } from '../../core/mac.js';
import type { MetricsRegistry } from '../../core/metrics.js';
import type { Service } from '../../core/service.js';
import type { WireDiscovery } from '../../contract/index.js';
import type { Discovery, DiscoveryLog } from '../../observe/discoveries.js';
import type { NodeStore } from '../nodes/index.js';
import { backoffMs, type RegionClient, RegionError } from '../region/index.js';

/** What the reporter is wired to. */
export interface DiscoveryReporterOptions {
  client: Pick<RegionClient, 'postCluster'>;
  discoveries: DiscoveryLog;
  store: NodeStore;
  log: Logger;
  metrics?: MetricsRegistry;
  backoffMaxMs?: number;
  random?: () => number;
}

/** The body of `POST …/discoveries` (docs/region-api.md). */
export function discoveryBody(d: Discovery): WireDiscovery {
  return { mac: d.mac, uuid: d.uuid ?? null, arch: d.arch ?? null, ip: d.ip ?? null, seen_at: new Date(d.firstSeen).toISOString() };
}

/** Reports each unknown MAC to the region once, retrying with backoff until the region accepts it. */
export class DiscoveryReporter implements Service {
  readonly name = 'region-discoveries';
  readonly #o: DiscoveryReporterOptions;
  readonly #pending = new Map<MacAddress, Discovery>();
  #unsubscribe: Array<() => void> = [];
  #running = false;
  #wake: (() => void) | undefined;
  #loop: Promise<void> | undefined;
  #failing = false;
  #idle = false;
  /** Discoveries the region accepted. */
  reported = 0;

  constructor(options: DiscoveryReporterOptions) {
    this.#o = options;
    options.metrics?.gauge('edgeboot_region_discoveries_pending', 'Unknown MACs not yet accepted by the region.', () => this.#pending.size);
    options.metrics?.gauge('edgeboot_region_discoveries_reported_total', 'Unknown MACs the region accepted.', () => this.reported);
  }

  /** MACs waiting to be accepted. */
  get pending(): number {
    return this.#pending.size;
  }

  async start(): Promise<void> {
    this.#running = true;
    for (const d of this.#o.discoveries.list()) if (!d.reported) this.#pending.set(d.mac, d);
    this.#unsubscribe = [
      this.#o.discoveries.onNew((d) => {
        this.#pending.set(d.mac, d);
        // Only an idle loop is woken: during a backoff new MACs wait their turn instead of hammering the region.
        if (this.#idle) this.#wake?.();
      }),
      this.#o.store.onSwap(() => this.#reconcile()),
    ];
    this.#loop = this.#run();
  }

  /** A MAC the region now lists needs no report; and forgetting it lets it be reported again if the region drops it. */
  #reconcile(): void {
    for (const d of this.#o.discoveries.list()) {
      if (!this.#o.store.byMac(d.mac)) continue;
      this.#pending.delete(d.mac);
      this.#o.discoveries.forget(d.mac);
    }
  }

  #sleep(ms?: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = ms === undefined ? undefined : setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.#wake = done;
    });
  }

  async #run(): Promise<void> {
    let attempt = 0;
    while (this.#running) {
      const next = this.#pending.values().next();
      if (next.done) {
        this.#idle = true;
        await this.#sleep();
        this.#idle = false;
        continue;
      }
      const d = next.value;
      try {
        await this.#o.client.postCluster('discoveries', discoveryBody(d));
        d.reported = true;
        this.#pending.delete(d.mac);
        this.reported++;
        attempt = 0;
        if (this.#failing) this.#o.log.info({ pending: this.#pending.size }, 'discoveries reach the region again');
        this.#failing = false;
        this.#o.log.info({ mac: d.mac, via: d.via }, 'unknown machine reported to the region');
      } catch (err) {
        if (!this.#running) break;
        if (err instanceof RegionError && (err.status === 400 || err.status === 422)) {
          // The region will never accept this body; retrying would block every later MAC.
          this.#pending.delete(d.mac);
          this.#o.log.warn({ mac: d.mac, err: messageOf(err) }, 'region rejected a discovery as invalid; not retrying it');
          continue;
        }
        if (!this.#failing) {
          const failure = err instanceof RegionError ? err.failure : 'http';
          this.#o.log.warn({ failure, err: messageOf(err), pending: this.#pending.size }, 'discoveries cannot be reported to the region; retrying with backoff');
        }
        this.#failing = true;
        await this.#sleep(backoffMs(attempt++, { maxMs: this.#o.backoffMaxMs ?? 30_000, random: this.#o.random }));
      }
    }
  }

  async stop(): Promise<void> {
    this.#running = false;
    for (const u of this.#unsubscribe) u();
    this.#wake?.();
    await this.#loop;
  }
}
