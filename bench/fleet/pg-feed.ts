/**
 * The revision feed on the PostgreSQL store with two region replicas sharing one database (a private
 * PostgreSQL cluster, never the system service). N nodes are seeded with COPY; both replicas start on the
 * database; a rack (the rack's own region client, helper process and node store) takes the first full sync; R long-polling racks are split over the two
 * replicas; one node is changed through the admin API of replica A and each poller times its answer.
 * Prints seed and start times, the first sync (ms, bytes on the wire), each replica's RSS and CPU, the
 * delta's bytes beside the full snapshot's, and propagation p50/p99/max per replica, with the load average.
 *
 * With --clusters K the N nodes are spread over K clusters (node i in cluster i mod K; cluster 0 is
 * rack-a) and every rack is rack-a, so its first full sync is its own N/K nodes; without it no node names
 * a cluster and rack-a is served all N.
 *
 * Run: npm run bench:build && node dist-bench/bench/fleet/pg-feed.js [--nodes N] [--racks R] [--clusters K]
 *      (default 100,000 nodes, 200 racks, no clusters; --nodes 1000000 --clusters 10 for the fleet target)
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { createLogger } from '../../src/core/log.js';
import { migrate } from '../../src/region-server/store/pg-migrations.js';
import { NodeStore } from '../../src/sync/nodes/node-store.js';
import { RegionClient } from '../../src/sync/region/region-client.js';
import { snapshotFetcher } from '../../src/sync/region/region-fetcher.js';
import { RegionSource } from '../../src/sync/region/region-source.js';
import { createDatabase, startPgCluster } from '../../test/support/pg-cluster.js';
import { type RegionChild, startRegionChild } from './region-child.js';
import { fleetNode } from './fleet-node.js';

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const N = arg('--nodes', 100_000);
const R = arg('--racks', 200);
const K = arg('--clusters', 0);
/** The cluster bench node i belongs to (undefined without --clusters). */
const clusterOf = (i: number): string | undefined => (K > 0 ? (i % K === 0 ? 'rack-a' : `rack-${i % K}`) : undefined);
// The node the change is made to: one of rack-a's.
const CHANGED = K > 0 ? 7 * K : 7;
const TOKEN = 'bench-cluster-token-0123456789';
const ADMIN = 'bench-admin-token-0123456789ab';

/** The wire node of bench node i (the shape the snapshot carries and PUT /api/v1/admin/nodes takes). */
function node(i: number, status = 'deployed'): Record<string, unknown> {
  const cluster = clusterOf(i);
  return { ...fleetNode(i, status), ...(cluster ? { cluster } : {}) };
}

/** COPY N generated rows into `table` through psql's stdin (node-postgres has no COPY without another package). */
async function copyIn(dbUrl: string, table: string, line: (i: number) => string): Promise<void> {
  // postgres://user@/db?host=<socket dir> (no host part, which WHATWG URL refuses).
  const m = /^postgres:\/\/([^@]+)@\/([^?]+)\?host=([^&]+)/.exec(dbUrl);
  if (!m) throw new Error(`cannot read ${dbUrl} as a socket connection string`);
  const conn = `host=${decodeURIComponent(m[3]!)} user=${m[1]} dbname=${m[2]}`;
  const psql = spawn('psql', [conn, '-v', 'ON_ERROR_STOP=1', '-q', '-c', `COPY ${table} FROM STDIN`], { stdio: ['pipe', 'inherit', 'inherit'] });
  const done = new Promise<void>((ok, fail) => psql.once('exit', (code) => (code === 0 ? ok() : fail(new Error(`psql COPY ${table} exited ${code}`)))));
  for (let i = 0; i < N; i++) if (!psql.stdin.write(line(i))) await new Promise((r) => psql.stdin.once('drain', r));
  psql.stdin.end();
  await done;
}

async function seed(dbUrl: string, revision: number): Promise<void> {
  const pool = new pg.Pool({ connectionString: dbUrl, max: 1 });
  try {
    await migrate(pool);
    await pool.query('INSERT INTO cluster_revision (cluster, revision, floor) VALUES ($1, $2, $2)', ['*', revision]);
    await pool.query(`INSERT INTO cluster_settings (name, body, revision) VALUES ('config', $1::jsonb, $3), ('boot_selections', $2::jsonb, $3)`, [
      JSON.stringify({ commissioning_release: 'noble' }),
      '[]',
      revision,
    ]);
    // COPY text format: tab-separated; the bench's JSON holds no tab, newline or backslash.
    const id = (i: number) => `n${i.toString(16).padStart(6, '0')}`;
    // \N is COPY's NULL: a node without a cluster is served to every cluster.
    await copyIn(dbUrl, 'nodes (system_id, body, revision, cluster)', (i) => `${id(i)}\t${JSON.stringify(node(i))}\t${revision}\t${clusterOf(i) ?? '\\N'}\n`);
    await copyIn(dbUrl, 'node_macs (mac, system_id)', (i) => `${(node(i).macs as string[])[0]}\t${id(i)}\n`);
    await pool.query('ANALYZE');
  } finally {
    await pool.end();
  }
}

function procStat(pid: number): { cpuS: number; rssMb: number } {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  const rss = Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
  return { cpuS: (Number(fields[11]) + Number(fields[12])) / 100, rssMb: rss };
}

type Replica = RegionChild;

const q = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0;

async function main(): Promise<void> {
  const load0 = loadavg()[0]!;
  const dir = mkdtempSync(join(tmpdir(), 'edgeboot-bench-pgfleet-'));
  const cluster = startPgCluster();
  const replicas: Replica[] = [];
  try {
    const dbUrl = await createDatabase(cluster, 'fleet');
    writeFileSync(join(dir, 'tokens.yaml'), `clusters:\n  rack-a: ${TOKEN}\nadmin: ${ADMIN}\n`);
    let t = performance.now();
    await seed(dbUrl, Date.now());
    console.log(`nodes ${N}${K > 0 ? ` in ${K} clusters (rack-a holds ${Math.ceil(N / K)})` : ', none naming a cluster'}, racks ${R} over 2 replicas, load average at start ${load0.toFixed(2)}`);
    console.log(`seed: ${N} nodes by COPY in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    for (const name of ['A', 'B']) replicas.push(await startRegionChild(['--database', dbUrl, '--tokens', join(dir, 'tokens.yaml')], `region ${name}`));
    const [a, b] = replicas as [Replica, Replica];
    console.log(`replicas ready (database read into each one's mirror): A ${(a.startMs / 1000).toFixed(1)} s, B ${(b.startMs / 1000).toFixed(1)} s`);
    const base = (r: Replica) => `http://127.0.0.1:${r.port}/api/v1/clusters/rack-a`;
    const headers = { authorization: `Bearer ${TOKEN}`, 'accept-encoding': 'gzip' };

    // A rack's first full sync from A, cold (A has not built this cluster's body yet): fetched, checked and
    // indexed by the rack's own code (region client, helper process, node store), as `edgeboot serve` does.
    writeFileSync(join(dir, 'token'), TOKEN);
    const cpu0 = procStat(a.pid).cpuS;
    const client = new RegionClient({ url: `http://127.0.0.1:${a.port}`, clusterId: 'rack-a', tokenFile: join(dir, 'token') });
    const store = new NodeStore();
    const source = new RegionSource({ client, store, fetcher: snapshotFetcher(client), log: createLogger('silent') });
    t = performance.now();
    await source.reload({ throwOnError: true });
    const rackMs = performance.now() - t;
    console.log(`a rack's first full sync from A (fetch, check, index): ${rackMs.toFixed(0)} ms, ${store.status().nodes} nodes, A's CPU ${(procStat(a.pid).cpuS - cpu0).toFixed(2)} s`);
    await source.stop();
    client.close();

    t = performance.now();
    const res = await fetch(`${base(a)}/snapshot`, { headers });
    const wire = Buffer.from(await res.arrayBuffer());
    const snap = JSON.parse(wire.toString()) as { revision: number; nodes: unknown[] };
    const fullMs = performance.now() - t;
    const fullBytes = Number(res.headers.get('content-length') ?? wire.length);
    console.log(`then the same snapshot by plain fetch + JSON.parse from A: ${fullMs.toFixed(0)} ms, ${snap.nodes.length} nodes, ${fullBytes} bytes on the wire`);
    t = performance.now();
    const again = await fetch(`${base(b)}/snapshot`, { headers });
    await again.arrayBuffer();
    console.log(`first full sync from B by plain fetch (cold on B): ${(performance.now() - t).toFixed(0)} ms (status ${again.status})`);

    const since = snap.revision;
    const polls = Array.from({ length: R }, (_, i) => {
      const r = i % 2 === 0 ? a : b;
      return fetch(`${base(r)}/changes?since=${since}&wait=60`, { headers }).then(async (x) => {
        const body = Buffer.from(await x.arrayBuffer());
        return { replica: r === a ? 'A' : 'B', at: performance.now(), status: x.status, bytes: Number(x.headers.get('content-length') ?? body.length), body: body.toString() };
      });
    });
    await new Promise((r) => setTimeout(r, 1500));
    const cpu1 = { a: procStat(a.pid).cpuS, b: procStat(b.pid).cpuS };
    t = performance.now();
    const put = await fetch(`http://127.0.0.1:${a.port}/api/v1/admin/nodes`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ nodes: [node(CHANGED, 'broken')] }),
    });
    const putMs = performance.now() - t;
    if (put.status !== 200) throw new Error(`admin PUT answered ${put.status}: ${await put.text()}`);
    const answers = await Promise.all(polls);
    const changedId = `"n${CHANGED.toString(16).padStart(6, '0')}"`;
    const bad = answers.filter((x) => x.status !== 200 || !x.body.includes(changedId));
    console.log(`one-node change (admin PUT on A, ${putMs.toFixed(0)} ms) to ${R} long-polling racks; wrong answers ${bad.length}`);
    for (const name of ['A', 'B']) {
      const lat = answers
        .filter((x) => x.replica === name)
        .map((x) => x.at - t)
        .sort((x, y) => x - y);
      console.log(`  racks on ${name}: p50 ${q(lat, 0.5).toFixed(0)} ms, p99 ${q(lat, 0.99).toFixed(0)} ms, max ${lat.at(-1)!.toFixed(0)} ms`);
    }
    const bytes = answers[0]!.bytes;
    console.log(`delta bytes on the wire: ${bytes} (full snapshot ${fullBytes}: ratio 1:${Math.round(fullBytes / bytes)})`);
    const sa = procStat(a.pid);
    const sb = procStat(b.pid);
    console.log(`region CPU for the change + ${R} answers: A ${(sa.cpuS - cpu1.a).toFixed(2)} s, B ${(sb.cpuS - cpu1.b).toFixed(2)} s; peak RSS A ${sa.rssMb.toFixed(0)} MB, B ${sb.rssMb.toFixed(0)} MB`);
    console.log(`targets: a rack's first full sync < 3 s: ${rackMs < 3000 ? 'yes' : 'NO'}; change on every rack < 1 s: ${answers.every((x) => x.at - t < 1000) ? 'yes' : 'NO'}; delta < 10 KB: ${bytes < 10_240 ? 'yes' : 'NO'}`);
    console.log(`load average at end ${loadavg()[0]!.toFixed(2)}`);
  } finally {
    for (const r of replicas) r.stop();
    await new Promise((r) => setTimeout(r, 500));
    cluster.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
