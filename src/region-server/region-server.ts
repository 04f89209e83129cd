import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { EdgebootError } from '../core/errors.js';
import type { NodeStore } from '../sync/nodes/index.js';
import { createRegionApp } from './region-app.js';
import type { RegionBackend, RegionServerOptions, WireState } from './region-backend.js';
import type { RegionStore, StoredEvent, StoredReport } from './store/region-store.js';
import { YamlStore } from './store/yaml-store.js';
import { RegionTokens } from './tokens.js';

export { archOfDiscovery } from './store/discovery-node.js';

/** The reference region: serves the region API (docs/region-api.md) over a RegionStore (inventory files by default, or PostgreSQL). */
export class RegionServer implements RegionBackend {
  readonly tokens: RegionTokens;
  readonly data: RegionStore;
  readonly stats = { snapshotOk: 0, snapshotNotModified: 0, changesOk: 0, discoveries: 0, eventBatches: 0 };
  readonly #o: RegionServerOptions;
  #server: Server | undefined;

  constructor(options: RegionServerOptions, store?: RegionStore) {
    this.#o = options;
    this.tokens = new RegionTokens(options.tokensFile);
    if (store) this.data = store;
    else {
      if (!options.inventory) throw new EdgebootError('E_CONFIG', 'the region needs an inventory path or a database');
      this.data = new YamlStore({ inventory: options.inventory, log: options.log, watch: options.watch, stateDir: options.stateDir });
    }
  }

  get options(): RegionServerOptions {
    return this.#o;
  }

  /** The file-backed store's parsed nodes (tests and tools that read the YAML region in-process). */
  get store(): NodeStore {
    if (this.data instanceof YamlStore) return this.data.nodes;
    throw new EdgebootError('E_INTERNAL', 'this region keeps its nodes in PostgreSQL, not in an in-memory node store');
  }

  /** Boot events kept by the file-backed store (newest 10,000). */
  get events(): StoredEvent[] {
    if (this.data instanceof YamlStore) return this.data.events;
    throw new EdgebootError('E_INTERNAL', 'this region keeps its boot events in PostgreSQL; read them with listEvents()');
  }

  /** Install signals and reports kept by the file-backed store (newest 10,000). */
  get reports(): StoredReport[] {
    if (this.data instanceof YamlStore) return this.data.reports;
    throw new EdgebootError('E_INTERNAL', 'this region keeps its install reports in PostgreSQL; read them with listReports()');
  }

  /** Load the store (a bad first load throws), then listen; resolves with the bound port. */
  async start(): Promise<number> {
    await this.data.start();
    const app = createRegionApp(this, this.#o.log.child({ part: 'region-http' }));
    const server = this.#o.tls
      ? createHttpsServer({ cert: readFileSync(this.#o.tls.certFile), key: readFileSync(this.#o.tls.keyFile) }, app)
      : createHttpServer(app);
    this.#server = server;
    server.keepAliveTimeout = 75_000;
    server.requestTimeout = 0;
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(this.#o.port, this.#o.host, () => resolve());
      });
    } catch (err) {
      await this.data.stop();
      throw err;
    }
    const port = (server.address() as AddressInfo).port;
    this.#o.log.info({ host: this.#o.host, port, tls: Boolean(this.#o.tls), store: this.data.kind, nodes: this.data.head()?.nodes }, 'region listening');
    return port;
  }

  /** The snapshot being served, or undefined before the first good load. */
  current(): WireState | undefined {
    return this.data.current();
  }

  /** The body of `wire` gzip-compressed (racks ask for it: a 100,000-node snapshot is ≈ 33 MB as JSON). */
  gzipped(wire: WireState): Promise<Buffer> {
    const made = wire.gzipped ?? promisify(gzip)(wire.body, { level: 6 });
    wire.gzipped = made;
    return made;
  }

  /** Long polls being held right now. */
  get waiting(): number {
    return this.data.waiting;
  }

  /** Re-read tokens and the store's files (SIGHUP). */
  async reload(): Promise<void> {
    this.tokens.load();
    await this.data.reload();
  }

  /** Stop listening and drop held long polls (they see the connection close, as when the process dies). */
  async stop(): Promise<void> {
    const server = this.#server;
    if (server) {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    }
    await this.data.stop();
  }
}
