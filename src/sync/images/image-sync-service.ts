import type { Logger } from 'pino';
import { messageOf } from '../../core/errors.js';
import type { MetricsRegistry } from '../../core/metrics.js';
import type { BootSelection } from '../../core/node.js';
import type { Service } from '../../core/service.js';
import type { NodeStore } from '../nodes/index.js';
import { backoffMs, type RegionClient } from '../region/index.js';
import { syncImages } from './image-sync.js';

/** What the appliance's image follower needs. */
export interface ImageSyncServiceOptions {
  client: Pick<RegionClient, 'openResource'>;
  store: NodeStore;
  bootRoot: string;
  log: Logger;
  metrics?: MetricsRegistry;
  concurrency?: number;
  retryMaxMs?: number;
  inUse?: (absDir: string) => boolean;
}

/** Image sync facts for /healthz. */
export interface ImageSyncHealth {
  state: 'idle' | 'syncing' | 'failed';
  lastError: string | null;
  lastSyncAt: string | null;
  selections: number;
}

/** Syncs boot images whenever the region's snapshot changes its selections; retries failures with backoff. */
export class ImageSyncService implements Service {
  readonly name = 'image-sync';
  readonly #o: ImageSyncServiceOptions;
  #unsubscribe: (() => void) | undefined;
  #running: Promise<void> | undefined;
  #dirty = false;
  #stopped = false;
  #abort = new AbortController();
  #retry: NodeJS.Timeout | undefined;
  #attempt = 0;
  #doneKey: string | undefined;
  #health: ImageSyncHealth = { state: 'idle', lastError: null, lastSyncAt: null, selections: 0 };

  constructor(options: ImageSyncServiceOptions) {
    this.#o = options;
    options.metrics?.gauge('edgeboot_image_sync_failing', 'Whether the last boot image sync failed.', () => (this.#health.state === 'failed' ? 1 : 0));
  }

  async start(): Promise<void> {
    this.#unsubscribe = this.#o.store.onSwap(() => this.kick());
    if (this.#o.store.loaded) this.kick();
  }

  /** Sync now (or right after the running sync). */
  kick(): void {
    if (this.#stopped) return;
    clearTimeout(this.#retry);
    if (this.#running) {
      this.#dirty = true;
      return;
    }
    this.#running = this.#loop().finally(() => {
      this.#running = undefined;
    });
  }

  async #loop(): Promise<void> {
    do {
      this.#dirty = false;
      const selections: BootSelection[] = this.#o.store.snapshot()?.bootSelections ?? [];
      const key = JSON.stringify(selections);
      if (key === this.#doneKey) continue;
      this.#health = { ...this.#health, state: 'syncing', selections: selections.length };
      try {
        const r = await syncImages(selections, {
          client: this.#o.client,
          bootRoot: this.#o.bootRoot,
          concurrency: this.#o.concurrency,
          log: this.#o.log,
          inUse: this.#o.inUse,
          signal: this.#abort.signal,
        });
        this.#doneKey = key;
        this.#attempt = 0;
        this.#health = { state: 'idle', lastError: null, lastSyncAt: new Date().toISOString(), selections: selections.length };
        this.#o.log.info({ files: r.files, fetched: r.fetched, bytes: r.bytes, removed: r.removed.length }, 'boot images in sync');
      } catch (err) {
        if (this.#stopped) return;
        const msg = messageOf(err);
        if (msg !== this.#health.lastError) this.#o.log.error({ err: msg }, 'boot image sync failed; images in place are kept, retrying with backoff');
        this.#health = { ...this.#health, state: 'failed', lastError: msg };
        const wait = backoffMs(this.#attempt++, { baseMs: 2000, maxMs: this.#o.retryMaxMs ?? 300_000 });
        this.#retry = setTimeout(() => this.kick(), wait);
        this.#retry.unref?.();
        return;
      }
    } while (this.#dirty && !this.#stopped);
  }

  /** Image sync facts for /healthz. */
  health(): ImageSyncHealth {
    return { ...this.#health };
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#retry);
    this.#unsubscribe?.();
    this.#abort.abort();
    await this.#running?.catch(() => undefined);
  }
}
