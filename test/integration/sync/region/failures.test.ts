import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestAppliance } from '../../../support/appliance.js';
import { waitFor } from '../../../support/appliance.js';
import { rawNode, scriptFor, startRack, startRegion, TOKENS, type TestRegion } from '../../../support/region-harness.js';

type Mode = 'good' | 'garbage' | 'invalid' | '401' | '404';

/** A programmable region: answers the snapshot endpoint according to `mode`, counting requests. */
function fakeRegion(): { server: Server; url: () => string; mode: Mode; requests: number } {
  const good = JSON.stringify({ version: 'v1', nodes: [rawNode(1, { status: 'deployed' })] });
  const state = {
    server: createServer((req, res) => {
      state.requests++;
      if (req.url?.includes('/discoveries') || req.url?.includes('/events')) return void res.writeHead(202).end('{}');
      switch (state.mode) {
        case 'good':
          if (req.headers['if-none-match'] === '"v1"') return void setTimeout(() => res.writeHead(304).end(), 500);
          return void res.writeHead(200, { etag: '"v1"', 'content-type': 'application/json' }).end(good);
        case 'garbage':
          return void res.writeHead(200, { etag: '"g"', 'content-type': 'application/json' }).end('<html>proxy error</html>');
        case 'invalid':
          return void res.writeHead(200, { etag: '"i"' }).end(JSON.stringify({ nodes: [{ system_id: 'x', hostname: 'bad host', macs: ['zz'] }] }));
        case '401':
          return void res.writeHead(401).end('token not accepted');
        case '404':
          return void res.writeHead(404).end('no such cluster');
      }
    }),
    url: () => `http://127.0.0.1:${(state.server.address() as AddressInfo).port}`,
    mode: 'good' as Mode,
    requests: 0,
  };
  return state;
}

describe('region failures each get one distinct log line and the last good snapshot stays', () => {
  const fake = fakeRegion();
  let rack: TestAppliance;
  const mac = (rawNode(1).macs as string[])[0]!;
  const lines = (msgStart: string) => rack.log.entries().filter((e) => e.level === 50 && String(e.msg).startsWith(msgStart));

  beforeAll(async () => {
    await new Promise<void>((r) => fake.server.listen(0, '127.0.0.1', r));
    rack = await startRack(fake.url());
  });
  afterAll(async () => {
    await rack?.stop();
    fake.server.closeAllConnections();
    await new Promise((r) => fake.server.close(r));
  });

  const holds = async (msgStart: string) => {
    await waitFor(() => lines(msgStart).length > 0, 5000, msgStart);
    const before = fake.requests;
    await waitFor(() => fake.requests >= before + 3, 8000, 'three more retries');
    expect(lines(msgStart)).toHaveLength(1);
    expect(rack.app.store.status().version).toBe('v1');
    expect(await scriptFor(rack.base, mac)).toContain('exit');
  };

  it('loads the good snapshot', async () => {
    expect(rack.app.store.status().version).toBe('v1');
  });

  it('garbage (not JSON): one "malformed" line over several retries, last good kept', async () => {
    fake.mode = 'garbage';
    await holds('region sent a malformed snapshot');
  });

  it('401: one "refused this cluster" line, last good kept', async () => {
    fake.mode = '401';
    await holds('region refused this cluster');
  });

  it('404: one "does not know this cluster" line, last good kept', async () => {
    fake.mode = '404';
    await holds('region does not know this cluster');
  });

  it('a payload that fails validation is malformed again after a change of failure, and names the bad paths', async () => {
    fake.mode = 'invalid';
    await waitFor(() => lines('region sent a malformed snapshot').length === 2, 5000, 'second malformed line');
    const e = lines('region sent a malformed snapshot')[1]!;
    expect(String(e.err)).toMatch(/nodes\[0\]\.hostname/);
    expect(rack.app.store.status().version).toBe('v1');
  });

  it('when the region is good again the rack says so once', async () => {
    fake.mode = 'good';
    await waitFor(() => rack.log.entries().some((e) => String(e.msg).startsWith('region reachable again')), 5000, 'recovery line');
    const h = (await (await fetch(`${rack.base}/healthz`)).json()) as { region: { state: string } };
    expect(h.region.state).toBe('connected');
  });

  it('the token never appears in the log, /healthz or /metrics', async () => {
    const health = await (await fetch(`${rack.base}/healthz`)).text();
    const metrics = await (await fetch(`${rack.base}/metrics`)).text();
    for (const text of [rack.log.text(), health, metrics]) expect(text).not.toContain(TOKENS.rackA);
  });
});

describe('HTTPS to the region', () => {
  let dir: string;
  let region: TestRegion;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'edgeboot-tls-'));
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1',
    ], { stdio: 'ignore' });
    region = await startRegion({ nodes: [rawNode(7)] }, { tls: { certFile: join(dir, 'cert.pem'), keyFile: join(dir, 'key.pem') } });
  });
  afterAll(async () => {
    await region?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it('without the CA file: one "TLS handshake failed" line and the rack waits for the region', async () => {
    const rack = await startRack(region.url);
    try {
      await waitFor(() => rack.log.entries().some((e) => String(e.msg).startsWith('region TLS handshake failed')), 5000, 'TLS line');
      expect(rack.app.store.loaded).toBe(false);
      expect(await scriptFor(rack.base, '52:54:00:77:77:77')).toContain('waiting for the region');
    } finally {
      await rack.stop();
    }
  });

  it('with region.ca_file: the snapshot loads over HTTPS', async () => {
    const rack = await startRack(region.url, { region: { ca_file: join(dir, 'cert.pem') } });
    try {
      expect(rack.app.store.status().nodes).toBe(1);
    } finally {
      await rack.stop();
    }
  });
});
