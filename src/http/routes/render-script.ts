import type { BootService } from '../../boot/boot-service.js';
import type { MacAddress } from '../../core/mac.js';
import type { SystemUuid } from '../../core/uuid.js';
import { CONTENT_TYPES, type Kind } from '../../render/kinds.js';
import type { HttpMetrics } from '../http-metrics.js';
import { type RouteAnswer, type RouteRequest, oneParam } from './types.js';

/** What the boot routes are built from. */
export interface BootRouteDeps {
  boot: BootService;
  metrics: HttpMetrics;
  bootRoot: string;
  loaderDirs: readonly string[];
}

/** Render one script or answer file for a node and answer it uncached; failures are counted by kind and rethrown. */
export async function renderScript(d: BootRouteDeps, req: RouteRequest, kind: Kind, mac?: MacAddress, uuid?: SystemUuid): Promise<RouteAnswer> {
  const started = performance.now();
  try {
    const answer = await d.boot.render({
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
      headers: { 'Content-Type': CONTENT_TYPES[kind], 'Cache-Control': 'no-store' },
      body: answer.text,
      logFields: { mac, purpose: answer.decision?.purpose, template: answer.template?.origin },
    };
  } catch (err) {
    d.metrics.renderFailures.inc({ kind });
    throw err;
  }
}
