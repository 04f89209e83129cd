import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RegionClient } from '../../../../src/sync/region/region-client.js';
import { freePort } from '../../../support/processes.js';

// The follower and the reporters share one RegionClient. When the replica in use dies, all their requests in
// flight fail at once; the client must move to the next replica once, not once per failure (with two replicas,
// two failures would flip it back to the dead one and cost every user another backoff round).

const dir = mkdtempSync(join(tmpdir(), 'edgeboot-failover-'));
const tokenFile = join(dir, 'token');
let alive: Server;
let aliveUrl = '';
let deadUrl = '';
const seen: string[] = [];

beforeAll(async () => {
  writeFileSync(tokenFile, 'rack-token-0123456789abcdef\n', { mode: 0o600 });
  alive = createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    if (req.url?.includes('broken')) {
      res.writeHead(503).end('down');
      return;
    }
    req.resume();
    req.on('end', () => res.writeHead(202, { 'content-type': 'application/json' }).end('{}'));
  });
  await new Promise<void>((r) => alive.listen(0, '127.0.0.1', r));
  aliveUrl = `http://127.0.0.1:${(alive.address() as AddressInfo).port}`;
  // Nothing listens there: every request is refused, as on a killed replica.
  deadUrl = `http://127.0.0.1:${await freePort()}`;
});

afterAll(async () => {
  await new Promise((r) => alive.close(r));
  rmSync(dir, { recursive: true, force: true });
});

describe('replica failover of a shared region client', () => {
  it('the follower and a reporter failing at once on the dead replica move the client once, to the live one', async () => {
    const client = new RegionClient({ url: [deadUrl, aliveUrl], clusterId: 'rack-a', tokenFile });
    try {
      const results = await Promise.allSettled([
        client.postCluster('events', { events: [] }),
        client.fetchChanges({ since: 1, waitSeconds: 0 }),
      ]);
      expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
      expect(String((results[0] as PromiseRejectedResult).reason)).toContain(deadUrl);
      expect(client.current).toBe(1);
      expect(client.where).toBe(aliveUrl);
      // The retry goes to the live replica at once.
      expect(await client.postCluster('events', { events: [] })).toBe(202);
      expect(seen).toContain('POST /api/v1/clusters/rack-a/events');
    } finally {
      client.close();
    }
  });

  it('two requests answered 503 at once by the replica in use move the client once', async () => {
    const client = new RegionClient({ url: [`${aliveUrl}/broken/`, `${aliveUrl}/ok/`], clusterId: 'rack-a', tokenFile });
    try {
      const results = await Promise.allSettled([client.postCluster('events', { events: [] }), client.postCluster('discoveries', {})]);
      expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
      expect(String((results[0] as PromiseRejectedResult).reason)).toContain('HTTP 503');
      expect(client.current).toBe(1);
      expect(await client.postCluster('events', { events: [] })).toBe(202);
    } finally {
      client.close();
    }
  });
});
