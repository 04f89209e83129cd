import type { Logger } from 'pino';
import { messageOf } from '../../core/errors.js';
import type { Counter, MetricsRegistry } from '../../core/metrics.js';
import type { Node } from '../../core/node.js';
import type { RegionClient } from './region-client.js';
import type { LoadedSnapshot, PersistedSnapshot } from '../snapshot/index.js';
import { type SnapshotFetcher, snapshotFetcher } from './region-fetcher.js';
import { backoffMs, FAILURE_LINES, type RegionFailure, RegionError } from './region-error.js';
import type { NodeQuery, NodeStore, SnapshotFeed } from '../nodes/index.js';

/** How the follower talks to the region and paces itself. */
export interface RegionSourceOptions {
  client: RegionClient;
  /** How snapshots are fetched and checked; defaults to the region helper process (region-fetcher.ts). */
  fetcher?: SnapshotFetcher;
  store: NodeStore;
  log: Logger;
  /** How long the region may hold a poll when nothing changed (`?wait=`). */
  waitSeconds?: number;
  /** Ceiling of the retry backoff. */
  backoffMaxMs?: number;
  /** Least time between two polls, even when the region answers at once. */
  minIntervalMs?: number;
  /** How long start() waits for the first answer before letting the appliance serve without data. */
  firstWaitMs?: number;
  random?: () => number;
  now?: () => number;
  /** The on-disk copy of the last good snapshot: saved after each change, loaded when the region does not answer at start. */
  persisted?: PersistedSnapshot;
}

/** Where the link to the region stands. */
export type RegionState = 'starting' | 'connected' | RegionFailure;

/** The region facts /healthz shows (no token, no query string). */
export interface RegionHealth {
  /** The replica in use. */
  url: string;
  /** Every replica the rack may use, in failover order. */
  replicas: string[];
  clusterId: string;
  state: RegionState;
  lastContactSecondsAgo: number | null;
  consecutiveFailures: number;
  lastError: string | null;
  etag: string | null;
  /** True while the rack serves a snapshot loaded from disk that the region has not confirmed since. */
  stale: boolean;
  /** The on-disk copy: where, how old, and the last write failure. */
  persisted: { path: string; savedSecondsAgo: number | null; lastError: string | null } | null;
}

/** Follows the region's snapshot by long-poll with ETag; the NodeSource beside InventorySource. */
export class RegionSource implements SnapshotFeed {
  readonly #o: RegionSourceOptions;
  readonly #now: () => number;
  readonly #fetcher: SnapshotFetcher;
  #requests: Counter | undefined;
  #etag: string | undefined;
  #state: RegionState = 'starting';
  #loggedFailure: RegionFailure | undefined;
  #failures = 0;
  #lastContact: number | undefined;
  #running = false;
  #abort: AbortController | undefined;
  #kicked = false;
  #wake: (() => void) | undefined;
  #loop: Promise<void> | undefined;
  /** The last snapshot this source loaded, with its node digests: unchanged nodes of the next one are reused. */
  #loaded: LoadedSnapshot | undefined;
  /** The last failure's message, cleared by a good answer. */
  lastError: string | undefined;
  /** Serving the persisted copy, not yet confirmed by the region. */
  #stale = false;
  /** The replica snapshots are asked from; the next one after each failure (the backoff paces the tries). */
  #replica = 0;

  constructor(options: RegionSourceOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
    this.#fetcher = options.fetcher ?? snapshotFetcher(options.client, { warn: (m) => options.log.warn(m) });
  }

  /** The region's replicas in failover order (a client without a list has one: its own URL). */
  #replicas(): string[] {
    return this.#o.client.replicas ?? [this.#o.client.where];
  }

  /** Add the region series to /metrics (no label ever carries the URL's credentials or the token). */
  registerMetrics(m: MetricsRegistry): void {
    this.#requests = m.counter('edgeboot_region_requests_total', 'Snapshot requests to the region by result.', ['result']);
    m.gauge('edgeboot_region_up', 'Whether the last snapshot request reached the region and was accepted.', () =>
      this.#state === 'connected' ? 1 : 0,
    );
    m.gauge('edgeboot_snapshot_stale', 'Whether the rack serves a snapshot loaded from disk that the region has not confirmed since.', () =>
      this.#stale ? 1 : 0,
    );
    m.gauge('edgeboot_snapshot_persisted_age_seconds', 'Seconds since the on-disk copy of the snapshot was written.', () => {
      const at = this.#o.persisted?.savedAt;
      return at === undefined ? undefined : (this.#now() - at) / 1000;
    });
    m.gauge('edgeboot_region_last_contact_age_seconds', 'Seconds since the region last answered a snapshot request.', () =>
      this.#lastContact === undefined ? undefined : (this.#now() - this.#lastContact) / 1000,
    );
  }

  /** Read credentials (a missing token file fails here), then follow the region; waits briefly for a first answer. */
  async start(): Promise<void> {
    await this.#o.client.loadCredentials();
    this.#running = true;
    let first: () => void = () => undefined;
    const firstDone = new Promise<void>((resolve) => {
      first = resolve;
    });
    this.#loop = this.#follow(first);
    const timer = setTimeout(first, this.#o.firstWaitMs ?? 5000);
    await firstDone;
    clearTimeout(timer);
    if (!this.#o.store.loaded) await this.#loadPersisted();
  }

  /** The region did not answer in time: serve the last good snapshot from disk, marked stale, until it does. */
  async #loadPersisted(): Promise<void> {
    const copy = await this.#o.persisted?.load();
    // The region may have answered while the disk was read: its snapshot wins.
    if (!copy || this.#o.store.loaded) return;
    const { snapshot } = copy.loaded;
    await this.#o.store.swapInSlices(snapshot, `persisted:${copy.path}`, 1000);
    // Asking with the saved ETag lets the region confirm the copy with a 304 instead of resending it.
    this.#etag ??= copy.etag;
    this.#stale = true;
    const age = Math.max(0, (this.#now() - copy.savedAt) / 1000);
    this.#o.log.warn(
      { path: copy.path, nodes: snapshot.nodes.length, version: snapshot.version, savedSecondsAgo: Math.round(age) },
      'the region did not answer; serving the persisted snapshot (stale) until it does',
    );
  }

  async #follow(firstDone: () => void): Promise<void> {
    let attempt = 0;
    let lastQuickChange = false;
    while (this.#running) {
      this.#kicked = false;
      const ctl = new AbortController();
      this.#abort = ctl;
      const started = this.#now();
      try {
        const result = await this.#pollOnce(ctl.signal);
        attempt = 0;
        firstDone();
        // A change is followed at once by a held poll; only a region that answers at once again and again
        // (no long-poll support, or a snapshot that changes constantly) is paced.
        const quick = this.#now() - started < (this.#o.minIntervalMs ?? 1000);
        if (quick && (result === 'unchanged' || lastQuickChange)) await this.#sleep((this.#o.minIntervalMs ?? 1000) - (this.#now() - started));
        lastQuickChange = quick && result === 'changed';
      } catch (err) {
        firstDone();
        if (!this.#running) break;
        if (this.#kicked) {
          this.#kicked = false;
          continue;
        }
        this.#noteFailure(err);
        await this.#sleep(backoffMs(attempt++, { maxMs: this.#o.backoffMaxMs ?? 30_000, random: this.#o.random }));
      }
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.#wake = done;
    });
  }

  /** One snapshot request: swap on a new valid snapshot, confirm freshness on 304, throw RegionError otherwise. */
  async #pollOnce(signal?: AbortSignal): Promise<'changed' | 'unchanged'> {
    const c = this.#o.client;
    const replica = this.#replicas()[this.#replica] ?? c.where;
    const where = `region snapshot from ${replica} (cluster ${c.clusterId})`;
    // Fetched, parsed and validated off this thread (region-fetcher.ts); only changed nodes and the index work land here.
    const answer = await this.#fetcher.poll({ etag: this.#etag, waitSeconds: this.#o.waitSeconds ?? 30, where, previous: this.#loaded, signal, replica: this.#replicas().length > 1 ? this.#replica : undefined });
    if (answer.kind === 'unchanged') {
      if (this.#stale) {
        // The region confirms the copy from disk: it is current again.
        this.#stale = false;
        this.#o.store.source = `region:${replica}`;
        this.#o.log.info({ version: this.#etag }, 'the region confirms the persisted snapshot');
      }
      this.#o.store.confirm();
      this.#noteSuccess('not_modified');
      return 'unchanged';
    }
    const { snapshot } = answer.loaded;
    if (!snapshot.version) snapshot.version = answer.etag ?? '';
    const source = `region:${replica}`;
    if (answer.loaded.tables) this.#o.store.install(snapshot, answer.loaded.tables, source);
    else await this.#o.store.swapInSlices(snapshot, source, 1000);
    this.#loaded = answer.loaded;
    this.#stale = false;
    // Only a running follower keeps the copy: `edgeboot render` and `check` fetch once and must not write state.
    if (this.#running) this.#o.persisted?.save(snapshot, { etag: answer.etag });
    this.#o.log.info({ nodes: snapshot.nodes.length, version: snapshot.version, bytes: answer.bytes }, 'region snapshot loaded');
    this.#etag = answer.etag;
    this.#noteSuccess('ok');
    return 'changed';
  }

  #noteSuccess(result: 'ok' | 'not_modified'): void {
    this.#requests?.inc({ result });
    this.#lastContact = this.#now();
    if (this.#loggedFailure) {
      this.#o.log.info({ region: this.#o.client.where, after: this.#failures }, 'region reachable again; following its snapshot');
    }
    this.#loggedFailure = undefined;
    this.#failures = 0;
    this.#state = 'connected';
    this.lastError = undefined;
  }

  #noteFailure(err: unknown): void {
    const failure: RegionFailure = err instanceof RegionError ? err.failure : 'http';
    this.#requests?.inc({ result: failure.replace('-', '_') });
    this.#failures++;
    this.#state = failure;
    this.#replica = (this.#replica + 1) % this.#replicas().length;
    this.lastError = messageOf(err);
    if (failure === this.#loggedFailure) {
      this.#o.log.debug({ err: this.lastError, failures: this.#failures }, 'region still failing');
      return;
    }
    this.#loggedFailure = failure;
    const kept = this.#o.store.status();
    this.#o.log.error(
      { region: this.#o.client.where, cluster: this.#o.client.clusterId, failure, err: this.lastError, kept: kept.loaded ? kept.version : null },
      FAILURE_LINES[failure],
    );
  }

  /**
   * While following: re-read credentials and ask again at once. Otherwise: one unconditional fetch
   * (used by `render` and `check`), which throws when `throwOnError` is set.
   */
  async reload(options: { throwOnError?: boolean } = {}): Promise<void> {
    if (this.#running) {
      try {
        await this.#o.client.loadCredentials();
      } catch (err) {
        this.#noteFailure(err);
        return;
      }
      this.#fetcher.reset();
      this.#kicked = true;
      this.#abort?.abort();
      this.#wake?.();
      return;
    }
    try {
      this.#etag = undefined;
      await this.#pollOnce();
    } catch (err) {
      this.#noteFailure(err);
      if (options.throwOnError) throw err;
    }
  }

  async lookup(q: NodeQuery): Promise<Node | undefined> {
    return this.#o.store.find(q);
  }

  /** Region facts for /healthz. */
  health(): RegionHealth {
    return {
      url: this.#replicas()[this.#replica] ?? this.#o.client.where,
      replicas: this.#replicas(),
      clusterId: this.#o.client.clusterId,
      state: this.#state,
      lastContactSecondsAgo: this.#lastContact === undefined ? null : (this.#now() - this.#lastContact) / 1000,
      consecutiveFailures: this.#failures,
      lastError: this.lastError ?? null,
      etag: this.#etag ?? null,
      stale: this.#stale,
      persisted: this.#o.persisted
        ? {
            path: this.#o.persisted.path,
            savedSecondsAgo: this.#o.persisted.savedAt === undefined ? null : (this.#now() - this.#o.persisted.savedAt) / 1000,
            lastError: this.#o.persisted.lastError ?? null,
          }
        : null,
    };
  }

  async stop(): Promise<void> {
    this.#running = false;
    this.#abort?.abort();
    this.#wake?.();
    await this.#loop?.catch(() => undefined);
    await this.#o.persisted?.flush();
    this.#fetcher.close();
    this.#o.client.close();
  }
}
