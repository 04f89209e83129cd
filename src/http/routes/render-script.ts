import type { BootService } from '../../boot/boot-service.js';
import type { MacAddress } from '../../core/mac.js';
import type { SystemUuid } from '../../core/uuid.js';
import { CONTENT_TYPES, KINDS, type Kind } from '../../render/kinds.js';
import type { HttpMetrics } from '../http-metrics.js';
import { type RouteAnswer, type RouteRequest, oneParam } from './types.js';

/** The headers of a rendered answer, by kind: built once, shared by every answer (never modified). */
const SCRIPT_HEADERS = {} as Record<Kind, Readonly<Record<string, string>>>;
for (const kind of KINDS) SCRIPT_HEADERS[kind] = Object.freeze({ 'Content-Type': CONTENT_TYPES[kind], 'Cache-Control': 'no-store' });

/** What the boot routes are built from. */
export interface BootRouteDeps {
  boot: BootService;
  metrics: HttpMetrics;
  bootRoot: string;
  loaderDirs: readonly string[];
}

/**
 * Render one script or answer file for a node and answer it (to the client uncached: `no-store`); failures are
 * counted by kind and rethrown. Synchronous: a script from the render cache is answered in the request's turn.
 */
export function renderScript(d: BootRouteDeps, req: RouteRequest, kind: Kind, mac?: MacAddress, uuid?: SystemUuid): RouteAnswer {
  const started = performance.now();
  try {
    const answer = d.boot.renderNow({
      kind,
      mac,
      uuid,
      buildarch: oneParam(req.query, 'buildarch'),
      clientIp: req.clientIp,
      localAddress: req.localAddress,
      via: 'http',
    });
    d.metrics.observeRender(kind, (performance.now() - started) / 1000);
    return {
      status: 200,
      headers: SCRIPT_HEADERS[kind],
      body: answer.text,
      logFields: { mac, purpose: answer.decision?.purpose, template: answer.template?.origin },
    };
  } catch (err) {
    d.metrics.renderFailures.inc({ kind });
    throw err;
  }
}
