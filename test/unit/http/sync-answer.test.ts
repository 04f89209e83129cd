import { createServer, type RequestListener } from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MetricsRegistry } from '../../../src/core/metrics.js';
import { createBootDispatcher } from '../../../src/http/boot-dispatch.js';
import { httpMetrics } from '../../../src/http/http-metrics.js';
import { testBootService } from '../../support/boot-service.js';

// A boot script from the render cache and /boot.ipxe are written in the request's own turn: the response's
// head is sent before the listener returns (no promise, no microtask hop on the hot path).

const written: Record<string, boolean> = {};
let base = '';
const server = createServer();

beforeAll(async () => {
  const { boot } = testBootService();
  const log = pino({ level: 'silent' });
  const registry = new MetricsRegistry();
  const metrics = httpMetrics(registry);
  const dispatch: RequestListener = createBootDispatcher({
    deps: { boot, metrics, bootRoot: '/nonexistent', loaderDirs: [] },
    log,
    registry,
    metrics,
    maxStreams: 4,
    fallback: (_req, res) => res.writeHead(404).end(),
  });
  server.on('request', (req, res) => {
    dispatch(req, res);
    written[req.url!] = res.headersSent;
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe('the boot dispatcher', () => {
  it('writes a cached node script and /boot.ipxe before the request listener returns', async () => {
    const node = '/ipxe/node/52-54-00-00-00-01?buildarch=x86_64';
    for (const path of [node, node, '/boot.ipxe']) {
      const res = await fetch(base + path);
      expect(res.status).toBe(200);
      expect(await res.text()).toMatch(/^#!ipxe/);
      expect(written[path], path).toBe(true);
    }
  });

  it('still answers a route error in full (a bad MAC is a 400 sentence)', async () => {
    const res = await fetch(`${base}/ipxe/node/not-a-mac`);
    expect(res.status).toBe(400);
    expect(await res.text()).toMatch(/not a MAC address/);
  });
});
