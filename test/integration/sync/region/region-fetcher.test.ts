import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { packageRoot } from '../../../../src/config/config.js';
import { parseMac } from '../../../../src/core/mac.js';
import { Secret } from '../../../../src/core/secret.js';
import { NodeStore } from '../../../../src/sync/nodes/node-store.js';
import { RegionClient, type RegionClientOptions } from '../../../../src/sync/region/region-client.js';
import { RegionError } from '../../../../src/sync/region/region-error.js';
import { HelperSnapshotFetcher, InlineSnapshotFetcher, type PollResult } from '../../../../src/sync/region/region-fetcher.js';
import type { LoadedSnapshot } from '../../../../src/sync/snapshot/snapshot-loader.js';

// The helper runs in plain Node, so it is the built one (`npm run build` first); vitest loads the fetcher from src.
const BUILT = join(packageRoot(), 'dist/src/sync/region/helper/region-worker.js');
const TOKEN = 'fetcher-test-token-5f1e';

const node = (i: number, status = 'deployed') => ({
  system_id: `s${i}`,
  hostname: `h${i}`,
  macs: [`52:54:00:00:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`],
  uuid: `4c4c4544-0042-3510-8056-${i.toString(16).padStart(12, '0')}`,
  arch: 'amd64/generic',
  status,
  token: { consumer_key: `ck${i}`, token_key: `tk${i}`, token_secret: `secret-${i}` },
});

/** A region that serves whatever body is set, with an ETag, 304 on a match and 401 without the token. */
let server: Server;
let url = '';
let served = { body: '{}', etag: '"0"' };
/** How the test region encodes a body when the rack accepts gzip. */
let encoding: 'gzip' | 'identity' | 'broken-gzip' | 'br' = 'gzip';
let requests = 0;
const serve = (nodes: unknown[], extra: Record<string, unknown> = {}) => {
  served = { body: JSON.stringify({ version: `v${requests}`, nodes, boot_selections: [], ...extra }), etag: `"${Math.random()}"` };
};
const serveRaw = (body: string) => {
  served = { body, etag: `"${Math.random()}"` };
};
let dir = '';

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'edgeboot-fetcher-'));
  writeFileSync(join(dir, 'token'), TOKEN);
  server = createServer((req, res) => {
    requests++;
    if (req.headers.authorization !== `Bearer ${TOKEN}`) return void res.writeHead(401).end('no');
    if (req.headers['if-none-match'] === served.etag) return void res.writeHead(304, { etag: served.etag }).end();
    const head = { etag: served.etag, 'content-type': 'application/json' };
    const gzipOk = String(req.headers['accept-encoding'] ?? '').includes('gzip');
    if (!gzipOk || encoding === 'identity') return void res.writeHead(200, head).end(served.body);
    if (encoding === 'br') return void res.writeHead(200, { ...head, 'content-encoding': 'br' }).end(served.body);
    const z = gzipSync(served.body);
    if (encoding === 'broken-gzip') z[z.length - 6] = (z[z.length - 6]! + 1) & 255;
    res.writeHead(200, { ...head, 'content-encoding': 'gzip' }).end(z);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
afterAll(() => server.close());

const client = (tokenFile = join(dir, 'token')) => new RegionClient({ url, clusterId: 'rack-a', tokenFile });
/** Every fetcher a test starts is closed (its helper killed) after the test. */
const started: HelperSnapshotFetcher[] = [];
const helper = (options: Partial<RegionClientOptions> = {}, script = BUILT) => {
  const f = new HelperSnapshotFetcher({ ...client().options, ...options }, pathToFileURL(script), { chunkNodes: 7 });
  started.push(f);
  return f;
};
afterEach(() => {
  for (const f of started.splice(0)) f.close();
  encoding = 'gzip';
});
const where = 'region snapshot from test';
const loaded = (r: PollResult): LoadedSnapshot => {
  if (r.kind !== 'changed') throw new Error(`expected a snapshot, got ${r.kind}`);
  return r.loaded;
};

describe('the region helper process', () => {
  it('finds the built helper script', () => {
    expect(existsSync(BUILT), `${BUILT} is missing: run npm run build`).toBe(true);
  });

  it('gives the normalised snapshot back across pieces, tokens wrapped in Secret, with tables that find every node', async () => {
    const f = helper();
    serve(Array.from({ length: 60 }, (_, i) => node(i)));
    const { snapshot, tables } = loaded(await f.poll({ waitSeconds: 0, where }));
    expect(snapshot.nodes.map((n) => n.systemId)).toEqual(Array.from({ length: 60 }, (_, i) => `s${i}`));
    const t = snapshot.nodes[7]!.token!;
    expect(t.tokenSecret).toBeInstanceOf(Secret);
    expect(t.tokenSecret.reveal()).toBe('secret-7');
    expect(JSON.stringify(snapshot)).not.toContain('secret-7');
    const store = new NodeStore();
    store.install(snapshot, tables!, 'test');
    for (let i = 0; i < 60; i++) {
      const n = node(i);
      expect(store.find({ mac: parseMac(n.macs[0]!) })?.systemId).toBe(`s${i}`);
      expect(store.find({ systemId: `s${i}` })?.hostname).toBe(`h${i}`);
      expect(store.find({ uuid: n.uuid as never })?.systemId).toBe(`s${i}`);
    }
    expect(store.find({ mac: parseMac('52:54:00:00:09:99') })).toBeUndefined();
    expect(store.find({ systemId: 'nobody' })).toBeUndefined();
  });

  it('answers unchanged on a 304 and keeps its process (and connection) for the next poll', async () => {
    const f = helper();
    serve([node(1)]);
    await f.poll({ waitSeconds: 0, where });
    const pid = f.pid;
    expect(await f.poll({ waitSeconds: 0, where, etag: served.etag })).toEqual({ kind: 'unchanged' });
    expect(f.pid).toBe(pid);
  });

  it('reuses the objects of unchanged nodes from the load it handed over last and rebuilds changed ones', async () => {
    const f = helper();
    serve([node(1), node(2), node(3)]);
    const first = loaded(await f.poll({ waitSeconds: 0, where }));
    serve([node(3), node(2, 'ready'), node(1)]);
    const { snapshot } = loaded(await f.poll({ waitSeconds: 0, where, previous: first }));
    const [n3, n2, n1] = snapshot.nodes;
    expect(n3).toBe(first.snapshot.nodes[2]);
    expect(n1).toBe(first.snapshot.nodes[0]);
    expect(n2).not.toBe(first.snapshot.nodes[1]);
    expect(n2!.status).toBe('ready');
  });

  it('hands back the node list in force when no node changed, and its head when only the tail went', async () => {
    const f = helper();
    serve(Array.from({ length: 20 }, (_, i) => node(i)));
    const first = loaded(await f.poll({ waitSeconds: 0, where }));
    serve(Array.from({ length: 20 }, (_, i) => node(i)));
    const same = loaded(await f.poll({ waitSeconds: 0, where, previous: first }));
    expect(same.snapshot.nodes).toBe(first.snapshot.nodes);
    expect(same.tables).toBe(first.tables);
    serve(Array.from({ length: 15 }, (_, i) => node(i)));
    const shorter = loaded(await f.poll({ waitSeconds: 0, where, previous: same }));
    expect(shorter.snapshot.nodes).toHaveLength(15);
    expect(shorter.snapshot.nodes[14]).toBe(first.snapshot.nodes[14]);
    const store = new NodeStore();
    store.install(shorter.snapshot, shorter.tables!, 'test');
    expect(store.find({ systemId: 's17' })).toBeUndefined();
    expect(store.find({ systemId: 's3' })).toBe(first.snapshot.nodes[3]);
  });

  it('keeps the lookup tables in force when only node contents changed, and sends new ones when a key moved', async () => {
    const f = helper();
    serve(Array.from({ length: 30 }, (_, i) => node(i)));
    const first = loaded(await f.poll({ waitSeconds: 0, where }));
    serve(Array.from({ length: 30 }, (_, i) => node(i, i === 12 ? 'ready' : 'deployed')));
    const second = loaded(await f.poll({ waitSeconds: 0, where, previous: first }));
    expect(second.tables).toBe(first.tables);
    expect(second.snapshot.nodes[11]).toBe(first.snapshot.nodes[11]);
    expect(second.snapshot.nodes[12]!.status).toBe('ready');
    serve(Array.from({ length: 30 }, (_, i) => node(i === 12 ? 99 : i)));
    const third = loaded(await f.poll({ waitSeconds: 0, where, previous: second }));
    expect(third.tables).not.toBe(second.tables);
    const store = new NodeStore();
    store.install(third.snapshot, third.tables!, 'test');
    expect(store.find({ systemId: 's99' })?.hostname).toBe('h99');
    expect(store.find({ systemId: 's12' })).toBeUndefined();
    expect(store.find({ mac: parseMac(node(13).macs[0]!) })).toBe(second.snapshot.nodes[13]);
  });

  it('builds a changed node from the new fields but keeps the old values (and token) wherever they are equal', async () => {
    const f = helper();
    serve([node(1), node(2)]);
    const first = loaded(await f.poll({ waitSeconds: 0, where }));
    serve([node(1, 'ready'), { ...node(2), token: { ...node(2).token, token_secret: 'rotated-2' } }]);
    const { snapshot } = loaded(await f.poll({ waitSeconds: 0, where, previous: first }));
    const [a, b] = snapshot.nodes;
    const [a0, b0] = first.snapshot.nodes;
    expect(a).not.toBe(a0);
    expect(a!.status).toBe('ready');
    expect(a0!.status).toBe('deployed');
    expect(a!.macs).toBe(a0!.macs);
    expect(a!.token).toBe(a0!.token);
    expect(b!.token).not.toBe(b0!.token);
    expect(b!.token!.tokenSecret.reveal()).toBe('rotated-2');
    expect(b!.token!.tokenKey.reveal()).toBe('tk2');
    expect(b0!.token!.tokenSecret.reveal()).toBe('secret-2');
  });

  it('never names nodes by position against a load it did not hand over (a new helper rebuilds them all)', async () => {
    const a = helper();
    const b = helper();
    serve([node(1), node(2)]);
    const fromA = loaded(await a.poll({ waitSeconds: 0, where }));
    const fromB = loaded(await b.poll({ waitSeconds: 0, where, previous: fromA }));
    expect(fromB.snapshot.nodes[0]).not.toBe(fromA.snapshot.nodes[0]);
    expect(fromB.snapshot.nodes.map((n) => n.systemId)).toEqual(['s1', 's2']);
  });

  it('rejects an invalid snapshot whole, naming every problem with its path, and serves the next poll', async () => {
    const f = helper();
    serve([node(1), { ...node(2), macs: ['nope'] }, { ...node(3), hostname: 'bad host' }, node(1), node(4), { ...node(5), macs: node(5).macs.concat(node(4).macs) }]);
    const err = await f.poll({ waitSeconds: 0, where: 'region x' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RegionError);
    expect((err as RegionError).failure).toBe('malformed');
    const msg = (err as Error).message;
    expect(msg).toMatch(/^region x is invalid: /);
    expect(msg).toContain('nodes[1].macs[0]: is not a MAC address');
    expect(msg).toContain('nodes[2].hostname: must be a DNS hostname');
    expect(msg).toContain('nodes[3].system_id: s1 appears twice');
    expect(msg).toContain('nodes[5].macs[1]: 52:54:00:00:00:04 already belongs to node s4');
    expect(msg).not.toContain('secret-');
    serve([node(1)]);
    expect(loaded(await f.poll({ waitSeconds: 0, where })).snapshot.nodes).toHaveLength(1);
  });

  it('says what is wrong with a body that is not JSON, or not a JSON object, or whose nodes are not a list', async () => {
    const f = helper();
    serveRaw('{"nodes": [');
    expect(await f.poll({ waitSeconds: 0, where: 'region x' }).catch((e: Error) => e.message)).toMatch(/^region x is not JSON: /);
    serveRaw('[1, 2]');
    expect(await f.poll({ waitSeconds: 0, where: 'region x' }).catch((e: Error) => e.message)).toMatch(/^region x is invalid: \(top level\): /);
    serveRaw('{"nodes": {"a": 1}}');
    expect(await f.poll({ waitSeconds: 0, where: 'region x' }).catch((e: Error) => e.message)).toMatch(/^region x is invalid: nodes: /);
    serveRaw('{"nodes": [], "nodes": []}');
    expect(await f.poll({ waitSeconds: 0, where: 'region x' }).catch((e: Error) => e.message)).toContain('nodes: given more than once');
  });

  it('gives the same snapshot and the same rejection as the in-thread path', async () => {
    const f = helper();
    const c = client();
    try {
      serve(Array.from({ length: 5 }, (_, i) => node(i)), { config: { commissioning_release: 'noble' } });
      const there = loaded(await f.poll({ waitSeconds: 0, where }));
      const here = loaded(await new InlineSnapshotFetcher(c).poll({ waitSeconds: 0, where }));
      expect(here.snapshot).toEqual(there.snapshot);
      serve([node(1), { ...node(2), macs: [] }, node(1)]);
      const a = await f.poll({ waitSeconds: 0, where: 'r' }).catch((e: Error) => e.message);
      const b = await new InlineSnapshotFetcher(c).poll({ waitSeconds: 0, where: 'r' }).catch((e: Error) => e.message);
      expect(a).toContain('nodes[1].macs: must list at least one MAC');
      expect(a).toBe(b);
    } finally {
      c.close();
    }
  });

  it('passes on the region error kind and message, never the token', async () => {
    writeFileSync(join(dir, 'wrong-token'), 'not-the-token');
    const f = helper({ tokenFile: join(dir, 'wrong-token') });
    const err = (await f.poll({ waitSeconds: 0, where }).catch((e: unknown) => e)) as RegionError;
    expect(err).toBeInstanceOf(RegionError);
    expect(err.failure).toBe('unauthorized');
    expect(err.status).toBe(401);
    expect(err.message).not.toContain('not-the-token');
    const missing = helper({ tokenFile: join(dir, 'no-such-token') });
    const noToken = (await missing.poll({ waitSeconds: 0, where }).catch((e: unknown) => e)) as RegionError;
    expect(noToken.failure).toBe('credentials');
    expect(noToken.message).toContain('no-such-token');
  });

  it('runs its threads at the lowest priority: SCHED_IDLE through chrt, else nice 19', async () => {
    const f = helper();
    serve([node(1)]);
    await f.poll({ waitSeconds: 0, where });
    const pid = f.pid!;
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields 19 (nice) and 41 (policy), counted from 1 with pid and comm as 1 and 2.
    const [nice, policy] = [Number(fields[19 - 3]), Number(fields[41 - 3])];
    if (existsSync('/usr/bin/chrt')) expect(policy).toBe(5);
    else expect(nice).toBe(19);
    expect(readFileSync(`/proc/${pid}/cmdline`, 'utf8')).toContain('region-worker.js');
  });

  it('an aborted poll ends at once and its helper with it; the next poll starts a fresh one', async () => {
    const f = helper();
    serve([node(1)]);
    await f.poll({ waitSeconds: 0, where });
    const old = f.pid!;
    const ctl = new AbortController();
    // Held by the region: the etag matches and the test server never answers a wait, so abort it.
    let held = false;
    const stuck = createServer(() => {
      held = true;
    });
    await new Promise<void>((r) => stuck.listen(0, '127.0.0.1', r));
    const slow = helper({ url: `http://127.0.0.1:${(stuck.address() as { port: number }).port}` });
    const pending = slow.poll({ waitSeconds: 0, where, signal: ctl.signal });
    // On a loaded machine the fork takes a while: abort once the helper's request is held by the region.
    await until(() => held && slow.pid !== undefined, 'the slow helper to reach the region');
    const slowPid = slow.pid!;
    ctl.abort();
    await expect(pending).rejects.toMatchObject({ name: 'AbortError' });
    await until(() => !alive(slowPid), 'the aborted helper to exit');
    expect(alive(slowPid)).toBe(false);
    stuck.closeAllConnections();
    stuck.close();
    // A helper killed from outside: the poll after says so clearly, the one after works again.
    process.kill(old, 'SIGKILL');
    await until(() => !alive(old), 'the killed helper to exit');
    serve([node(2)]);
    expect(loaded(await f.poll({ waitSeconds: 0, where })).snapshot.nodes[0]!.systemId).toBe('s2');
    expect(f.pid).not.toBe(old);
  });
});

/** True while a process with this PID exists. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Wait (up to 5 s) until `ok()` holds; the caller's assertion after it decides. */
async function until(ok: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!ok() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  if (!ok()) throw new Error(`timed out waiting for ${what}`);
}

describe('snapshot transfer encodings', () => {
  it('takes a gzip snapshot and a plain one alike, and refuses a corrupt gzip, an unasked-for encoding and a gzip bomb', async () => {
    const f = helper();
    serve([node(1), node(2)]);
    expect(loaded(await f.poll({ waitSeconds: 0, where })).snapshot.nodes).toHaveLength(2);
    encoding = 'identity';
    serve([node(3)]);
    expect(loaded(await f.poll({ waitSeconds: 0, where })).snapshot.nodes[0]!.systemId).toBe('s3');
    encoding = 'broken-gzip';
    serve([node(4)]);
    let err = (await f.poll({ waitSeconds: 0, where }).catch((e: unknown) => e)) as RegionError;
    expect(err.failure).toBe('malformed');
    expect(err.message).toMatch(/sent a gzip snapshot that does not decompress/);
    encoding = 'br';
    err = (await f.poll({ waitSeconds: 0, where }).catch((e: unknown) => e)) as RegionError;
    expect(err.failure).toBe('malformed');
    expect(err.message).toMatch(/in an encoding it was not asked for \(br\)/);
    encoding = 'gzip';
    const small = helper({ maxBodyBytes: 64 * 1024 });
    serve(Array.from({ length: 2000 }, (_, i) => node(i)));
    err = (await small.poll({ waitSeconds: 0, where }).catch((e: unknown) => e)) as RegionError;
    expect(err.failure).toBe('malformed');
    expect(err.message).toMatch(/larger than 65536 bytes once decompressed/);
  });
});

describe('a region helper that cannot run', () => {
  it('fails the poll as a helper failure with a sentence, and the next poll tries again', async () => {
    const f = helper({}, join(dir, 'no-such-helper.js'));
    for (let i = 0; i < 2; i++) {
      const err = (await f.poll({ waitSeconds: 0, where }).catch((e: unknown) => e)) as RegionError;
      expect(err).toBeInstanceOf(RegionError);
      expect(err.failure).toBe('helper');
      expect(err.message).toMatch(/^region snapshot from test cannot be fetched: the region helper exited before it was ready/);
    }
  });
});

describe('RegionClient', () => {
  it('loads its credentials once when its first requests start together', async () => {
    const c = client();
    try {
      serve([node(1)]);
      const answers = await Promise.all(Array.from({ length: 4 }, () => c.fetchSnapshot()));
      expect(answers.every((a) => a.kind === 'changed')).toBe(true);
    } finally {
      c.close();
    }
  });
});
