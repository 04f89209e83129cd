import express, { type Express, type Request, type Response } from 'express';
import type { Logger } from 'pino';
import type { BootService } from '../boot/boot-service.js';
import { REFUSAL_MESSAGES } from '../core/capability.js';
import { EdgebootError, hasCode } from '../core/errors.js';
import { type MacAddress, parseMac } from '../core/mac.js';
import type { MetricsRegistry } from '../core/metrics.js';
import { type SystemUuid, parseUuid } from '../core/uuid.js';
import { type BootFile, resolveBootFile } from '../files/boot-files.js';
import type { OpenFiles } from '../files/open-files.js';
import { CONTENT_TYPES, type Kind } from '../render/kinds.js';
import { classifyFile } from '../observe/classify.js';
import type { LoaderChoice, LoaderFile } from '../observe/explain.js';
import type { BootTimeline } from '../observe/timeline.js';
import type { Renderer } from '../render/renderer.js';
import type { NodeStore } from '../sync/nodes/index.js';
import { errorHandler, sendSentence } from './errors.js';
import { type HttpMetrics, httpMetrics } from './http-metrics.js';
import { requestLogger } from './request-log.js';
import { route } from './route.js';
import { addStatusRoutes } from './status-routes.js';

/** What the HTTP app is composed from. */
export interface HttpAppOptions {
  boot: BootService;
  store: NodeStore;
  log: Logger;
  metrics: MetricsRegistry;
  bootRoot: string;
  loaderDirs: readonly string[];
  maxStreams: number;
  /** Boot timelines for the node API and status page. */
  timeline: BootTimeline;
  /** Files being sent, so image sync never removes one mid-transfer. */
  openFiles?: OpenFiles;
  /** The renderer, for the explain API. */
  renderer: Renderer;
  /** The loader each DHCP client architecture would get, for the explain API. */
  loaders: () => LoaderChoice[];
  /** Which file each loader name resolves to (for `explain`). */
  loaderFiles?: (names: string[]) => Promise<LoaderFile[]>;
  /** Extra facts for /healthz (template errors, inventory errors, region state). */
  health?: () => Record<string, unknown>;
  /** True once a graceful stop began: running transfers finish, new requests are told to come back. */
  draining?: () => boolean;
}

const ANSWER_FILES: Record<string, Kind> = { preseed: 'preseed', 'user-data': 'user-data', 'meta-data': 'meta-data' };


function one(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/** Build the express app: boot scripts, answer files, static boot files, health and metrics. */
export function createHttpApp(o: HttpAppOptions): Express {
  const m: HttpMetrics = httpMetrics(o.metrics);
  let activeStreams = 0;
  o.metrics.gauge('edgeboot_http_active_streams', 'File streams in progress.', () => activeStreams);
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', 'simple');
  app.use(requestLogger(o.log, m.requests, m.latency));
  app.use((_req, res, next) => {
    if (!o.draining?.()) return next();
    // A request on a kept-alive connection during a stop starts nothing and closes the connection.
    res.locals.route = 'draining';
    res.set('Connection', 'close').set('Retry-After', '5');
    sendSentence(res, 503, 'edgeboot is shutting down; retry in a few seconds.');
  });

  const renderScript = async (req: Request, res: Response, kind: Kind, mac?: MacAddress, uuid?: SystemUuid) => {
    const started = process.hrtime.bigint();
    try {
      const answer = await o.boot.render({
        kind,
        mac,
        uuid,
        buildarch: one(req.query.buildarch),
        clientIp: req.socket.remoteAddress ?? '',
        localAddress: req.socket.localAddress ?? '',
        via: 'http',
      });
      m.render.observe(Number(process.hrtime.bigint() - started) / 1e9, { kind });
      res.locals.logFields = { mac, purpose: answer.decision?.purpose, template: answer.template?.origin };
      res.status(200).type(CONTENT_TYPES[kind]).set('Cache-Control', 'no-store').send(answer.text);
    } catch (err) {
      m.renderFailures.inc({ kind });
      throw err;
    }
  };

  app.get(
    '/boot.ipxe',
    route('boot.ipxe', (req, res) => {
      res.type(CONTENT_TYPES.ipxe).set('Cache-Control', 'no-store').send(o.boot.entryScript(req.socket.localAddress ?? ''));
    }),
  );

  app.get(
    '/ipxe/node/:mac',
    route('ipxe-node', async (req, res) => {
      const mac = parseMac(String(req.params.mac));
      const uuidRaw = one(req.query.uuid);
      const uuid = uuidRaw ? tryUuid(uuidRaw) : undefined;
      await renderScript(req, res, 'ipxe', mac, uuid);
    }),
  );

  app.get(
    '/ipxe_config',
    route('ipxe_config', async (req, res) => {
      const mac = one(req.query.port_address);
      const uuid = one(req.query.node_uuid);
      if (!mac && !uuid) {
        sendSentence(res, 400, 'Give node_uuid=<uuid> or port_address=<mac>.');
        return;
      }
      await renderScript(req, res, 'ipxe', mac ? parseMac(mac) : undefined, uuid ? parseUuid(uuid) : undefined);
    }),
  );

  app.get(
    '/answers/:mac/:cap/:file',
    route('answers', async (req, res) => {
      const kind = ANSWER_FILES[String(req.params.file)];
      if (String(req.params.file) === 'vendor-data') {
        res.type('text/plain').set('Cache-Control', 'no-store').send('');
        return;
      }
      if (!kind) {
        sendSentence(res, 404, 'Answer files are preseed, user-data, meta-data and vendor-data.');
        return;
      }
      const mac = parseMac(String(req.params.mac));
      const refusal = await o.boot.verifyAnswer(mac, String(req.params.cap), req.socket.remoteAddress ?? '');
      if (refusal) {
        m.answersRefused.inc({ reason: refusal });
        res.locals.logFields = { mac, refused: refusal };
        sendSentence(res, 403, REFUSAL_MESSAGES[refusal]);
        return;
      }
      await renderScript(req, res, kind, mac);
    }),
  );

  app.get(
    '/healthz',
    route('healthz', (_req, res) => {
      const status = o.store.status();
      const body = { ready: status.loaded, snapshot: status, ...(o.health?.() ?? {}) };
      res.status(status.loaded ? 200 : 503).json(body);
    }),
  );

  app.get(
    '/metrics',
    route('metrics', async (_req, res) => {
      res.type('text/plain; version=0.0.4').send(await o.metrics.expose());
    }),
  );

  addStatusRoutes(app, { store: o.store, timeline: o.timeline, renderer: o.renderer, loaders: o.loaders, loaderFiles: o.loaderFiles });

  // Static boot files and virtual (rendered) files for HTTP-capable loaders (lpxelinux, GRUB http).
  app.use(
    route('file', async (req, res, next) => {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        sendSentence(res, 405, 'edgeboot serves files read-only: use GET or HEAD.');
        return;
      }
      let name: string;
      try {
        name = decodeURIComponent(req.path);
      } catch {
        sendSentence(res, 400, 'The request path is not valid percent-encoding.');
        return;
      }
      const ctx = { clientIp: req.socket.remoteAddress ?? '', localAddress: req.socket.localAddress ?? '', via: 'http' as const };
      let file: BootFile;
      try {
        const virtual = await o.boot.virtualFile(name, ctx);
        if (virtual) {
          res.locals.route = 'virtual';
          res.type('text/plain; charset=utf-8').set('Cache-Control', 'no-store').send(virtual.text);
          return;
        }
        file = await resolveBootFile(name, { root: o.bootRoot, loaderDirs: o.loaderDirs });
      } catch (err) {
        if (hasCode(err, 'E_NOT_FOUND')) noteMiss(name, ctx.clientIp, res);
        throw err;
      }
      if (activeStreams >= o.maxStreams) {
        m.streamsBusy.inc();
        res.set('Retry-After', '5');
        sendSentence(res, 503, 'edgeboot is serving its maximum number of file streams; retry in a few seconds.');
        return;
      }
      activeStreams++;
      const closeFile = o.openFiles?.open(file.path);
      let released = false;
      const release = () => {
        if (!released) {
          released = true;
          activeStreams--;
          closeFile?.();
        }
      };
      res.on('close', release);
      res.locals.logFields = { file: file.from === 'loader' ? file.path : undefined, size: file.size };
      const started = Date.now();
      res.sendFile(file.path, { dotfiles: 'allow', acceptRanges: true, lastModified: true, etag: true, cacheControl: false }, (err) => {
        release();
        if (req.method === 'GET') {
          o.boot.recordFile(req.socket.remoteAddress ?? '', {
            stage: classifyFile(name),
            via: 'http',
            detail: name.slice(0, 120),
            bytes: Number(res.getHeader('content-length') ?? 0),
            ms: Date.now() - started,
            outcome: err ? 'aborted' : 'ok',
          });
        }
        if (err && !res.headersSent) next(err);
      });
    }),
  );

  app.use(errorHandler);
  return app;
  /**
   * A file that does not exist: the request's log line becomes "file not found" (info) and the miss goes
   * on the timeline; shim's optional probes and config-search names are expected, logged at debug.
   */
  function noteMiss(name: string, clientIp: string, res: Response): void {
    const { level, detail } = o.boot.noteMiss(clientIp, name, 'http');
    res.locals.logMessage = 'file not found';
    res.locals.logLevel = level;
    res.locals.logFields = { proto: 'http', file: detail };
  }

}

function tryUuid(raw: string): SystemUuid | undefined {
  try {
    return parseUuid(raw);
  } catch (err) {
    // iPXE expands ${uuid} to nothing on machines without SMBIOS; that is not an error.
    if (err instanceof EdgebootError) return undefined;
    throw err;
  }
}

