import type { Express } from 'express';
import { parseMac } from '../core/mac.js';
import { explainMac, type LoaderChoice, type LoaderFile } from '../observe/explain.js';
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
  /** Which file each of those loader names resolves to. */
  loaderFiles?: (names: string[]) => Promise<LoaderFile[]>;
}

/** The TFTP file names the plan hands out, plus what shim asks for next (GRUB, MokManager) when it is one of them. */
function loaderNames(loaders: LoaderChoice[]): string[] {
  const names = loaders.map((l) => l.filename.split('/').pop()!).filter((n) => n && !n.includes(' ') && n !== 'boot.ipxe');
  for (const [shim, follow] of [['shimx64.efi', ['grubx64.efi', 'mmx64.efi']], ['shimaa64.efi', ['grubaa64.efi', 'mmaa64.efi']]] as const) {
    if (names.includes(shim)) names.push(...follow);
  }
  return [...new Set(names)];
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
    route('api-explain', async (req, res) => {
      const mac = parseMac(String(req.params.mac));
      const loaders = o.loaders();
      const files = o.loaderFiles ? await o.loaderFiles(loaderNames(loaders)) : [];
      res.set('Cache-Control', 'no-store').json(explainMac(mac, o.store.byMac(mac), o.renderer, o.timeline, loaders, files));
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
