import type { Express } from 'express';
import { parseMac } from '../core/mac.js';
import { explainMac, type LoaderChoice } from '../observe/explain.js';
import { eventJson, summarise, summariseMac } from '../observe/node-summary.js';
import type { Renderer } from '../render/renderer.js';
import type { BootTimeline } from '../observe/timeline.js';
import type { NodeStore } from '../sync/nodes/index.js';
import { route } from './route.js';
import { renderNodePage, renderStatusPage } from './status-page.js';

/** What the status routes read. */
export interface StatusRouteOptions {
  store: NodeStore;
  timeline: BootTimeline;
  renderer: Renderer;
  /** The loader each DHCP client architecture would get (from the DHCP boot plan). */
  loaders: () => LoaderChoice[];
}

/** Read-only node API and status page; nothing here carries a token or a signed URL. */
export function addStatusRoutes(app: Express, o: StatusRouteOptions): void {
  const summary = (limit: number) => summarise(o.store.snapshot()?.nodes ?? [], o.timeline, Date.now(), limit);
  const limitOf = (q: unknown) => Math.min(Math.max(Number(q) || 1000, 1), 100_000);

  app.get(
    '/api/v1/nodes',
    route('api-nodes', (req, res) => {
      res.set('Cache-Control', 'no-store').json(summary(limitOf(req.query.limit)));
    }),
  );

  app.get(
    '/api/v1/nodes/:mac/timeline',
    route('api-timeline', (req, res) => {
      const mac = parseMac(String(req.params.mac));
      const row = summariseMac(mac, o.store.byMac(mac), o.timeline);
      res.set('Cache-Control', 'no-store').json({ ...row, events: o.timeline.events(mac).map(eventJson) });
    }),
  );

  app.get(
    '/api/v1/nodes/:mac/explain',
    route('api-explain', (req, res) => {
      const mac = parseMac(String(req.params.mac));
      res.set('Cache-Control', 'no-store').json(explainMac(mac, o.store.byMac(mac), o.renderer, o.timeline, o.loaders()));
    }),
  );

  app.get(
    '/',
    route('status', (req, res) => {
      res.set('Cache-Control', 'no-store').type('html').send(renderStatusPage(summary(limitOf(req.query.limit)), o.store.status()));
    }),
  );

  app.get(
    '/nodes/:mac',
    route('status-node', (req, res) => {
      const mac = parseMac(String(req.params.mac));
      const row = summariseMac(mac, o.store.byMac(mac), o.timeline);
      res.set('Cache-Control', 'no-store').type('html').send(renderNodePage(row, o.timeline.events(mac)));
    }),
  );
}
