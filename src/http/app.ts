import express from 'express';
import type { RequestListener } from 'node:http';
import type { Logger } from 'pino';
import type { BootService } from '../boot/boot-service.js';
import type { MetricsRegistry } from '../core/metrics.js';
import type { OpenFiles } from '../files/open-files.js';
import type { LoaderChoice, LoaderFile } from '../observe/explain.js';
import type { BootTimeline } from '../observe/timeline.js';
import type { Renderer } from '../render/renderer.js';
import type { NodeStore } from '../sync/nodes/index.js';
import { createBootDispatcher } from './boot-dispatch.js';
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
  /** Whole boot files held in memory for sending; none when absent. */
  fileCache?: { maxTotalBytes: number; maxFileBytes: number };
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

/**
 * The HTTP edge's request listener: boot scripts, answer files and boot files go to plain route functions
 * on node:http (src/http/routes); the status page, /api/v1/…, /metrics and /healthz to an express app.
 */
export function createHttpApp(o: HttpAppOptions): RequestListener {
  const m: HttpMetrics = httpMetrics(o.metrics);
  // Read at scrape time from the renderer's cache (src/render/render-cache.ts).
  o.metrics.gauge('edgeboot_render_cache_entries', 'Rendered boot scripts held in memory.', () => o.renderer.cacheStats().entries);
  o.metrics.gauge('edgeboot_render_cache_hits', 'Boot script renders answered from memory since start.', () => o.renderer.cacheStats().hits);
  o.metrics.gauge('edgeboot_render_cache_misses', 'Boot script renders that ran a template since start.', () => o.renderer.cacheStats().misses);
  const management = createManagementApp(o, m);
  return createBootDispatcher({
    deps: { boot: o.boot, metrics: m, bootRoot: o.bootRoot, loaderDirs: o.loaderDirs },
    log: o.log,
    registry: o.metrics,
    metrics: m,
    maxStreams: o.maxStreams,
    cache: o.fileCache,
    openFiles: o.openFiles,
    draining: o.draining,
    fallback: management,
  });
}

/** The express app for management paths: health, metrics, status page and API. */
function createManagementApp(o: HttpAppOptions, m: HttpMetrics): express.Express {
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

  // Any other management-looking path (an unknown /api/… call) gets the same one-sentence 404.
  app.use(route('other', (_req, res) => sendSentence(res, 404, 'No such management path; see /api/v1/nodes.')));
  app.use(errorHandler);
  return app;
}

