import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { EdgebootError, messageOf } from '../core/errors.js';
import { tryParseMac } from '../core/mac.js';
import { KNOWN_STATES, type Node } from '../core/node.js';
import { tryParseUuid } from '../core/uuid.js';
import { nodeToWire, type RegionBootEvent, snapshotToWire, type WireChanges } from '../contract/index.js';
import { InventorySource } from '../sync/inventory/index.js';
import { NodeStore } from '../sync/nodes/index.js';
import { ChangeLog, type ChangesRefusal } from './change-log.js';
import { appendNode, discoveredFile, restoreText, setNodeStatus, snapshotText } from './inventory-writer.js';
import type { InstallSignal } from './install-signal.js';
import { loadRevisionState, revisionFilePath, saveRevisionState } from './revision-file.js';
import { createRegionApp } from './region-app.js';
import type { DiscoveryInput, RegionBackend, RegionServerOptions, WireState } from './region-backend.js';
import { RegionTokens } from './tokens.js';

const MAX_EVENTS = 10_000;

/** Map whatever architecture a rack saw (iPXE buildarch, DHCP arch name) to the node model's `arch/subarch`. */
export function archOfDiscovery(arch: string | null | undefined): string {
  const a = (arch ?? '').toLowerCase();
  if (/^(arm64|aarch64)/.test(a)) return 'arm64/generic';
  if (/^(armhf|arm32|arm)$/.test(a)) return 'armhf/generic';
  return 'amd64/generic';
}

/** The reference region: serves the region API (docs/region-api.md) from inventory files; the only writer of them. */
export class RegionServer implements RegionBackend {
  readonly store = new NodeStore();
  readonly tokens: RegionTokens;
  readonly events: Array<{ cluster: string; event: RegionBootEvent }> = [];
  /** Install signals and reports nodes sent (the newest 10,000), tokens never included. */
  readonly reports: Array<{ system_id: string; at: string } & InstallSignal> = [];
  readonly stats = { snapshotOk: 0, snapshotNotModified: 0, changesOk: 0, discoveries: 0, eventBatches: 0 };
  readonly #o: RegionServerOptions;
  readonly #inventory: InventorySource;
  readonly #waiters = new Set<() => void>();
  readonly #eventIds = new Set<string>();
  #wire: WireState | undefined;
  #writes: Promise<unknown> = Promise.resolve();
  #server: Server | undefined;
  // Revisions start from the clock in milliseconds, so a restarted region never hands out a revision an
  // earlier process already used (its history is in memory only: an older `since` gets 410 and re-lists).
  // With a state dir, it goes on from the revision the previous process served (revision-file.ts).
  readonly #changes: ChangeLog;
  #stateError: string | undefined;

  constructor(options: RegionServerOptions) {
    this.#o = options;
    const stateFile = options.stateDir ? revisionFilePath(options.stateDir) : undefined;
    this.#changes = new ChangeLog(Date.now(), 10_000, stateFile ? loadRevisionState(stateFile, options.log) : undefined);
    this.tokens = new RegionTokens(options.tokensFile);
    this.#inventory = new InventorySource({ path: options.inventory, store: this.store, log: options.log.child({ part: 'inventory' }), watch: options.watch });
    this.store.onSwap((s) => {
      const wire = snapshotToWire(s, '');
      const inner = JSON.stringify(wire).slice('{"version":"",'.length);
      const hash = createHash('sha256').update(inner).digest('hex').slice(0, 32);
      if (this.#wire && this.#wire.etag === `"${hash}"`) return;
      this.#changes.record(wire);
      if (stateFile) this.#saveRevisions(stateFile);
      const version = hash.slice(0, 16);
      const revision = this.#changes.revision;
      this.#wire = { etag: `"${hash}"`, version, revision, body: Buffer.from(`{"version":"${version}","revision":${revision},${inner}`), nodes: s.nodes.length };
      for (const wake of this.#waiters) wake();
    });
  }

  /** Keep the revision state before the revision is served; a failure is logged once per kind, serving goes on. */
  #saveRevisions(file: string): void {
    try {
      saveRevisionState(file, this.#o.stateDir!, this.#changes.state());
      this.#stateError = undefined;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? messageOf(err);
      if (code !== this.#stateError) this.#o.log.error({ path: file, err: messageOf(err) }, 'cannot keep the revision state; after a restart racks will re-list once');
      this.#stateError = code;
    }
  }

  get options(): RegionServerOptions {
    return this.#o;
  }

  /** Load the inventory (a bad first load throws), then listen; resolves with the bound port. */
  async start(): Promise<number> {
    await this.#inventory.start();
    const app = createRegionApp(this, this.#o.log.child({ part: 'region-http' }));
    const server = this.#o.tls
      ? createHttpsServer({ cert: readFileSync(this.#o.tls.certFile), key: readFileSync(this.#o.tls.keyFile) }, app)
      : createHttpServer(app);
    this.#server = server;
    server.keepAliveTimeout = 75_000;
    server.requestTimeout = 0;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.#o.port, this.#o.host, () => resolve());
    });
    const port = (server.address() as AddressInfo).port;
    this.#o.log.info({ host: this.#o.host, port, tls: Boolean(this.#o.tls), nodes: this.#wire?.nodes }, 'region listening');
    return port;
  }

  /** The snapshot being served, or undefined before the first good inventory load. */
  current(): WireState | undefined {
    return this.#wire;
  }

  /** The body of `wire` gzip-compressed (racks ask for it: a 100,000-node snapshot is ≈ 33 MB as JSON). */
  gzipped(wire: WireState): Promise<Buffer> {
    const made = wire.gzipped ?? promisify(gzip)(wire.body, { level: 6 });
    wire.gzipped = made;
    return made;
  }

  /** Resolve when the served snapshot differs from `etag`, or after `ms` (false); `cancel` on client close. */
  waitForChange(etag: string, ms: number): { changed: Promise<boolean>; cancel: () => void } {
    return this.#waitUntil(() => this.#wire?.etag !== etag, ms);
  }

  /** Resolve when the revision has moved past `since`, or after `ms` (false); `cancel` on client close. */
  waitForRevision(since: number, ms: number): { changed: Promise<boolean>; cancel: () => void } {
    return this.#waitUntil(() => this.#changes.revision > since, ms);
  }

  /** What changed after revision `since`, or why only a full re-list can say it. */
  changesSince(since: number): WireChanges | ChangesRefusal {
    return this.#changes.since(since);
  }

  #waitUntil(done: () => boolean, ms: number): { changed: Promise<boolean>; cancel: () => void } {
    let wake: () => void = () => undefined;
    let timer: NodeJS.Timeout | undefined;
    const changed = new Promise<boolean>((resolve) => {
      wake = () => {
        if (!done()) return;
        this.#waiters.delete(wake);
        clearTimeout(timer);
        resolve(true);
      };
      timer = setTimeout(() => {
        this.#waiters.delete(wake);
        resolve(false);
      }, ms);
      this.#waiters.add(wake);
    });
    return {
      changed,
      cancel: () => {
        this.#waiters.delete(wake);
        clearTimeout(timer);
      },
    };
  }

  /** Long polls being held right now. */
  get waiting(): number {
    return this.#waiters.size;
  }

  #serially<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#writes.then(fn);
    this.#writes = run.catch(() => undefined);
    return run;
  }

  /** Bring the store up to date with the files (an edit may not have been picked up by the watcher yet). */
  async #fresh(): Promise<void> {
    try {
      await this.#inventory.reload({ throwOnError: true });
    } catch (err) {
      throw new EdgebootError('E_BUSY', `the inventory on disk is invalid right now, so the region will not change it: ${messageOf(err)}`);
    }
  }

  /** After an edit: load it, or put the file back as it was when the result does not validate. */
  async #commit(file: string, before: string | undefined): Promise<void> {
    try {
      await this.#inventory.reload({ throwOnError: true });
    } catch (err) {
      await restoreText(file, before);
      await this.#inventory.reload();
      throw new EdgebootError('E_INVENTORY', `the edit of ${file} was undone because it made the inventory invalid: ${messageOf(err)}`);
    }
  }

  /** Record an unknown machine as a `status: new` node (idempotent per MAC). */
  addDiscovery(d: DiscoveryInput, cluster: string): Promise<{ created: boolean; systemId: string }> {
    return this.#serially(async () => {
      await this.#fresh();
      const known = this.store.byMac(d.mac);
      if (known) return { created: false, systemId: known.systemId };
      let systemId: string;
      do systemId = `d${randomBytes(4).toString('hex').slice(0, 6)}`;
      while (this.store.find({ systemId }));
      const node: Record<string, unknown> = {
        system_id: systemId,
        hostname: `new-${d.mac.replace(/:/g, '')}`,
        macs: [d.mac],
        arch: archOfDiscovery(d.arch),
        status: 'new',
      };
      const uuid = tryParseUuid(d.uuid ?? undefined);
      if (uuid && !this.store.find({ uuid })) node.uuid = uuid;
      node.discovered = { cluster, ip: d.ip ?? null, at: d.seen_at ?? new Date().toISOString() };
      const file = await discoveredFile(this.#o.inventory);
      const before = await snapshotText(file);
      await appendNode(file, node);
      await this.#commit(file, before);
      this.stats.discoveries++;
      this.#o.log.info({ mac: d.mac, systemId, cluster, file }, 'discovered machine added to the inventory as new');
      return { created: true, systemId };
    });
  }

  /** The node a `mac|system_id|hostname` reference names. */
  resolve(ref: string): Node | undefined {
    const mac = tryParseMac(ref);
    return (
      (mac && this.store.byMac(mac)) ||
      this.store.find({ systemId: ref }) ||
      this.store.snapshot()?.nodes.find((n) => n.hostname === ref.toLowerCase())
    );
  }

  /** Change a node's status in the inventory; with `from`, only when it is in that state now (approve). */
  setStatus(ref: string, status: string, options: { reason?: string; from?: string } = {}): Promise<Node> {
    return this.#serially(async () => {
      if (!(KNOWN_STATES as readonly string[]).includes(status)) {
        throw new EdgebootError('E_INVENTORY', `"${status}" is not a node state (${KNOWN_STATES.join(', ')})`);
      }
      await this.#fresh();
      const node = this.resolve(ref);
      if (!node) throw new EdgebootError('E_NOT_FOUND', `no node is known as ${ref}`);
      // A retry of a change that already happened (on this or another replica) is answered as done.
      if (node.status === status && (options.reason === undefined || node.statusReason === options.reason)) return node;
      if (options.from && node.status !== options.from) {
        throw new EdgebootError('E_BUSY', `node ${node.systemId} is ${node.status}, not ${options.from}`);
      }
      const edit = await setNodeStatus(this.#o.inventory, node.systemId, status, options.reason);
      await this.#commit(edit.file, edit.before);
      this.#o.log.info({ systemId: node.systemId, from: node.status, to: status }, 'node status changed');
      return this.store.find({ systemId: node.systemId })!;
    });
  }

  /** Nodes as the admin API lists them (tokens left out). */
  listNodes(): Array<Record<string, unknown>> {
    return (this.store.snapshot()?.nodes ?? []).map((n) => {
      const { token: _token, ...rest } = nodeToWire(n);
      return rest;
    });
  }

  /** Keep a batch of boot events (the newest MAX_EVENTS); an event whose id is already kept is a retry and is skipped. */
  addEvents(cluster: string, events: RegionBootEvent[]): number {
    let added = 0;
    for (const event of events) {
      const key = event.id === undefined ? undefined : `${cluster}/${event.id}`;
      if (key !== undefined && this.#eventIds.has(key)) continue;
      if (key !== undefined) this.#eventIds.add(key);
      this.events.push({ cluster, event });
      added++;
    }
    if (this.events.length > MAX_EVENTS) {
      for (const { cluster: c, event } of this.events.splice(0, this.events.length - MAX_EVENTS)) if (event.id !== undefined) this.#eventIds.delete(`${c}/${event.id}`);
    }
    this.stats.eventBatches++;
    return added;
  }

  /** Re-read tokens and inventory (SIGHUP). */
  async reload(): Promise<void> {
    this.tokens.load();
    await this.#inventory.reload();
  }

  /** Stop listening and drop held long polls (they see the connection close, as when the process dies). */
  async stop(): Promise<void> {
    await this.#inventory.stop();
    const server = this.#server;
    if (!server) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }
}
