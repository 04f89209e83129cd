import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { Logger } from 'pino';
import { EdgebootError, messageOf } from '../../core/errors.js';
import { tryParseMac } from '../../core/mac.js';
import { KNOWN_STATES, type Node } from '../../core/node.js';
import { tryParseUuid } from '../../core/uuid.js';
import { parseSnapshot, type RegionBootEvent, snapshotToWire, type WireChanges, type WireNode, type WireSelection, type WireSnapshot } from '../../contract/index.js';
import { loadInventory } from '../../sync/inventory/index.js';
import type { ChangesRefusal } from '../change-log.js';
import { nodeOfToken, type PresentedToken } from '../install-signal.js';
import type { DiscoveryInput, WireState } from '../region-backend.js';
import { archOfDiscovery } from './discovery-node.js';
import { checkNodes, nodeOfWire, withoutToken } from './node-check.js';
import { migrate } from './pg-migrations.js';
import { connectionProblem, describeTarget, sqlProblem } from './pg-errors.js';
import type { RegionStore, StoredEvent, StoredReport } from './region-store.js';
import { StoreUnavailable } from './store-errors.js';
import { Waiters, type Waiting } from './waiters.js';

// The PostgreSQL store: any number of region processes share one database. Every write takes the next
// cluster revision and records what it touched in `changes` in the same transaction, so the change table
// is the truth. Each process keeps a mirror (node bodies as JSON text, settings, the retained history)
// that it fills only from the tables: a revision it has not read yet is caught up from `changes` on a
// NOTIFY, on a periodic re-check (a lost NOTIFY costs latency, never data) and before any answer that
// names a newer revision than its own. Snapshot and feed answers come from that mirror.

const CHANNEL = 'edgeboot_changes';
const ROW = '*'; // one revision for the whole region: every cluster is served the same nodes
const MAX_KEPT = 10_000;
const IMPORT_BATCH = 5_000;

/** How the PostgreSQL store is run. */
export interface PgStoreOptions {
  /** A node-postgres connection string (`postgres://user@host/db`, `?host=/run/postgresql` for a socket). */
  url: string;
  log: Logger;
  /** Inventory files imported at start and on reload: new nodes are added, settings replaced (see docs/region-api.md). */
  inventory?: string;
  /** Revisions of history kept; a `since` older than that gets 410 (default 10,000). */
  keepRevisions?: number;
  /** How often the head revision is re-read whatever NOTIFY says; 0 = never (tests only). Default 1000 ms. */
  recheckMs?: number;
  /** Whether writes send NOTIFY (tests turn it off to show the re-check alone delivers). Default true. */
  notify?: boolean;
  /** Connections in the pool (default 8). */
  poolSize?: number;
}

interface Entry {
  revision: number;
  changed: string[];
  removed: string[];
  settings: boolean;
}

/** What one write transaction touched; a write that touched nothing takes no revision. */
interface Tx {
  revision: number;
  changed: Set<string>;
  removed: Set<string>;
  settings: boolean;
}

type Db = pg.PoolClient;

/** Region state in PostgreSQL (`edgeboot region --database`), for replicas sharing one database. */
export class PgStore implements RegionStore {
  readonly kind = 'postgres';
  readonly #o: PgStoreOptions;
  readonly #pool: pg.Pool;
  readonly #keep: number;
  readonly #waiters = new Waiters();
  readonly #log: Logger;
  #revision = -1;
  #floor = -1;
  #nodes = new Map<string, string>();
  #config: WireSnapshot['config'] = {};
  #selections: WireSelection[] = [];
  #entries: Entry[] = [];
  #wire: WireState | undefined;
  #error: string | undefined;
  #refreshing: Promise<void> | undefined;
  #again = false;
  #timer: NodeJS.Timeout | undefined;
  #listener: pg.Client | undefined;
  #listenBackoff = 250;
  #listenTimer: NodeJS.Timeout | undefined;
  #listenDown = false;
  #stopped = false;

  constructor(options: PgStoreOptions) {
    this.#o = options;
    this.#keep = options.keepRevisions ?? 10_000;
    this.#log = options.log.child({ part: 'pg-store', database: describeTarget(options.url) });
    this.#pool = new pg.Pool({ connectionString: options.url, max: options.poolSize ?? 8, connectionTimeoutMillis: 5000, idleTimeoutMillis: 30_000 });
    // An idle pooled connection dropped by a database restart emits here; the pool replaces it on next use.
    this.#pool.on('error', (err) => this.#log.warn({ err: messageOf(err) }, 'idle database connection lost'));
  }

  /**
   * Migrate, make the revision row, import the inventory if given, load the mirror, then follow changes.
   * A database that cannot be reached yet does not stop the start: requests get 503 and the same steps are
   * retried every few seconds until it answers (a replica may well boot before its database).
   */
  async start(): Promise<void> {
    try {
      await this.#prepare();
    } catch (err) {
      const why = connectionProblem(err);
      if (!why) throw this.#mapped(err);
      this.#error = `The region's database is unreachable (${why}); retry shortly.`;
      this.#log.error({ err: why }, 'database unreachable at start; answering 503 and trying again every 2 s');
      this.#retryPrepare();
      return;
    }
    this.#follow();
  }

  #retryPrepare(): void {
    this.#listenTimer = setTimeout(() => {
      if (this.#stopped) return;
      this.#prepare().then(
        () => {
          this.#log.info({ revision: this.#revision, nodes: this.#nodes.size }, 'database reachable again');
          this.#follow();
        },
        (err: unknown) => {
          if (!connectionProblem(err)) this.#log.error({ err: messageOf(err) }, 'preparing the database failed; trying again in 2 s');
          this.#retryPrepare();
        },
      );
    }, 2000);
  }

  async #prepare(): Promise<void> {
    const applied = await migrate(this.#pool);
    if (applied.length) this.#log.info({ applied }, 'database schema migrated');
    // Revisions start from the clock, so a database made afresh never hands out one a rack already holds.
    await this.#pool.query('INSERT INTO cluster_revision (cluster, revision, floor) VALUES ($1, $2, $2) ON CONFLICT (cluster) DO NOTHING', [ROW, Date.now()]);
    if (this.#o.inventory) await this.#import(this.#o.inventory);
    await this.#catchUp();
    this.#error = undefined;
    this.#waiters.wakeAll();
  }

  #follow(): void {
    if (this.#stopped) return;
    this.#connectListener();
    const every = this.#o.recheckMs ?? 1000;
    if (every > 0) {
      this.#timer = setInterval(() => this.#kick(), every);
      this.#timer.unref();
    }
    this.#log.info({ revision: this.#revision, nodes: this.#nodes.size, keep: this.#keep }, 'database store ready');
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    clearTimeout(this.#listenTimer);
    const l = this.#listener;
    this.#listener = undefined;
    await l?.end().catch(() => undefined);
    await this.#refreshing?.catch(() => undefined);
    await this.#pool.end().catch(() => undefined);
  }

  async reload(): Promise<void> {
    if (this.#o.inventory) await this.#import(this.#o.inventory);
  }

  unavailable(): string | undefined {
    return this.#error;
  }

  get revision(): number {
    return this.#revision;
  }

  get waiting(): number {
    return this.#waiters.size;
  }

  head(): { version: string; revision: number; nodes: number } | undefined {
    return this.#revision < 0 ? undefined : { version: `r${this.#revision}`, revision: this.#revision, nodes: this.#nodes.size };
  }

  current(): WireState | undefined {
    if (this.#revision < 0) return undefined;
    if (this.#wire?.revision === this.#revision) return this.#wire;
    // The body is put together from the per-node JSON kept in the mirror: a new revision costs a join of
    // cached strings, never a re-serialisation of every node. Chunks keep a million nodes below V8's string limit.
    const parts: Buffer[] = [Buffer.from(`{"version":"r${this.#revision}","revision":${this.#revision},"nodes":[`)];
    let chunk: string[] = [];
    for (const text of this.#nodes.values()) {
      chunk.push(text);
      if (chunk.length === 5000) {
        parts.push(Buffer.from((parts.length > 1 ? ',' : '') + chunk.join(',')));
        chunk = [];
      }
    }
    if (chunk.length) parts.push(Buffer.from((parts.length > 1 ? ',' : '') + chunk.join(',')));
    parts.push(Buffer.from(`],"config":${JSON.stringify(this.#config)},"boot_selections":${JSON.stringify(this.#selections)}}`));
    this.#wire = { etag: `"pg-${this.#revision}"`, version: `r${this.#revision}`, revision: this.#revision, body: Buffer.concat(parts), nodes: this.#nodes.size };
    return this.#wire;
  }

  async changesSince(since: number): Promise<WireChanges | ChangesRefusal> {
    // A rack that got a newer revision from another replica: read the tables before calling it "ahead".
    if (since > this.#revision) await this.#refresh();
    if (this.#error) throw new StoreUnavailable(this.#error);
    if (since > this.#revision) return { gone: 'ahead', revision: this.#revision };
    if (since < this.#floor) return { gone: 'too-old', revision: this.#revision };
    const changed = new Set<string>();
    const removed = new Set<string>();
    let settings = false;
    for (const e of this.#entries) {
      if (e.revision <= since) continue;
      for (const id of e.changed) {
        changed.add(id);
        removed.delete(id);
      }
      for (const id of e.removed) {
        removed.add(id);
        changed.delete(id);
      }
      settings ||= e.settings;
    }
    const out: WireChanges = { revision: this.#revision, nodes_changed: [], nodes_removed: [] };
    for (const id of changed) {
      const text = this.#nodes.get(id);
      if (text === undefined) removed.add(id);
      else out.nodes_changed.push(JSON.parse(text) as WireNode);
    }
    out.nodes_removed = [...removed];
    if (settings) {
      out.config = this.#config;
      out.boot_selections = this.#selections;
    }
    return out;
  }

  waitForRevision(since: number, ms: number): Waiting {
    // A replica that lost its database ends held polls at once (503): the rack moves on to another replica.
    return this.#waiters.wait(() => this.#revision > since || this.#error !== undefined, ms);
  }

  waitForChange(etag: string, ms: number): Waiting {
    return this.#waiters.wait(() => this.#error !== undefined || (this.#revision >= 0 && `"pg-${this.#revision}"` !== etag), ms);
  }

  // ---- following the tables ----

  /** Read the tables now (coalesced with a read already running); sets or clears the unavailable sentence. */
  #refresh(): Promise<void> {
    if (this.#refreshing) {
      this.#again = true;
      return this.#refreshing;
    }
    const run = (async () => {
      do {
        this.#again = false;
        try {
          await this.#catchUp();
          if (this.#error) this.#log.info({ revision: this.#revision }, 'database reachable again');
          this.#error = undefined;
        } catch (err) {
          const why = connectionProblem(err);
          if (!why) {
            this.#log.error({ err: messageOf(err) }, 'reading the change table failed');
            break;
          }
          if (!this.#error) this.#log.error({ err: why }, 'database unreachable; answering 503 until it returns');
          this.#error = `The region's database is unreachable (${why}); retry shortly.`;
          this.#waiters.wakeAll();
          break;
        }
      } while (this.#again && !this.#stopped);
    })();
    this.#refreshing = run.finally(() => {
      this.#refreshing = undefined;
    });
    return this.#refreshing;
  }

  #kick(): void {
    if (!this.#stopped) void this.#refresh();
  }

  /** Apply the revisions after the mirror's from `changes` (or reload whole when history does not reach back). */
  async #catchUp(): Promise<void> {
    const c = await this.#pool.connect();
    let full: boolean;
    let head: { revision: number; floor: number };
    let entries: Entry[];
    let rows: Array<{ system_id: string; body: WireNode }>;
    let settings: Array<{ name: string; body: unknown }> | undefined;
    const missing: string[] = [];
    try {
      // One consistent view: the revision, its change rows and the node bodies all as of the same moment.
      await c.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      const h = (await c.query<{ revision: string; floor: string }>('SELECT revision, floor FROM cluster_revision WHERE cluster = $1', [ROW])).rows[0]!;
      head = { revision: Number(h.revision), floor: Number(h.floor) };
      if (head.revision === this.#revision) {
        await c.query('COMMIT');
        c.release();
        return;
      }
      const from = this.#revision < 0 || this.#revision < head.floor ? head.floor : this.#revision;
      entries = (await c.query<{ revision: string; system_ids: string[]; removed: string[]; settings: boolean }>('SELECT revision, system_ids, removed, settings FROM changes WHERE revision > $1 ORDER BY revision', [from])).rows.map(
        (r) => ({ revision: Number(r.revision), changed: r.system_ids, removed: r.removed, settings: r.settings }),
      );
      full = from !== this.#revision || entries[0]?.revision !== from + 1 || entries.at(-1)?.revision !== head.revision;
      if (full) {
        rows = (await c.query<{ system_id: string; body: WireNode }>('SELECT system_id, body FROM nodes ORDER BY system_id')).rows;
        settings = (await c.query<{ name: string; body: unknown }>('SELECT name, body FROM cluster_settings')).rows;
      } else {
        const touched = new Set<string>();
        for (const e of entries) for (const id of [...e.changed, ...e.removed]) touched.add(id);
        rows = (await c.query<{ system_id: string; body: WireNode }>('SELECT system_id, body FROM nodes WHERE system_id = ANY($1)', [[...touched]])).rows;
        if (entries.some((e) => e.settings)) settings = (await c.query<{ name: string; body: unknown }>('SELECT name, body FROM cluster_settings')).rows;
        const found = new Set(rows.map((r) => r.system_id));
        for (const id of touched) if (!found.has(id)) missing.push(id);
      }
      await c.query('COMMIT');
    } catch (err) {
      await c.query('ROLLBACK').catch(() => undefined);
      c.release(connectionProblem(err) ? (err as Error) : undefined);
      throw err;
    }
    c.release();
    if (full) {
      this.#nodes = new Map();
      this.#entries = entries;
    } else this.#entries.push(...entries);
    for (const id of missing) this.#nodes.delete(id);
    for (const r of rows) this.#nodes.set(r.system_id, JSON.stringify(r.body));
    if (settings) {
      const byName = new Map(settings.map((s) => [s.name, s.body]));
      this.#config = (byName.get('config') as WireSnapshot['config'] | undefined) ?? DEFAULTS.config;
      this.#selections = (byName.get('boot_selections') as WireSelection[] | undefined) ?? [];
    } else if (this.#revision < 0) {
      this.#config = DEFAULTS.config;
    }
    this.#floor = head.floor;
    this.#revision = head.revision;
    const drop = this.#entries.findIndex((e) => e.revision > this.#floor);
    this.#entries.splice(0, drop < 0 ? this.#entries.length : drop);
    this.#waiters.wakeAll();
  }

  /** A dedicated connection that LISTENs; re-made (and re-LISTENed) with backoff whenever it drops. */
  #connectListener(): void {
    if (this.#stopped) return;
    const client = new pg.Client({ connectionString: this.#o.url, connectionTimeoutMillis: 5000 });
    let gone = false;
    const lost = (why: string) => {
      if (gone || this.#stopped) return;
      gone = true;
      if (this.#listener === client) this.#listener = undefined;
      client.end().catch(() => undefined);
      // Once per outage, not once per reconnect attempt.
      if (!this.#listenDown) this.#log.warn({ err: why }, 'LISTEN connection lost; reading the change table on the re-check until it is back');
      this.#listenDown = true;
      this.#listenTimer = setTimeout(() => this.#connectListener(), this.#listenBackoff);
      this.#listenBackoff = Math.min(this.#listenBackoff * 2, 5000);
    };
    client.on('error', (err) => lost(messageOf(err)));
    client.on('end', () => lost('connection ended'));
    client.on('notification', () => this.#kick());
    client
      .connect()
      .then(() => client.query(`LISTEN ${CHANNEL}`))
      .then(() => {
        if (this.#stopped) return void client.end().catch(() => undefined);
        this.#listener = client;
        this.#listenBackoff = 250;
        if (this.#listenDown) this.#log.info('LISTEN connection back');
        this.#listenDown = false;
        // Whatever was written while it was away is read now, not at the next re-check.
        this.#kick();
      })
      .catch((err: unknown) => lost(messageOf(err)));
  }

  // ---- writing ----

  #mapped(err: unknown): Error {
    if (err instanceof EdgebootError) return err;
    const conn = connectionProblem(err);
    if (conn) return new StoreUnavailable(`The region's database is unreachable (${conn}); retry shortly.`, { cause: err });
    const sql = sqlProblem(err);
    if (sql) return new EdgebootError('E_INVENTORY', sql, { cause: err });
    return err instanceof Error ? err : new Error(String(err));
  }

  /**
   * Run `fn` in one transaction that first takes the next revision (the row lock also puts the writes of
   * every replica in one order). When `fn` touched something, its change row is written and NOTIFY sent
   * in the same transaction; otherwise it is rolled back and the revision is not used.
   */
  async #write<T>(fn: (c: Db, tx: Tx) => Promise<T>): Promise<T> {
    let c: Db;
    try {
      c = await this.#pool.connect();
    } catch (err) {
      throw this.#mapped(err);
    }
    let out: T;
    let tx: Tx;
    try {
      await c.query('BEGIN');
      const head = (await c.query<{ revision: string }>('UPDATE cluster_revision SET revision = revision + 1 WHERE cluster = $1 RETURNING revision', [ROW])).rows[0]!;
      tx = { revision: Number(head.revision), changed: new Set(), removed: new Set(), settings: false };
      out = await fn(c, tx);
      if (tx.changed.size === 0 && tx.removed.size === 0 && !tx.settings) {
        await c.query('ROLLBACK');
        c.release();
        return out;
      }
      for (const id of tx.changed) tx.removed.delete(id);
      await c.query('INSERT INTO changes (revision, system_ids, removed, settings) VALUES ($1, $2, $3, $4)', [tx.revision, [...tx.changed], [...tx.removed], tx.settings]);
      const floor = tx.revision - this.#keep;
      await c.query('UPDATE cluster_revision SET floor = GREATEST(floor, $2) WHERE cluster = $1', [ROW, floor]);
      await c.query('DELETE FROM changes WHERE revision <= $1', [floor]);
      // Delivered at COMMIT, and only if it commits.
      if (this.#o.notify !== false) await c.query('SELECT pg_notify($1, $2)', [CHANNEL, String(tx.revision)]);
      await c.query('COMMIT');
    } catch (err) {
      await c.query('ROLLBACK').catch(() => undefined);
      c.release(connectionProblem(err) ? (err as Error) : undefined);
      throw this.#mapped(err);
    }
    c.release();
    // Read our own write back from the tables before answering, so the caller sees its revision served.
    await this.#refresh();
    return out;
  }

  /** Insert (or with `replace`, update) whole checked nodes and their MACs; records the ids that changed. */
  async #upsert(c: Db, tx: Tx, wires: WireNode[], replace: boolean): Promise<string[]> {
    const changed: string[] = [];
    for (let i = 0; i < wires.length; i += IMPORT_BATCH) {
      const batch = wires.slice(i, i + IMPORT_BATCH);
      const sql = replace
        ? `INSERT INTO nodes (system_id, body, revision) SELECT x->>'system_id', x, $2 FROM jsonb_array_elements($1::jsonb) x
           ON CONFLICT (system_id) DO UPDATE SET body = EXCLUDED.body, revision = EXCLUDED.revision WHERE nodes.body IS DISTINCT FROM EXCLUDED.body
           RETURNING system_id`
        : `INSERT INTO nodes (system_id, body, revision) SELECT x->>'system_id', x, $2 FROM jsonb_array_elements($1::jsonb) x
           ON CONFLICT (system_id) DO NOTHING RETURNING system_id`;
      const ids = (await c.query<{ system_id: string }>(sql, [JSON.stringify(batch), tx.revision])).rows.map((r) => r.system_id);
      changed.push(...ids);
    }
    if (changed.length === 0) return changed;
    const set = new Set(changed);
    const macs = wires.filter((w) => set.has(w.system_id)).flatMap((w) => w.macs.map((m) => [m, w.system_id] as const));
    await c.query('DELETE FROM node_macs WHERE system_id = ANY($1)', [changed]);
    for (let i = 0; i < macs.length; i += IMPORT_BATCH) {
      const part = macs.slice(i, i + IMPORT_BATCH);
      await c.query('INSERT INTO node_macs (mac, system_id) SELECT * FROM unnest($1::text[], $2::text[])', [part.map((p) => p[0]), part.map((p) => p[1])]);
    }
    for (const id of changed) tx.changed.add(id);
    return changed;
  }

  async #setSettings(c: Db, tx: Tx, config: WireSnapshot['config'], selections: WireSelection[]): Promise<void> {
    const r = await c.query(
      `INSERT INTO cluster_settings (name, body, revision) VALUES ('config', $1::jsonb, $3), ('boot_selections', $2::jsonb, $3)
       ON CONFLICT (name) DO UPDATE SET body = EXCLUDED.body, revision = EXCLUDED.revision WHERE cluster_settings.body IS DISTINCT FROM EXCLUDED.body`,
      [JSON.stringify(config), JSON.stringify(selections), tx.revision],
    );
    if ((r.rowCount ?? 0) > 0) tx.settings = true;
  }

  /** Inventory files into the database: nodes it does not hold are added (the database is the truth for the rest), settings replaced. */
  async #import(path: string): Promise<void> {
    const snapshot = await loadInventory(path);
    const wire = snapshotToWire(snapshot, '');
    const added = await this.#write(async (c, tx) => {
      const ids = await this.#upsert(c, tx, wire.nodes, false);
      await this.#setSettings(c, tx, wire.config, wire.boot_selections);
      return ids.length;
    });
    this.#log.info({ path, nodes: snapshot.nodes.length, added }, 'inventory imported into the database');
  }

  async #resolveIn(q: (sql: string, values: unknown[]) => Promise<pg.QueryResult>, ref: string): Promise<{ system_id: string; body: WireNode } | undefined> {
    const mac = tryParseMac(ref);
    if (mac) {
      const r = await q('SELECT n.system_id, n.body FROM node_macs m JOIN nodes n USING (system_id) WHERE m.mac = $1', [mac]);
      if (r.rows[0]) return r.rows[0] as { system_id: string; body: WireNode };
    }
    const byId = await q('SELECT system_id, body FROM nodes WHERE system_id = $1', [ref]);
    if (byId.rows[0]) return byId.rows[0] as { system_id: string; body: WireNode };
    const byName = await q("SELECT system_id, body FROM nodes WHERE body->>'hostname' = $1 ORDER BY system_id LIMIT 1", [ref.toLowerCase()]);
    return byName.rows[0] as { system_id: string; body: WireNode } | undefined;
  }

  async #read<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw this.#mapped(err);
    }
  }

  async putNodes(raws: unknown[]): Promise<string[]> {
    const wires = checkNodes(raws, 'the nodes given').map((c) => c.wire);
    return this.#write((c, tx) => this.#upsert(c, tx, wires, true));
  }

  removeNodes(refs: string[]): Promise<string[]> {
    return this.#write(async (c, tx) => {
      const ids = new Set<string>();
      for (const ref of refs) {
        const found = await this.#resolveIn((s, v) => c.query(s, v), ref);
        if (found) ids.add(found.system_id);
      }
      if (ids.size === 0) return [];
      const gone = (await c.query<{ system_id: string }>('DELETE FROM nodes WHERE system_id = ANY($1) RETURNING system_id', [[...ids]])).rows.map((r) => r.system_id);
      for (const id of gone) tx.removed.add(id);
      return gone;
    });
  }

  findNode(ref: string): Promise<Node | undefined> {
    return this.#read(async () => {
      const found = await this.#resolveIn((s, v) => this.#pool.query(s, v), ref);
      return found ? nodeOfWire(found.body) : undefined;
    });
  }

  nodeOfToken(t: PresentedToken): Promise<Node | undefined> {
    return this.#read(async () => {
      // The index narrows by token_key; every part is then compared in constant time as the file store does.
      const rows = (await this.#pool.query<{ body: WireNode }>("SELECT body FROM nodes WHERE body->'token'->>'token_key' = $1", [t.tokenKey])).rows;
      return nodeOfToken(
        rows.map((r) => nodeOfWire(r.body)),
        t,
      );
    });
  }

  listNodes(): Promise<Array<Omit<WireNode, 'token'>>> {
    return this.#read(async () => (await this.#pool.query<{ body: WireNode }>('SELECT body FROM nodes ORDER BY system_id')).rows.map((r) => withoutToken(r.body)));
  }

  addDiscovery(d: DiscoveryInput, cluster: string): Promise<{ created: boolean; systemId: string }> {
    return this.#write(async (c, tx) => {
      // The revision row lock taken by #write orders this against the same MAC reported on another replica.
      const known = await c.query<{ system_id: string }>('SELECT system_id FROM node_macs WHERE mac = $1', [d.mac]);
      if (known.rows[0]) return { created: false, systemId: known.rows[0].system_id };
      let systemId: string;
      do systemId = `d${randomBytes(4).toString('hex').slice(0, 6)}`;
      while ((await c.query('SELECT 1 FROM nodes WHERE system_id = $1', [systemId])).rowCount);
      const raw: Record<string, unknown> = { system_id: systemId, hostname: `new-${d.mac.replace(/:/g, '')}`, macs: [d.mac], arch: archOfDiscovery(d.arch), status: 'new' };
      const uuid = tryParseUuid(d.uuid ?? undefined);
      if (uuid && !(await c.query("SELECT 1 FROM nodes WHERE body->>'uuid' = $1", [uuid])).rowCount) raw.uuid = uuid;
      const [checked] = checkNodes([raw], 'the discovered node');
      await this.#upsert(c, tx, [checked!.wire], false);
      await c.query('INSERT INTO discoveries (mac, cluster, system_id, body) VALUES ($1, $2, $3, $4) ON CONFLICT (mac) DO NOTHING', [
        d.mac,
        cluster,
        systemId,
        JSON.stringify({ ip: d.ip ?? null, at: d.seen_at ?? new Date().toISOString(), uuid: d.uuid ?? null, arch: d.arch ?? null }),
      ]);
      this.#log.info({ mac: d.mac, systemId, cluster }, 'discovered machine added to the database as new');
      return { created: true, systemId };
    });
  }

  setStatus(ref: string, status: string, options: { reason?: string; from?: string } = {}): Promise<Node> {
    if (!(KNOWN_STATES as readonly string[]).includes(status)) {
      return Promise.reject(new EdgebootError('E_INVENTORY', `"${status}" is not a node state (${KNOWN_STATES.join(', ')})`));
    }
    return this.#write(async (c, tx) => {
      const found = await this.#resolveIn((s, v) => c.query(s, v), ref);
      if (!found) throw new EdgebootError('E_NOT_FOUND', `no node is known as ${ref}`);
      const body = found.body;
      // A retry of a change that already happened (on this or another replica) is answered as done.
      if (body.status === status && (options.reason === undefined || (body.status_reason ?? undefined) === options.reason)) return nodeOfWire(body);
      if (options.from && body.status !== options.from) throw new EdgebootError('E_BUSY', `node ${found.system_id} is ${body.status}, not ${options.from}`);
      const next: WireNode = { ...body, status };
      if (options.reason) next.status_reason = options.reason;
      else delete next.status_reason;
      await c.query('UPDATE nodes SET body = $2, revision = $3 WHERE system_id = $1', [found.system_id, JSON.stringify(next), tx.revision]);
      tx.changed.add(found.system_id);
      this.#log.info({ systemId: found.system_id, from: body.status, to: status }, 'node status changed');
      return nodeOfWire(next);
    });
  }

  addEvents(cluster: string, events: RegionBootEvent[]): Promise<number> {
    return this.#read(async () => {
      // The unique (cluster, event_id) index makes a batch retried on any replica land once.
      const r = await this.#pool.query(
        `INSERT INTO boot_events (cluster, event_id, body) SELECT $1, e->>'id', e FROM jsonb_array_elements($2::jsonb) WITH ORDINALITY AS t(e, i) ORDER BY i
         ON CONFLICT (cluster, event_id) WHERE event_id IS NOT NULL DO NOTHING`,
        [cluster, JSON.stringify(events)],
      );
      await this.#pool.query('DELETE FROM boot_events WHERE seq <= (SELECT max(seq) FROM boot_events) - $1', [MAX_KEPT]);
      return r.rowCount ?? 0;
    });
  }

  listEvents(): Promise<StoredEvent[]> {
    return this.#read(async () =>
      (await this.#pool.query<{ cluster: string; body: RegionBootEvent }>('SELECT cluster, body FROM (SELECT seq, cluster, body FROM boot_events ORDER BY seq DESC LIMIT $1) t ORDER BY seq', [MAX_KEPT])).rows.map(
        (r) => ({ cluster: r.cluster, event: r.body }),
      ),
    );
  }

  addReport(report: StoredReport): Promise<void> {
    return this.#read(async () => {
      await this.#pool.query('INSERT INTO install_reports (system_id, body) VALUES ($1, $2)', [report.system_id, JSON.stringify(report)]);
      await this.#pool.query('DELETE FROM install_reports WHERE seq <= (SELECT max(seq) FROM install_reports) - $1', [MAX_KEPT]);
    });
  }

  listReports(): Promise<StoredReport[]> {
    return this.#read(async () =>
      (await this.#pool.query<{ body: StoredReport }>('SELECT body FROM (SELECT seq, body FROM install_reports ORDER BY seq DESC LIMIT $1) t ORDER BY seq', [MAX_KEPT])).rows.map((r) => r.body),
    );
  }
}

/** The config and selections of an empty inventory: what a database without settings serves. */
const DEFAULTS = snapshotToWire(parseSnapshot({ nodes: [] }, 'defaults'), '');
