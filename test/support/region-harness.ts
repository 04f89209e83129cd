import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { createLogger } from '../../src/core/log.js';
import { RegionServer } from '../../src/region-server/region-server.js';
import { LogSink, startTestAppliance, type TestAppliance } from './appliance.js';

/** Cluster token, other cluster's token and admin token used by every sync test. */
export const TOKENS = {
  rackA: 'rack-a-token-4f1c9e2d8b7a6c5e',
  rackB: 'rack-b-token-0a9b8c7d6e5f4a3b',
  admin: 'admin-token-7e6d5c4b3a2f1e0d',
};

/** A reference region on 127.0.0.1 with its own temp dir. */
export interface TestRegion {
  server: RegionServer;
  port: number;
  url: string;
  dir: string;
  inventoryPath: string;
  tokensPath: string;
  resources: string;
  log: LogSink;
  /** Stop listening (as if the process died); the inventory stays. */
  kill(): Promise<void>;
  /** Start again on the same port. */
  restart(): Promise<void>;
  cleanup(): Promise<void>;
}

/** A node in the inventory's raw shape. */
export function rawNode(i: number, patch: Record<string, unknown> = {}): Record<string, unknown> {
  const h = i.toString(16).padStart(4, '0');
  return {
    system_id: `sys${h}`,
    hostname: `node-${h}`,
    macs: [`52:54:00:5e:${h.slice(0, 2)}:${h.slice(2)}`],
    arch: 'amd64/generic',
    status: 'deployed',
    osystem: 'ubuntu',
    release: 'noble',
    ...patch,
  };
}

/** Start a reference region serving `inventory` (written as YAML) with the TOKENS. */
export async function startRegion(inventory: unknown, options: { tls?: { certFile: string; keyFile: string }; port?: number } = {}): Promise<TestRegion> {
  const dir = mkdtempSync(join(tmpdir(), 'edgeboot-region-'));
  const inventoryPath = join(dir, 'inventory.yaml');
  const tokensPath = join(dir, 'tokens.yaml');
  const resources = join(dir, 'resources');
  mkdirSync(resources);
  writeFileSync(inventoryPath, stringify(inventory));
  writeFileSync(tokensPath, stringify({ clusters: { 'rack-a': TOKENS.rackA, 'rack-b': TOKENS.rackB }, admin: TOKENS.admin }));
  const log = new LogSink();
  const make = (port: number) =>
    new RegionServer({ inventory: inventoryPath, tokensFile: tokensPath, resources, host: '127.0.0.1', port, tls: options.tls, log: createLogger('debug', log) });
  let server = make(options.port ?? 0);
  const port = await server.start();
  const scheme = options.tls ? 'https' : 'http';
  const r: TestRegion = {
    server,
    port,
    url: `${scheme}://127.0.0.1:${port}`,
    dir,
    inventoryPath,
    tokensPath,
    resources,
    log,
    async kill() {
      await server.stop();
    },
    async restart() {
      server = make(port);
      r.server = server;
      await server.start();
    },
    async cleanup() {
      await server.stop().catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return r;
}

/** A rack appliance following `regionUrl` as cluster rack-a (image sync off unless asked). */
export async function startRack(
  regionUrl: string,
  options: { token?: string; clusterId?: string; region?: Record<string, unknown>; images?: Record<string, unknown>; extra?: Record<string, unknown> } = {},
): Promise<TestAppliance> {
  const tokenDir = mkdtempSync(join(tmpdir(), 'edgeboot-rack-token-'));
  const tokenFile = join(tokenDir, 'region.token');
  writeFileSync(tokenFile, `${options.token ?? TOKENS.rackA}\n`, { mode: 0o600 });
  const t = await startTestAppliance(
    { nodes: [] },
    {
      region: {
        url: regionUrl,
        cluster_id: options.clusterId ?? 'rack-a',
        token_file: tokenFile,
        wait_seconds: 1,
        backoff_max_seconds: 0.5,
        ...options.region,
      },
      images: { sync: false, ...options.images },
      dhcp: { lease_intake: false },
      ...options.extra,
    },
  );
  const stop = t.stop;
  t.stop = async () => {
    await stop();
    rmSync(tokenDir, { recursive: true, force: true });
  };
  return t;
}

/** GET a rack's iPXE script for `mac`. */
export async function scriptFor(base: string, mac: string): Promise<string> {
  const res = await fetch(`${base}/ipxe/node/${mac.replace(/:/g, '-')}`);
  return res.text();
}
