/**
 * The revision feed against the file-backed reference region (a child process, `edgeboot region`): a
 * rack-like client's first full sync of an N-node cluster, then one node changed on the region and the
 * delta reaching R long-polling clients. Prints full-sync time and bytes, the delta's bytes and its ratio
 * to the full snapshot, propagation p50/p99/max over the R pollers, the region's CPU-seconds per phase
 * and the load average at start and end. The PostgreSQL store with two replicas is `pg-feed.ts`.
 *
 * Run: npm run bench:build && node dist-bench/bench/fleet/feed.js [--nodes N] [--racks R] [--full]
 *      (--full = 100,000 nodes, 200 racks; default 20,000 nodes, 200 racks)
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRegionChild } from './region-child.js';
import { writeInventoryFile } from '../inventory-file.js';
import { fleetNode } from './fleet-node.js';

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const FULL = process.argv.includes('--full');
const N = arg('--nodes', FULL ? 100_000 : 20_000);
const R = arg('--racks', 200);
const TOKEN = 'bench-cluster-token-0123456789';

/** The bench inventory: N fleet nodes, node `changed` (if any) broken. */
function writeInventory(file: string, changed: number | undefined): Promise<void> {
  return writeInventoryFile(file, N, (i) => fleetNode(i, i === changed ? 'broken' : 'deployed'));
}

/** utime+stime of a process in seconds, from /proc/<pid>/stat. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

const q = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0;

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'edgeboot-bench-fleet-'));
  const load0 = loadavg()[0]!;
  try {
    await writeInventory(join(dir, 'inventory.json'), undefined);
    writeFileSync(join(dir, 'tokens.yaml'), `clusters:\n  rack-a: ${TOKEN}\n`);
    const region = await startRegionChild(['--inventory', join(dir, 'inventory.json'), '--tokens', join(dir, 'tokens.yaml')]);
    const base = `http://127.0.0.1:${region.port}/api/v1/clusters/rack-a`;
    const headers = { authorization: `Bearer ${TOKEN}`, 'accept-encoding': 'gzip' };
    try {
      // First full sync: gzip bytes as on the wire, then parse (a rack also validates; bench/sync.ts measures that).
      const cpu0 = cpuSeconds(region.pid);
      let t = performance.now();
      const res = await fetch(`${base}/snapshot`, { headers });
      const wire = Buffer.from(await res.arrayBuffer());
      const snap = JSON.parse(wire.toString()) as { revision: number; nodes: unknown[] };
      const fullMs = performance.now() - t;
      const fullBytes = Number(res.headers.get('content-length') ?? wire.length);
      const rawBytes = Buffer.byteLength(JSON.stringify(snap));
      const cpuFull = cpuSeconds(region.pid) - cpu0;
      console.log(`nodes ${N}, racks ${R}, load average at start ${load0.toFixed(2)}`);
      console.log(`first full sync: ${fullMs.toFixed(0)} ms, ${snap.nodes.length} nodes, ${fullBytes} bytes on the wire (${rawBytes} as JSON), region CPU ${cpuFull.toFixed(2)} s`);

      // R long pollers on `since`; one node changes; each measures when its answer arrives.
      const since = snap.revision;
      const polls = Array.from({ length: R }, () =>
        fetch(`${base}/changes?since=${since}&wait=60`, { headers }).then(async (r) => {
          const body = Buffer.from(await r.arrayBuffer());
          return { at: performance.now(), status: r.status, bytes: Number(r.headers.get('content-length') ?? body.length), body: body.toString() };
        }),
      );
      await new Promise((r) => setTimeout(r, 1500));
      await writeInventory(join(dir, 'inventory.json'), 7);
      const cpu1 = cpuSeconds(region.pid);
      t = performance.now();
      region.reload();
      const answers = await Promise.all(polls);
      const cpuDelta = cpuSeconds(region.pid) - cpu1;
      const lat = answers.map((a) => a.at - t).sort((a, b) => a - b);
      const bad = answers.filter((a) => a.status !== 200 || !a.body.includes('"n000007"'));
      const bytes = answers[0]!.bytes;
      console.log(`one-node change to ${R} long-polling racks: p50 ${q(lat, 0.5).toFixed(0)} ms, p99 ${q(lat, 0.99).toFixed(0)} ms, max ${lat.at(-1)!.toFixed(0)} ms (from SIGHUP: the file store re-reads all ${N} nodes), wrong answers ${bad.length}`);
      console.log(`delta bytes on the wire: ${bytes} (full snapshot ${fullBytes}: ratio 1:${Math.round(fullBytes / bytes)}), region CPU for reload + ${R} answers ${cpuDelta.toFixed(2)} s`);
      console.log(`load average at end ${loadavg()[0]!.toFixed(2)}`);
    } finally {
      region.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
