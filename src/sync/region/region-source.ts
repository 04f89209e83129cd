import type { Logger } from 'pino';
import { messageOf } from '../../core/errors.js';
import type { Counter, MetricsRegistry } from '../../core/metrics.js';
import type { Node } from '../../core/node.js';
import type { RegionClient } from './region-client.js';
import type { LoadedSnapshot, PersistedSnapshot } from '../snapshot/index.js';
import { type SnapshotFetcher, snapshotFetcher } from './region-fetcher.js';
import { applyDelta, parseChanges } from './delta-apply.js';
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
  url: string;
  clusterId: string;
  state: RegionState;
  lastContactSecondsAgo: number | null;
  consecutiveFailures: number;
  lastError: string | null;
  etag: string | null;
  /** The region revision of the snapshot in force, null when following by snapshot only. */
  revision: number | null;
  /** Every region URL this rack fails over between (safe to show). */
  replicas: string[];
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
  #deltaBytes: Counter | undefined;
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
  /** The region revision of the snapshot in force, when the region has a changes feed; undefined: follow by snapshot. */
  #revision: number | undefined;
  /** The region answered 404 to /changes: an old region without the feed; snapshot polling only, until restart. */
  #noFeed = false;

  constructor(options: RegionSourceOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
    this.#fetcher = options.fetcher ?? snapshotFetcher(options.client, { warn: (m) => options.log.warn(m) });
  }

  /** Add the region series to /metrics (no label ever carries the URL's credentials or the token). */
  registerMetrics(m: MetricsRegistry): void {
    this.#requests = m.counter('edgeboot_region_requests_total', 'Snapshot and changes requests to the region by result.', ['result']);
    this.#deltaBytes = m.counter('edgeboot_region_delta_bytes_total', 'Bytes of changes answers applied from the region feed.');
    m.gauge('edgeboot_region_revision', 'The region revision of the snapshot in force (absent when the region has no changes feed).', () => this.#revision);
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
    // Asking with the saved ETag lets the region confirm the copy with a 304 instead of resending it;
    // with the saved revision the rack catches up by delta instead.
    this.#etag ??= copy.etag;
    this.#loaded ??= copy.loaded;
    this.#revision ??= copy.revision;
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

  /** One request to the region: a delta when it has a feed and the rack a revision, else a snapshot request. */
  async #pollOnce(signal?: AbortSignal): Promise<'changed' | 'unchanged'> {
    if (this.#revision !== undefined && this.#loaded && !this.#noFeed && this.#running) {
      const r = await this.#pollChanges(this.#revision, this.#loaded.snapshot, signal);
      if (r !== 'relist') return r;
    }
    return this.#pollSnapshot(signal);
  }

  /**
   * One changes request: apply the delta to the snapshot in force and check the result whole. A bad delta
   * throws (the snapshot in force stays) and the next request is a full snapshot; 410 and 404 re-list at once.
   */
  async #pollChanges(since: number, current: LoadedSnapshot['snapshot'], signal?: AbortSignal): Promise<'changed' | 'unchanged' | 'relist'> {
    const c = this.#o.client;
    const where = `region changes from ${c.where} (cluster ${c.clusterId}, since revision ${since})`;
    // A stale copy from disk is confirmed (or updated) at once rather than after a held poll.
    const answer = await c.fetchChanges({ since, waitSeconds: this.#stale ? 0 : (this.#o.waitSeconds ?? 30), signal });
    if (answer.kind !== 'changes') {
      this.#revision = undefined;
      this.#etag = undefined;
      if (answer.kind === 'no-feed') {
        this.#noFeed = true;
        this.#o.log.info({ region: c.where }, 'the region has no changes feed; following its snapshot by long poll');
      } else this.#o.log.info({ region: c.where, since }, 'the region no longer holds changes since our revision (410); fetching the full snapshot');
      return 'relist';
    }
    let applied;
    try {
      const changes = parseChanges(answer.body, where);
      if (changes.revision < since) throw new RegionError('malformed', `${where} went back to revision ${changes.revision}`);
      const empty = !changes.nodes_changed.length && !changes.nodes_removed.length && !changes.config && !changes.boot_selections;
      if (empty) {
        // Nothing of this cluster changed; the region's revision may have moved on for other clusters'
        // writes. Take the revision (the next poll asks from it) without checking and swapping the whole
        // snapshot again, which at 100,000 nodes costs about a second of CPU per empty answer.
        this.#revision = changes.revision;
        this.#confirmStale(`revision ${changes.revision}`);
        this.#o.store.confirm();
        this.#noteSuccess('not_modified');
        return 'unchanged';
      }
      applied = await applyDelta(current, changes, where);
    } catch (err) {
      // Rejected whole: the snapshot in force stays and the next request re-lists with the full snapshot.
      this.#revision = undefined;
      this.#etag = undefined;
      throw err instanceof RegionError ? err : new RegionError('malformed', messageOf(err), { cause: err });
    }
    if (this.#loaded?.snapshot !== current) throw new RegionError('helper', `${where} arrived after another load; asking again`);
    await this.#o.store.swapInSlices(applied.snapshot, `region:${c.where}`, 1000);
    // The helper's generation names the load it delivered; this one it never saw.
    this.#loaded = { snapshot: applied.snapshot };
    this.#revision = applied.revision;
    this.#etag = undefined;
    this.#confirmStale(`revision ${applied.revision}`);
    this.#o.persisted?.save(applied.snapshot, { revision: applied.revision });
    this.#deltaBytes?.inc({}, answer.bytes);
    this.#o.log.info(
      { revision: applied.revision, changed: applied.changed, removed: applied.removed, nodes: applied.snapshot.nodes.length, bytes: answer.bytes },
      'region changes applied',
    );
    this.#noteSuccess('delta');
    return 'changed';
  }

  /** The region has spoken for the copy from disk: it is current again. */
  #confirmStale(what: string): void {
    if (!this.#stale) return;
    this.#stale = false;
    this.#o.store.source = `region:${this.#o.client.where}`;
    this.#o.log.info({ version: what }, 'the region confirms the persisted snapshot');
  }

  /** One snapshot request: swap on a new valid snapshot, confirm freshness on 304, throw RegionError otherwise. */
  async #pollSnapshot(signal?: AbortSignal): Promise<'changed' | 'unchanged'> {
    const c = this.#o.client;
    const where = `region snapshot from ${c.where} (cluster ${c.clusterId})`;
    // Fetched, parsed and validated off this thread (region-fetcher.ts); only changed nodes and the index work land here.
    // The helper process has its own copy of the client: tell it which replica to ask, and move this copy on
    // when that replica fails, so both (and /healthz) agree on the replica in use.
    const several = (c.replicas?.length ?? 1) > 1;
    const replica = several ? c.current : undefined;
    let answer;
    try {
      answer = await this.#fetcher.poll({ etag: this.#etag, waitSeconds: this.#o.waitSeconds ?? 30, where, previous: this.#loaded, signal, replica });
    } catch (err) {
      if (replica !== undefined && !signal?.aborted) c.select(replica + 1);
      throw err;
    }
    if (answer.kind === 'unchanged') {
      this.#confirmStale(this.#etag ?? '');
      this.#o.store.confirm();
      this.#noteSuccess('not_modified');
      return 'unchanged';
    }
    const { snapshot } = answer.loaded;
    if (!snapshot.version) snapshot.version = answer.etag ?? '';
    const source = `region:${c.where}`;
    if (answer.loaded.tables) this.#o.store.install(snapshot, answer.loaded.tables, source);
    else await this.#o.store.swapInSlices(snapshot, source, 1000);
    this.#loaded = answer.loaded;
    this.#stale = false;
    // A revision means the region has a changes feed: the next request asks only for what changed since.
    this.#revision = this.#noFeed ? undefined : answer.revision;
    // Only a running follower keeps the copy: `edgeboot render` and `check` fetch once and must not write state.
    if (this.#running) this.#o.persisted?.save(snapshot, { etag: answer.etag, revision: answer.revision });
    this.#o.log.info({ nodes: snapshot.nodes.length, version: snapshot.version, bytes: answer.bytes, revision: answer.revision }, 'region snapshot loaded');
    this.#etag = answer.etag;
    this.#noteSuccess('ok');
    return 'changed';
  }

  #noteSuccess(result: 'ok' | 'not_modified' | 'delta'): void {
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
      url: this.#o.client.where,
      clusterId: this.#o.client.clusterId,
      state: this.#state,
      lastContactSecondsAgo: this.#lastContact === undefined ? null : (this.#now() - this.#lastContact) / 1000,
      consecutiveFailures: this.#failures,
      lastError: this.lastError ?? null,
      etag: this.#etag ?? null,
      revision: this.#revision ?? null,
      replicas: this.#o.client.replicas,
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
