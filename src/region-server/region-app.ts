import { realpath, stat } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import type { Logger } from 'pino';
import { z } from 'zod';
import { EdgebootError, messageOf } from '../core/errors.js';
import { printable, tryParseMac } from '../core/mac.js';
import { KNOWN_STATES } from '../core/node.js';
import { bootEventsBodySchema, discoveryBodySchema, printableLine, REVISION_HEADER, type RegionBootEvent } from '../contract/index.js';
import { type InstallSignal, parseOAuthPlaintext, readReport, readSignal, transitionFor } from './install-signal.js';
import type { RegionBackend } from './region-backend.js';
import { StoreUnavailable } from './store/store-errors.js';

const gzipBody = promisify(gzip);

// A database restart takes a few seconds; a rack retries with its own backoff anyway.
const RETRY_AFTER_SECONDS = 5;

type Handler = (req: Request, res: Response) => Promise<void> | void;

const statusSchema = z.object({ status: z.string().regex(/^[a-z_]+$/), reason: printableLine.optional() });

function parseJson(body: unknown): unknown {
  try {
    return typeof body === 'string' && body ? JSON.parse(body) : undefined;
  } catch {
    return undefined;
  }
}

function say(res: Response, status: number, sentence: string): void {
  res.status(status).type('text/plain; charset=utf-8').set('Cache-Control', 'no-store').send(`${sentence}\n`);
}

const AUTH_SENTENCES: Record<number, string> = {
  401: 'This region does not accept that token for this cluster.',
  403: 'That token belongs to another cluster.',
  404: 'This region does not know that cluster.',
};

/** Express app of the reference region: the API of docs/region-api.md over a RegionBackend. */
export function createRegionApp(region: RegionBackend, log: Logger): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', 'simple');

  const route =
    (fn: Handler) =>
    async (req: Request, res: Response, next: NextFunction): Promise<void> => {
      try {
        await fn(req, res);
      } catch (err) {
        next(err);
      }
    };

  // One debug line per request: method, path without query, status. The Authorization header is never logged.
  app.use((req, res, next) => {
    const started = Date.now();
    res.on('finish', () => log.debug({ method: req.method, path: req.path, status: res.statusCode, ms: Date.now() - started }, 'region request'));
    const bad = region.tokens.refresh();
    if (bad) log.error({ err: bad }, 'tokens file rejected; keeping the previous tokens');
    next();
  });

  // A store that cannot answer (its database is down) gets one sentence and Retry-After, per request.
  const unavailable = (res: Response): boolean => {
    const why = region.data.unavailable();
    if (!why) return false;
    res.set('Retry-After', String(RETRY_AFTER_SECONDS));
    say(res, 503, why);
    return true;
  };

  const cluster = (req: Request, res: Response): string | undefined => {
    const id = String(req.params.id);
    const result = region.tokens.checkCluster(id, req.get('authorization'));
    if (result === 200) return id;
    say(res, result, AUTH_SENTENCES[result]!);
    return undefined;
  };

  app.get(
    '/api/v1/clusters/:id/snapshot',
    route(async (req, res) => {
      if (!cluster(req, res)) return;
      if (unavailable(res)) return;
      let cur = region.data.current();
      if (!cur) return say(res, 503, 'The region has not loaded a valid inventory yet.');
      const wait = Math.min(Math.max(Number.parseInt(String(req.query.wait ?? '0'), 10) || 0, 0), region.options.maxWaitSeconds ?? 60);
      if (req.get('if-none-match') === cur.etag) {
        if (wait > 0) {
          const w = region.data.waitForChange(cur.etag, wait * 1000);
          res.on('close', w.cancel);
          const changed = await w.changed;
          if (res.destroyed || unavailable(res)) return;
          cur = region.data.current()!;
          if (!changed) {
            region.stats.snapshotNotModified++;
            res.status(304).set({ ETag: cur.etag, [REVISION_HEADER]: String(cur.revision) }).end();
            return;
          }
        } else {
          region.stats.snapshotNotModified++;
          res.status(304).set({ ETag: cur.etag, [REVISION_HEADER]: String(cur.revision) }).end();
          return;
        }
      }
      region.stats.snapshotOk++;
      res.status(200).type('application/json').set({ ETag: cur.etag, [REVISION_HEADER]: String(cur.revision), 'Cache-Control': 'no-store', Vary: 'Accept-Encoding' });
      if (req.acceptsEncodings('gzip', 'identity') === 'gzip') res.set('Content-Encoding', 'gzip').send(await region.gzipped(cur));
      else res.send(cur.body);
    }),
  );

  app.get(
    '/api/v1/clusters/:id/changes',
    route(async (req, res) => {
      if (!cluster(req, res)) return;
      if (unavailable(res)) return;
      if (!region.data.head()) return say(res, 503, 'The region has not loaded a valid inventory yet.');
      const sinceText = String(req.query.since ?? '');
      if (!/^\d{1,15}$/.test(sinceText)) return say(res, 400, 'The changes feed needs ?since=<revision>, a whole number from a snapshot or changes answer.');
      const waitText = String(req.query.wait ?? '0');
      if (!/^\d{1,6}$/.test(waitText)) return say(res, 400, 'The wait parameter must be a whole number of seconds.');
      const since = Number(sinceText);
      const wait = Math.min(Number(waitText), region.options.maxWaitSeconds ?? 60);
      let answer = await region.data.changesSince(since);
      if (!('gone' in answer) && answer.revision === since && wait > 0) {
        const w = region.data.waitForRevision(since, wait * 1000);
        res.on('close', w.cancel);
        await w.changed;
        if (res.destroyed || unavailable(res)) return;
        answer = await region.data.changesSince(since);
      }
      res.set({ 'Cache-Control': 'no-store', [REVISION_HEADER]: String(answer.revision) });
      if ('gone' in answer) {
        return say(
          res,
          410,
          answer.gone === 'ahead'
            ? `Revision ${since} is ahead of this region's ${answer.revision}; re-list through the snapshot.`
            : `Revision ${since} is older than the history this region keeps; re-list through the snapshot.`,
        );
      }
      region.stats.changesOk++;
      const body = Buffer.from(JSON.stringify(answer));
      res.status(200).type('application/json');
      if (body.length > 8192 && req.acceptsEncodings('gzip', 'identity') === 'gzip') res.set({ 'Content-Encoding': 'gzip', Vary: 'Accept-Encoding' }).send(await gzipBody(body));
      else res.send(body);
    }),
  );

  app.post(
    '/api/v1/clusters/:id/discoveries',
    express.json({ limit: '16kb' }),
    route(async (req, res) => {
      const id = cluster(req, res);
      if (!id) return;
      const r = discoveryBodySchema.safeParse(req.body);
      if (!r.success) return say(res, 400, `The discovery is invalid: ${r.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; ')}.`);
      const result = await region.data.addDiscovery({ ...r.data, mac: tryParseMac(r.data.mac)! }, id);
      if (result.created) region.stats.discoveries++;
      res.status(result.created ? 201 : 200).json({ status: result.created ? 'created' : 'known', system_id: result.systemId });
    }),
  );

  app.post(
    '/api/v1/clusters/:id/events',
    express.json({ limit: '8mb' }),
    route(async (req, res) => {
      const id = cluster(req, res);
      if (!id) return;
      const r = bootEventsBodySchema.safeParse(req.body);
      if (!r.success) return say(res, 400, 'The events body must be {"events":[{"mac","system_id","kind","detail","at"}]} of printable fields.');
      const added = await region.data.addEvents(id, r.data.events as RegionBootEvent[]);
      region.stats.eventBatches++;
      res.status(202).json({ accepted: r.data.events.length, duplicates: r.data.events.length - added });
    }),
  );

  app.get(
    '/api/v1/boot-resources/*path',
    route(async (req, res) => {
      if (!region.tokens.anyKnown(req.get('authorization'))) return say(res, 401, AUTH_SENTENCES[401]!);
      const root = region.options.resources;
      if (!root) return say(res, 404, 'This region serves no boot resources (start it with --resources DIR).');
      const segs = ([] as string[]).concat(req.params.path as unknown as string[]);
      if (segs.some((s) => s === '..' || s === '' || /[\x00-\x1f\\]/.test(s))) return say(res, 400, 'That boot resource path is not allowed.');
      let file: string;
      try {
        const realRoot = await realpath(root);
        file = await realpath(join(realRoot, ...segs));
        if (!file.startsWith(realRoot + sep) || !(await stat(file)).isFile()) throw new Error('outside');
      } catch {
        return say(res, 404, 'No such boot resource.');
      }
      await new Promise<void>((resolve, reject) =>
        res.sendFile(file, { acceptRanges: true, dotfiles: 'deny', cacheControl: false }, (err) => (err && !res.headersSent ? reject(err) : resolve())),
      );
    }),
  );

  const admin = (req: Request, res: Response): boolean => {
    if (region.tokens.isAdmin(req.get('authorization'))) return true;
    say(res, 401, 'The admin API needs the admin token of the tokens file.');
    return false;
  };

  app.get(
    '/api/v1/admin/nodes',
    route(async (req, res) => {
      if (admin(req, res)) res.json({ nodes: await region.data.listNodes() });
    }),
  );

  app.get(
    '/api/v1/admin/events',
    route(async (req, res) => {
      if (admin(req, res)) res.json({ events: await region.data.listEvents() });
    }),
  );

  const changeStatus = (approve: boolean) =>
    route(async (req, res) => {
      if (!admin(req, res)) return;
      let status = 'commissioning';
      let reason: string | undefined;
      if (!approve) {
        const r = statusSchema.safeParse(req.body);
        if (!r.success) return say(res, 400, 'The body must be {"status": "<state>", "reason": "<printable text>"}.');
        if (!(KNOWN_STATES as readonly string[]).includes(r.data.status)) {
          return say(res, 400, `"${r.data.status}" is not a node state (${KNOWN_STATES.join(', ')}).`);
        }
        status = r.data.status;
        reason = r.data.reason;
      }
      const node = await region.data.setStatus(String(req.params.ref), status, { reason, from: approve ? 'new' : undefined });
      res.json({ system_id: node.systemId, hostname: node.hostname, status: node.status });
    });
  app.post('/api/v1/admin/nodes/:ref/approve', changeStatus(true));
  app.put(
    '/api/v1/admin/nodes',
    express.json({ limit: '64mb' }),
    route(async (req, res) => {
      if (!admin(req, res)) return;
      const nodes = (req.body as { nodes?: unknown } | undefined)?.nodes;
      if (!Array.isArray(nodes) || nodes.length === 0) return say(res, 400, 'The body must be {"nodes": [<whole node>, …]} with at least one node.');
      const changed = await region.data.putNodes(nodes);
      res.json({ changed, revision: region.data.revision });
    }),
  );
  app.delete(
    '/api/v1/admin/nodes/:ref',
    route(async (req, res) => {
      if (!admin(req, res)) return;
      const removed = await region.data.removeNodes([String(req.params.ref)]);
      if (removed.length === 0) return say(res, 404, `No node is known as ${printable(String(req.params.ref))}.`);
      res.json({ removed, revision: region.data.revision });
    }),
  );
  app.post('/api/v1/admin/nodes/:ref/status', express.json({ limit: '4kb' }), changeStatus(false));

  // The installer's side (docs/region-api.md, "Install signal"): authenticated by the node's own token only.
  const installSignal = (read: (req: Request) => InstallSignal) =>
    route(async (req, res) => {
      const presented = parseOAuthPlaintext(req.get('authorization'));
      const node = presented && (await region.data.nodeOfToken(presented));
      if (!node) return say(res, 401, 'The signal needs the OAuth PLAINTEXT header of a node token this region knows.');
      if (req.params.systemId !== undefined && req.params.systemId !== node.systemId) return say(res, 403, 'That token belongs to another node.');
      let signal: InstallSignal;
      try {
        signal = read(req);
      } catch (err) {
        return say(res, 400, messageOf(err));
      }
      const at = new Date().toISOString();
      await region.data.addReport({ system_id: node.systemId, at, ...signal });
      const t = transitionFor(node, signal);
      if (!t.to) return say(res, 200, `OK: ${t.note}.`);
      const after = await region.data.setStatus(node.systemId, t.to, { reason: t.reason, from: 'deploying' }).catch(async (err: unknown) => {
        // A concurrent repeat of the same signal got there first: the result is what was asked, so it is OK.
        const now = await region.data.findNode(node.systemId);
        if (now && now.status === t.to) return now;
        throw err;
      });
      log.info({ systemId: node.systemId, status: after.status, signal: signal.kind }, 'install signal applied');
      say(res, 200, `OK: ${t.note}.`);
    });
  const metadataRoots = ['/MAAS/metadata', '/metadata'];
  app.post(
    metadataRoots.map((r) => `${r}/latest/`),
    express.urlencoded({ extended: false, limit: '16kb' }),
    installSignal((req) => readSignal(req.query as Record<string, unknown>, req.body)),
  );
  app.post(
    metadataRoots.map((r) => `${r}/status/:systemId`),
    // cloud-init's webhook reporter posts JSON without a JSON content type: read any body as text.
    express.text({ type: () => true, limit: '64kb' }),
    installSignal((req) => readReport(parseJson(req.body))),
  );
  app.get(
    '/api/v1/admin/install-reports',
    route(async (req, res) => {
      if (admin(req, res)) res.json({ reports: await region.data.listReports() });
    }),
  );

  app.get('/healthz', (_req, res) => {
    const down = region.data.unavailable();
    const cur = down ? undefined : region.data.head();
    res
      .status(cur ? 200 : 503)
      .json({ ready: Boolean(cur), store: region.data.kind, error: down ?? null, version: cur?.version ?? null, revision: cur?.revision ?? null, nodes: cur?.nodes ?? 0, waiting: region.data.waiting });
  });

  app.use((_req: Request, res: Response) => say(res, 404, 'No such region API endpoint.'));
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    if (res.headersSent) return;
    const status = (err as { status?: number }).status;
    if (status && status >= 400 && status < 500) return say(res, status, 'The request body is not valid JSON.');
    if (err instanceof StoreUnavailable) {
      res.set('Retry-After', String(RETRY_AFTER_SECONDS));
      return say(res, 503, err.message);
    }
    if (err instanceof EdgebootError) {
      const code = err.code === 'E_NOT_FOUND' ? 404 : err.code === 'E_BUSY' ? 409 : err.code === 'E_SNAPSHOT' || err.code === 'E_INVENTORY' ? 422 : 500;
      return say(res, code, err.message);
    }
    log.error({ err: messageOf(err) }, 'region request failed');
    say(res, 500, 'The region failed to handle the request; see its log.');
  });
  return app;
}
