import { createHash, randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { EdgebootError, messageOf } from '../../core/errors.js';
import { tryParseMac } from '../../core/mac.js';
import { KNOWN_STATES, type Node } from '../../core/node.js';
import { tryParseUuid } from '../../core/uuid.js';
import { nodeToWire, type RegionBootEvent, snapshotToWire, type WireChanges, type WireNode } from '../../contract/index.js';
import { InventorySource } from '../../sync/inventory/index.js';
import { NodeStore } from '../../sync/nodes/index.js';
import { ChangeLog, type ChangesRefusal } from '../change-log.js';
import { inView } from '../cluster-view.js';
import { loadRevisionState, revisionFilePath, saveRevisionState } from '../revision-file.js';
import { nodeOfToken, type PresentedToken } from '../install-signal.js';
import { appendNode, discoveredFile, type FileEdit, putNodesInFiles, removeNodesFromFiles, restoreText, setNodeStatus, snapshotText } from '../inventory-writer.js';
import { archOfDiscovery } from './discovery-node.js';
import type { DiscoveryInput, WireState } from '../region-backend.js';
import { checkNodes, withoutToken } from './node-check.js';
import type { RegionStore, StoredEvent, StoredReport } from './region-store.js';
import { Waiters, type Waiting } from './waiters.js';

const MAX_EVENTS = 10_000;

/** How the file-backed store is run. */
export interface YamlStoreOptions {
  /** A YAML/JSON inventory file or a directory of them. */
  inventory: string;
  log: Logger;
  watch?: boolean;
  /** Revisions of history kept in memory; an older `since` gets 410 (default 10,000). */
  keepRevisions?: number;
  /** Folder for the revision state (region-revisions.json): a restarted region answers deltas from where it stopped. */
  stateDir?: string;
}

/** The file-backed region store (the default): the inventory files are the truth, this process their only writer; the feed's history is in memory. */
export class YamlStore implements RegionStore {
  readonly kind = 'yaml';
  /** The nodes in force, parsed and indexed. */
  readonly nodes = new NodeStore();
  readonly events: StoredEvent[] = [];
  readonly reports: StoredReport[] = [];
  readonly #o: YamlStoreOptions;
  readonly #inventory: InventorySource;
  readonly #waiters = new Waiters();
  readonly #eventIds = new Set<string>();
  #wire: WireState | undefined;
  #latest: ReturnType<typeof snapshotToWire> | undefined;
  /** Per-cluster snapshots, made on first request and kept until a revision changes that cluster's view. */
  readonly #views = new Map<string, WireState>();
  #writes: Promise<unknown> = Promise.resolve();
  // Revisions start from the clock in milliseconds, so a restarted region never hands out a revision an
  // earlier process already used (its history is in memory only: an older `since` gets 410 and re-lists).
  // With a state dir, it goes on from the revision the previous process served (revision-file.ts).
  readonly #changes: ChangeLog;
  #stateError: string | undefined;

  constructor(options: YamlStoreOptions) {
    this.#o = options;
    const stateFile = options.stateDir ? revisionFilePath(options.stateDir) : undefined;
    this.#changes = new ChangeLog(Date.now(), options.keepRevisions, stateFile ? loadRevisionState(stateFile, options.log) : undefined);
    this.#inventory = new InventorySource({ path: options.inventory, store: this.nodes, log: options.log.child({ part: 'inventory' }), watch: options.watch });
    this.nodes.onSwap((s) => {
      const wire = snapshotToWire(s, '');
      this.#latest = wire;
      const inner = JSON.stringify(wire).slice('{"version":"",'.length);
      const hash = createHash('sha256').update(inner).digest('hex').slice(0, 32);
      if (this.#wire && this.#wire.etag === `"${hash}"`) return;
      this.#changes.record(wire);
      if (stateFile) this.#saveRevisions(stateFile);
      const version = hash.slice(0, 16);
      const revision = this.#changes.revision;
      this.#wire = { etag: `"${hash}"`, version, revision, body: Buffer.from(`{"version":"${version}","revision":${revision},${inner}`), nodes: s.nodes.length };
      this.#waiters.wakeAll();
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

  async start(): Promise<void> {
    await this.#inventory.start();
  }

  async stop(): Promise<void> {
    await this.#inventory.stop();
  }

  async reload(): Promise<void> {
    await this.#inventory.reload();
  }

  unavailable(): string | undefined {
    return undefined;
  }

  head(): { version: string; revision: number; nodes: number } | undefined {
    const w = this.#wire;
    return w && { version: w.version, revision: w.revision, nodes: w.nodes };
  }

  current(cluster?: string): WireState | undefined {
    if (cluster === undefined || !this.#wire || !this.#latest) return this.#wire;
    const kept = this.#views.get(cluster);
    if (kept && kept.revision >= this.#changes.floor && !this.#changes.touchedAfter(kept.revision, cluster)) return kept;
    const wire = { ...this.#latest, nodes: this.#latest.nodes.filter((n) => inView(n.cluster ?? null, cluster)) };
    const inner = JSON.stringify(wire).slice('{"version":"",'.length);
    const hash = createHash('sha256').update(cluster).update('\0').update(inner).digest('hex').slice(0, 32);
    const version = hash.slice(0, 16);
    const revision = this.#changes.revision;
    const view = { etag: `"${hash}"`, version, revision, body: Buffer.from(`{"version":"${version}","revision":${revision},${inner}`), nodes: wire.nodes.length };
    this.#views.set(cluster, view);
    return view;
  }

  get revision(): number {
    return this.#changes.revision;
  }

  async changesSince(since: number, cluster?: string): Promise<WireChanges | ChangesRefusal> {
    return this.#changes.since(since, cluster);
  }

  waitForRevision(since: number, ms: number, cluster?: string): Waiting {
    return this.#waiters.wait(() => this.#changes.touchedAfter(since, cluster), ms);
  }

  waitForChange(etag: string, ms: number, cluster?: string): Waiting {
    return this.#waiters.wait(() => this.current(cluster)?.etag !== etag, ms);
  }

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

  /** After edits: load them, or put every file back as it was when the result does not validate. */
  async #commit(edits: FileEdit[]): Promise<void> {
    try {
      await this.#inventory.reload({ throwOnError: true });
    } catch (err) {
      for (const e of edits.reverse()) await restoreText(e.file, e.before);
      await this.#inventory.reload();
      throw new EdgebootError('E_INVENTORY', `the edit of ${edits.map((e) => e.file).join(', ')} was undone because it made the inventory invalid: ${messageOf(err)}`);
    }
  }

  #resolve(ref: string): Node | undefined {
    const mac = tryParseMac(ref);
    return (mac && this.nodes.byMac(mac)) || this.nodes.find({ systemId: ref }) || this.nodes.snapshot()?.nodes.find((n) => n.hostname === ref.toLowerCase());
  }

  async findNode(ref: string): Promise<Node | undefined> {
    return this.#resolve(ref);
  }

  async nodeOfToken(t: PresentedToken): Promise<Node | undefined> {
    return nodeOfToken(this.nodes.snapshot()?.nodes ?? [], t);
  }

  async listNodes(): Promise<Array<Omit<WireNode, 'token'>>> {
    return (this.nodes.snapshot()?.nodes ?? []).map((n) => withoutToken(nodeToWire(n)));
  }

  async putNodes(raws: unknown[]): Promise<string[]> {
    const checked = checkNodes(raws, 'the nodes given');
    return this.#serially(async () => {
      await this.#fresh();
      const changed = checked.filter((c) => {
        const now = this.nodes.find({ systemId: c.node.systemId });
        return !now || JSON.stringify(nodeToWire(now)) !== JSON.stringify(c.wire);
      });
      if (changed.length === 0) return [];
      const edits = await putNodesInFiles(this.#o.inventory, changed.map((c) => c.wire as Record<string, unknown>));
      await this.#commit(edits);
      this.#o.log.info({ nodes: changed.length }, 'nodes written to the inventory');
      return changed.map((c) => c.node.systemId);
    });
  }

  removeNodes(refs: string[]): Promise<string[]> {
    return this.#serially(async () => {
      await this.#fresh();
      const ids = [...new Set(refs.map((r) => this.#resolve(r)?.systemId).filter((id): id is string => id !== undefined))];
      if (ids.length === 0) return [];
      const edits = await removeNodesFromFiles(this.#o.inventory, ids);
      await this.#commit(edits);
      this.#o.log.info({ nodes: ids.length }, 'nodes removed from the inventory');
      return ids;
    });
  }

  addDiscovery(d: DiscoveryInput, cluster: string): Promise<{ created: boolean; systemId: string }> {
    return this.#serially(async () => {
      await this.#fresh();
      const known = this.nodes.byMac(d.mac);
      if (known) return { created: false, systemId: known.systemId };
      let systemId: string;
      do systemId = `d${randomBytes(4).toString('hex').slice(0, 6)}`;
      while (this.nodes.find({ systemId }));
      const node: Record<string, unknown> = {
        system_id: systemId,
        hostname: `new-${d.mac.replace(/:/g, '')}`,
        macs: [d.mac],
        arch: archOfDiscovery(d.arch),
        status: 'new',
      };
      const uuid = tryParseUuid(d.uuid ?? undefined);
      if (uuid && !this.nodes.find({ uuid })) node.uuid = uuid;
      node.discovered = { cluster, ip: d.ip ?? null, at: d.seen_at ?? new Date().toISOString() };
      const file = await discoveredFile(this.#o.inventory);
      const before = await snapshotText(file);
      await appendNode(file, node);
      await this.#commit([{ file, before }]);
      this.#o.log.info({ mac: d.mac, systemId, cluster, file }, 'discovered machine added to the inventory as new');
      return { created: true, systemId };
    });
  }

  setStatus(ref: string, status: string, options: { reason?: string; from?: string } = {}): Promise<Node> {
    return this.#serially(async () => {
      if (!(KNOWN_STATES as readonly string[]).includes(status)) {
        throw new EdgebootError('E_INVENTORY', `"${status}" is not a node state (${KNOWN_STATES.join(', ')})`);
      }
      await this.#fresh();
      const node = this.#resolve(ref);
      if (!node) throw new EdgebootError('E_NOT_FOUND', `no node is known as ${ref}`);
      // A retry of a change that already happened (on this or another replica) is answered as done.
      if (node.status === status && (options.reason === undefined || node.statusReason === options.reason)) return node;
      if (options.from && node.status !== options.from) {
        throw new EdgebootError('E_BUSY', `node ${node.systemId} is ${node.status}, not ${options.from}`);
      }
      const edit = await setNodeStatus(this.#o.inventory, node.systemId, status, options.reason);
      await this.#commit([edit]);
      this.#o.log.info({ systemId: node.systemId, from: node.status, to: status }, 'node status changed');
      return this.nodes.find({ systemId: node.systemId })!;
    });
  }

  async addEvents(cluster: string, events: RegionBootEvent[]): Promise<number> {
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
    return added;
  }

  async listEvents(): Promise<StoredEvent[]> {
    return this.events;
  }

  async addReport(report: StoredReport): Promise<void> {
    this.reports.push(report);
    if (this.reports.length > MAX_EVENTS) this.reports.splice(0, this.reports.length - MAX_EVENTS);
  }

  async listReports(): Promise<StoredReport[]> {
    return this.reports;
  }
}
