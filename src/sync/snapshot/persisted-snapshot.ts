import { constants } from 'node:fs';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { EdgebootError, messageOf } from '../../core/errors.js';
import type { Snapshot } from '../../core/node.js';
import { snapshotToWire } from '../../contract/index.js';
import { type LoadedSnapshot, loadSnapshot } from './snapshot-loader.js';

// The rack's copy of its last good region snapshot, so a rack restarted while the region is away still boots
// the nodes it knew. It holds node tokens: mode 0600, written whole (temporary file, fsync, rename) so a crash
// or a full disk leaves the previous copy intact; checked whole on load like a region answer. Rendered files
// are never stored: they are made on the wire from this snapshot.

const FORMAT = 'edgeboot-rack-snapshot/1';

/** What a persisted copy brings back besides the snapshot: how the region named it and when it was saved. */
export interface PersistedCopy {
  loaded: LoadedSnapshot;
  etag?: string;
  revision?: number;
  savedAt: number;
  path: string;
}

/** Where and how the copy is kept. */
export interface PersistedSnapshotOptions {
  dir: string;
  clusterId: string;
  log: Logger;
  now?: () => number;
  /** Saves coalesce: a burst of region changes writes the newest snapshot once after this pause. */
  delayMs?: number;
}

/** The rack's on-disk copy of its last good snapshot (one file per cluster under the state dir). */
export class PersistedSnapshot {
  readonly #o: PersistedSnapshotOptions;
  readonly path: string;
  #pending: { snapshot: Snapshot; etag?: string; revision?: number } | undefined;
  #timer: NodeJS.Timeout | undefined;
  #writing: Promise<void> = Promise.resolve();
  #loggedError: string | undefined;
  /** When the copy on disk was last written (ms), by this process or the one before. */
  savedAt: number | undefined;
  /** The last write failure, until a write succeeds. */
  lastError: string | undefined;

  constructor(options: PersistedSnapshotOptions) {
    this.#o = options;
    this.path = join(options.dir, `region-snapshot-${options.clusterId}.json`);
  }

  /** The copy on disk, checked whole; undefined when there is none or it cannot be used (logged in one line). */
  async load(): Promise<PersistedCopy | undefined> {
    let text: Buffer;
    try {
      text = await readFile(this.path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.#o.log.error({ path: this.path, err: messageOf(err) }, 'cannot read the persisted snapshot; starting without it');
      return undefined;
    }
    try {
      let doc: { format?: unknown; cluster_id?: unknown; saved_at?: unknown; etag?: unknown; revision?: unknown; snapshot?: unknown };
      try {
        doc = JSON.parse(text.toString('utf8')) as typeof doc;
      } catch (err) {
        throw new EdgebootError('E_SNAPSHOT', `${this.path} is not JSON (${messageOf(err)})`);
      }
      if (doc.format !== FORMAT) throw new EdgebootError('E_SNAPSHOT', `${this.path} is not an edgeboot rack snapshot (${FORMAT})`);
      if (doc.cluster_id !== this.#o.clusterId) throw new EdgebootError('E_SNAPSHOT', `${this.path} belongs to cluster ${String(doc.cluster_id)}, not ${this.#o.clusterId}`);
      const loaded = await loadSnapshot(Buffer.from(JSON.stringify(doc.snapshot ?? null)), `persisted snapshot ${this.path}`);
      const savedAt = typeof doc.saved_at === 'string' ? Date.parse(doc.saved_at) : Number.NaN;
      this.savedAt = Number.isFinite(savedAt) ? savedAt : undefined;
      return {
        loaded,
        etag: typeof doc.etag === 'string' ? doc.etag : undefined,
        revision: typeof doc.revision === 'number' ? doc.revision : undefined,
        savedAt: this.savedAt ?? 0,
        path: this.path,
      };
    } catch (err) {
      this.#o.log.error({ path: this.path, err: messageOf(err) }, 'the persisted snapshot cannot be used; starting without it');
      return undefined;
    }
  }

  /** Keep `snapshot` (and how the region named it) on disk soon; never throws, a failure is logged once. */
  save(snapshot: Snapshot, meta: { etag?: string; revision?: number } = {}): void {
    this.#pending = { snapshot, ...meta };
    if (this.#timer) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#writing = this.#writing.then(() => this.#writePending());
    }, this.#o.delayMs ?? 1000);
    this.#timer.unref();
  }

  /** Write what is pending now and wait for every write (stop, tests). */
  async flush(): Promise<void> {
    if (this.#timer) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
      this.#writing = this.#writing.then(() => this.#writePending());
    }
    await this.#writing;
  }

  async #writePending(): Promise<void> {
    const p = this.#pending;
    if (!p) return;
    this.#pending = undefined;
    const now = (this.#o.now ?? Date.now)();
    const body = JSON.stringify({
      format: FORMAT,
      cluster_id: this.#o.clusterId,
      saved_at: new Date(now).toISOString(),
      etag: p.etag,
      revision: p.revision,
      snapshot: snapshotToWire(p.snapshot),
    });
    const tmp = `${this.path}.${process.pid}.tmp`;
    try {
      await mkdir(this.#o.dir, { recursive: true, mode: 0o700 });
      const fh = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC, 0o600);
      try {
        await fh.writeFile(body);
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, this.path);
      // The rename itself must survive a power cut: sync the folder too.
      const dir = await open(this.#o.dir, constants.O_RDONLY);
      await dir.sync().finally(() => dir.close());
      this.savedAt = now;
      if (this.lastError) this.#o.log.info({ path: this.path }, 'the snapshot is persisted again');
      this.lastError = undefined;
      this.#loggedError = undefined;
    } catch (err) {
      await rm(tmp, { force: true }).catch(() => undefined);
      this.lastError = messageOf(err);
      const code = (err as NodeJS.ErrnoException).code ?? this.lastError;
      // One line per kind of failure (a full disk would otherwise log on every region change).
      if (code !== this.#loggedError) {
        this.#loggedError = code;
        this.#o.log.error({ path: this.path, err: this.lastError }, 'cannot persist the snapshot; serving goes on, a restart while the region is away would start without it');
      }
    }
  }
}
