import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';

// A small in-memory region with the delta feed (docs/region-api.md): snapshot with revision, /changes with
// long poll, 410 past its retention, 404 when built without a feed. For rack tests before (and beside) the
// reference region's own feed; every answer is real HTTP on 127.0.0.1.

type Raw = Record<string, unknown>;

/** One change the fake region can be made to send as it is (to test a bad delta). */
export type RawChanges = { revision: number; nodes_changed?: unknown[]; nodes_removed?: unknown[]; config?: unknown; boot_selections?: unknown[] };

/** The fake region and its controls. */
export interface FeedRegion {
  url: string;
  port: number;
  token: string;
  revision: number;
  /** Requests by kind, in order: `snapshot`, `changes?since=N`, `404`, … */
  requests: string[];
  /** Bytes of every changes body sent (uncompressed). */
  changeBytes: number[];
  snapshotBytes: number[];
  /** Add or replace a node (bumps the revision). */
  put(node: Raw): void;
  remove(systemId: string): void;
  /** Send this exact body as the next change (bumps the revision to its revision). */
  pushRaw(c: RawChanges): void;
  /** Forget changes up to the current revision (a later `since` below gets 410). */
  compact(): void;
  stop(): Promise<void>;
  start(): Promise<void>;
}

/** Start a fake region for cluster `rack-a` with `nodes`; `feed: false` makes /changes a 404 like an old region. */
export async function startFeedRegion(nodes: Raw[], options: { feed?: boolean; port?: number; token?: string } = {}): Promise<FeedRegion> {
  const token = options.token ?? 'rack-a-token-4f1c9e2d8b7a6c5e';
  const byId = new Map<string, Raw>(nodes.map((n) => [String(n.system_id), n]));
  // The change log: revision → the body to send for the step from revision-1.
  const log = new Map<number, RawChanges>();
  const rawRevs = new Set<number>();
  let floor = 0;
  const waiters = new Set<() => void>();
  const wake = () => {
    for (const w of waiters) w();
    waiters.clear();
  };
  const snapshotBody = () => JSON.stringify({ version: `v${r.revision}`, revision: r.revision, nodes: [...byId.values()], config: {}, boot_selections: [] });
  const changesSince = (since: number) => {
    const changed = new Map<string, unknown>();
    const removed = new Set<string>();
    for (let v = since + 1; v <= r.revision; v++) {
      const c = log.get(v);
      if (!c) continue;
      // A raw change is sent exactly as it was given.
      if (rawRevs.has(v)) return { ...c, revision: r.revision };
      for (const n of c.nodes_changed ?? []) {
        const id = String((n as Raw).system_id);
        removed.delete(id);
        changed.set(id, n);
      }
      for (const id of c.nodes_removed ?? []) {
        changed.delete(String(id));
        removed.add(String(id));
      }
    }
    return { revision: r.revision, nodes_changed: [...changed.values()], nodes_removed: [...removed] };
  };
  const send = (req: IncomingMessage, res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}) => {
    const gz = /gzip/.test(String(req.headers['accept-encoding'] ?? ''));
    const data = gz ? gzipSync(body) : Buffer.from(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': String(data.length), ...(gz ? { 'content-encoding': 'gzip' } : {}), ...headers });
    res.end(data);
  };
  const hold = (seconds: number, ready: () => boolean) =>
    new Promise<void>((resolve) => {
      if (ready() || seconds <= 0) return resolve();
      const timer = setTimeout(done, seconds * 1000);
      function done() {
        clearTimeout(timer);
        waiters.delete(done);
        resolve();
      }
      waiters.add(done);
    });
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const u = new URL(req.url ?? '/', 'http://x');
    if (req.headers.authorization !== `Bearer ${token}`) return send(req, res, 401, '{"error":"unauthorized"}');
    const wait = Math.min(30, Number(u.searchParams.get('wait') ?? 0) || 0);
    if (u.pathname === '/api/v1/clusters/rack-a/snapshot') {
      r.requests.push('snapshot');
      const tag = `"v${r.revision}"`;
      if (req.headers['if-none-match'] === tag) {
        const at = r.revision;
        await hold(wait, () => r.revision !== at);
        if (r.revision === at) {
          res.writeHead(304, { etag: tag });
          return res.end();
        }
      }
      const body = snapshotBody();
      r.snapshotBytes.push(body.length);
      return send(req, res, 200, body, { etag: `"v${r.revision}"`, 'x-edgeboot-revision': String(r.revision) });
    }
    if (u.pathname === '/api/v1/clusters/rack-a/changes') {
      if (options.feed === false) {
        r.requests.push('404');
        return send(req, res, 404, '{"error":"not found"}');
      }
      const since = Number(u.searchParams.get('since'));
      r.requests.push(`changes?since=${since}`);
      if (!Number.isInteger(since) || since < floor || since > r.revision) return send(req, res, 410, '{"error":"gone: re-list"}');
      await hold(wait, () => r.revision > since);
      if (since < floor) return send(req, res, 410, '{"error":"gone: re-list"}');
      const body = JSON.stringify(changesSince(since));
      r.changeBytes.push(body.length);
      return send(req, res, 200, body);
    }
    if (req.method === 'POST') {
      req.resume();
      return send(req, res, 204, '');
    }
    return send(req, res, 404, '{"error":"not found"}');
  };
  let server: Server | undefined;
  const r: FeedRegion = {
    url: '',
    port: options.port ?? 0,
    token,
    revision: 1,
    requests: [],
    changeBytes: [],
    snapshotBytes: [],
    put(node) {
      byId.set(String(node.system_id), node);
      log.set(++r.revision, { revision: r.revision, nodes_changed: [node] });
      wake();
    },
    remove(id) {
      byId.delete(id);
      log.set(++r.revision, { revision: r.revision, nodes_removed: [id] });
      wake();
    },
    pushRaw(c) {
      r.revision = c.revision;
      rawRevs.add(c.revision);
      log.set(c.revision, c);
      wake();
    },
    compact() {
      floor = r.revision;
    },
    async start() {
      server = createServer((req, res) => void handle(req, res).catch(() => res.destroy()));
      await new Promise<void>((resolve) => server!.listen(r.port, '127.0.0.1', resolve));
      r.port = (server.address() as AddressInfo).port;
      r.url = `http://127.0.0.1:${r.port}`;
    },
    async stop() {
      wake();
      server?.closeAllConnections();
      await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    },
  };
  await r.start();
  return r;
}
