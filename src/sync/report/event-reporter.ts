import type { Logger } from 'pino';
import { messageOf } from '../../core/errors.js';
import type { Counter, MetricsRegistry } from '../../core/metrics.js';
import type { Service } from '../../core/service.js';
import { type BootEventInput, type RegionBootEvent, toBootEvent } from '../../contract/index.js';
import { BoundedQueue } from '../../core/bounded-queue.js';
import type { BootEventSink } from '../../observe/boot-milestones.js';
import { backoffMs, type RegionClient, RegionError } from '../region/index.js';

/** How boot events are batched to the region. */
export interface EventReporterOptions {
  client: Pick<RegionClient, 'postCluster'>;
  log: Logger;
  /** Events kept while the region is away; beyond it the oldest are dropped and counted. */
  maxQueue?: number;
  batchSize?: number;
  flushMs?: number;
  backoffMaxMs?: number;
  now?: () => number;
}

/** Batches boot milestones to `POST …/events`; bounded in memory, oldest dropped with a counter. */
export class EventReporter implements Service, BootEventSink {
  readonly name = 'region-events';
  readonly #o: EventReporterOptions;
  readonly queue: BoundedQueue<RegionBootEvent>;
  #running = false;
  #timer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> | undefined;
  #attempt = 0;
  #failing = false;
  #dropped: Counter | undefined;
  #delivered: Counter | undefined;
  #droppedSeen = 0;
  /** Events the region accepted. */
  delivered = 0;
  readonly #deliveredListeners = new Set<(batch: readonly RegionBootEvent[]) => void>();

  constructor(options: EventReporterOptions) {
    this.#o = options;
    this.queue = new BoundedQueue(options.maxQueue ?? 10_000);
  }

  /** Add the event queue series to /metrics. */
  registerMetrics(m: MetricsRegistry): void {
    m.gauge('edgeboot_region_events_queued', 'Boot events waiting to be sent to the region.', () => this.queue.size);
    this.#dropped = m.counter('edgeboot_region_events_dropped_total', 'Boot events dropped (oldest first) because the queue was full while the region was away.');
    this.#delivered = m.counter('edgeboot_region_events_delivered_total', 'Boot events the region accepted.');
    this.#countDrops();
  }

  #countDrops(): void {
    const d = this.queue.dropped - this.#droppedSeen;
    if (d > 0 && this.#dropped) {
      this.#dropped.inc({}, d);
      this.#droppedSeen = this.queue.dropped;
    }
  }

  /** Listen to batches the region accepted (the boot timeline records them). */
  onDelivered(fn: (batch: readonly RegionBootEvent[]) => void): () => void {
    this.#deliveredListeners.add(fn);
    return () => this.#deliveredListeners.delete(fn);
  }

  /** Queue one milestone; never blocks and never throws. */
  emitBootEvent(e: BootEventInput): void {
    this.queue.push(toBootEvent(e, (this.#o.now ?? Date.now)()));
    this.#countDrops();
    if (this.#running && this.queue.size >= (this.#o.batchSize ?? 500) && !this.#flushing) this.#schedule(0);
  }

  async start(): Promise<void> {
    this.#running = true;
    this.#schedule(this.#o.flushMs ?? 1000);
  }

  #schedule(ms: number): void {
    clearTimeout(this.#timer);
    if (!this.#running) return;
    this.#timer = setTimeout(() => {
      this.#flushing = this.flush().finally(() => {
        this.#flushing = undefined;
        const next = this.#failing
          ? backoffMs(this.#attempt, { maxMs: this.#o.backoffMaxMs ?? 30_000 })
          : this.queue.size >= (this.#o.batchSize ?? 500)
            ? 0
            : (this.#o.flushMs ?? 1000);
        this.#schedule(next);
      });
    }, ms);
    this.#timer.unref?.();
  }

  /** Send one batch now; on failure the batch goes back to the head of the queue. */
  async flush(): Promise<void> {
    const batch = this.queue.take(this.#o.batchSize ?? 500);
    if (batch.length === 0) return;
    try {
      await this.#o.client.postCluster('events', { events: batch });
      this.delivered += batch.length;
      this.#delivered?.inc({}, batch.length);
      for (const fn of this.#deliveredListeners) fn(batch);
      if (this.#failing) this.#o.log.info({ queued: this.queue.size, dropped: this.queue.dropped }, 'boot events reach the region again');
      this.#failing = false;
      this.#attempt = 0;
    } catch (err) {
      this.queue.putBack(batch);
      this.#countDrops();
      if (!this.#failing) {
        const failure = err instanceof RegionError ? err.failure : 'http';
        this.#o.log.warn({ failure, err: messageOf(err), queued: this.queue.size }, 'boot events cannot be sent to the region; keeping them (bounded) and retrying');
      }
      this.#failing = true;
      this.#attempt++;
    }
  }

  /** Stop the timer; one last flush within `graceMs` so a clean shutdown does not lose the tail. */
  async stop(graceMs: number): Promise<void> {
    this.#running = false;
    clearTimeout(this.#timer);
    await this.#flushing;
    if (this.queue.size > 0 && !this.#failing) {
      await Promise.race([this.flush(), new Promise((r) => setTimeout(r, Math.min(graceMs, 2000)).unref())]);
    }
  }
}
