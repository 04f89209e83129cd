import type { Express } from 'express';
import { parseMac } from '../core/mac.js';
import { explainMac, type LoaderChoice, type LoaderFile } from '../observe/explain.js';
import { eventJson, summarise, summariseMac } from '../observe/node-summary.js';
import type { Renderer } from '../render/renderer.js';
import type { BootTimeline } from '../observe/timeline.js';
import type { NodeStore } from '../sync/nodes/index.js';
import { route } from './route.js';
import { renderNodePage, renderStatusPage } from './status-page.js';

/** Rows on one page of the status page. */
export const STATUS_PAGE_ROWS = 100;

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
  const summary = (limit: number, offset: number) =>
    summarise({ nodes: o.store.snapshot()?.nodes ?? [], byMac: (m) => o.store.byMac(m) }, o.timeline, Date.now(), limit, offset);
  const limitOf = (q: unknown, dflt: number) => Math.min(Math.max(Math.trunc(Number(q)) || dflt, 1), 100_000);
  const offsetOf = (q: unknown) => Math.max(Math.trunc(Number(q)) || 0, 0);

  app.get(
    '/api/v1/nodes',
    route('api-nodes', (req, res) => {
      res.set('Cache-Control', 'no-store').json(summary(limitOf(req.query.limit, 1000), offsetOf(req.query.offset)));
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
      // Paginated so a page view stays cheap at 50,000 MACs: `?page=N` (from 1), `limit` rows a page.
      const limit = limitOf(req.query.limit, STATUS_PAGE_ROWS);
      const page = Math.max(Math.trunc(Number(req.query.page)) || 1, 1);
      res
        .set('Cache-Control', 'no-store')
        .type('html')
        .send(renderStatusPage(summary(limit, (page - 1) * limit), o.store.status(), o.timeline.stageCounts()));
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
