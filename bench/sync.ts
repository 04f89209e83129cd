/**
 * Region sync at scale: a reference region (child process) serves a 100,000-node snapshot; this process
 * follows it as a rack would. Prints fetch+validate+index time, RSS after load (this process and the
 * region helper process), and lookup latency with no reload and during reloads in which no node, 1 % of
 * the nodes and every node changed, next to the naive peer (JSON.parse + parse in one go on the main
 * thread) measured in the same run.
 *
 * Run: npm run bench:build && node --expose-gc dist-bench/bench/sync.js [nodes]
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLogger } from '../src/core/log.js';
import { type MacAddress, parseMac } from '../src/core/mac.js';
import { NodeStore } from '../src/sync/nodes/node-store.js';
import { RegionClient } from '../src/sync/region/region-client.js';
import { HelperSnapshotFetcher, snapshotFetcher } from '../src/sync/region/region-fetcher.js';
import { RegionSource } from '../src/sync/region/region-source.js';
import { parseSnapshot } from '../src/contract/snapshot-schema.js';
import { writeInventoryFile } from './inventory-file.js';

const N = Number(process.argv[2] ?? 100_000);
const TOKEN = 'bench-cluster-token-0123456789';
const here = fileURLToPath(new URL('.', import.meta.url));
// The product as built by `npm run build` (dist/), not the copy bench/tsconfig.json compiles alongside.
const CLI = resolve(here, '../../dist/src/cli/edgeboot.js');

function macOf(i: number): string {
  const h = i.toString(16).padStart(6, '0');
  return `52:54:${h.slice(0, 2)}:${h.slice(2, 4)}:${h.slice(4, 6)}:01`;
}

/** Which nodes differ from the first snapshot: none, every hundredth (status), or all (kernel options). */
type Change = 'none' | 'some' | 'all';

function writeInventory(file: string, change: Change = 'none'): Promise<void> {
  return writeInventoryFile(file, N, (i) => {
    const h = i.toString(16).padStart(6, '0');
    return {
      system_id: `n${h}`,
      hostname: `node-${h}`,
      macs: [macOf(i)],
      uuid: `4c4c4544-0042-3510-8056-${h.padStart(12, '0')}`,
      arch: 'amd64/generic',
      status: (i % 10 === 0) !== (change === 'some' && i % 100 === 0) ? 'deploying' : 'deployed',
      osystem: 'ubuntu',
      release: 'noble',
      kernel_opts: change === 'all' ? 'console=ttyS0,115200' : 'console=ttyS0',
      token: { consumer_key: `ck${h}`, token_key: `tk${h}abcdefgh`, token_secret: `ts${h}abcdefghijklmnop` },
    };
  });
}

function startRegion(dir: string): Promise<{ port: number; stop: () => void; reload: () => void }> {
  // The region stands in for another machine: under SCHED_IDLE its own work (re-reading a 33 MB inventory,
  // serving it) only takes CPU time the rack leaves over, as it would on its own host.
  const args = [process.execPath, CLI, 'region', '--inventory', join(dir, 'inventory.json'), '--tokens', join(dir, 'tokens.yaml'), '--listen', '127.0.0.1:0'];
  const idle = existsSync('/usr/bin/chrt');
  const child = spawn(idle ? '/usr/bin/chrt' : args[0]!, idle ? ['--idle', '0', ...args] : args.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolvePort, reject) => {
    let buf = '';
    child.stdout.on('data', (c: Buffer) => {
      buf += c.toString();
      const m = /"port":(\d+)[^\n]*"region listening"/.exec(buf);
      if (m) resolvePort({ port: Number(m[1]), stop: () => child.kill('SIGTERM'), reload: () => child.kill('SIGHUP') });
    });
    child.once('exit', (code) => reject(new Error(`region exited with ${code}`)));
  });
}

interface Latency {
  samples: number;
  p50: number;
  p99: number;
  max: number;
  wrong: number;
}

/** Every 2 ms, look up 10 random known MACs; latency = answered − scheduled (event-loop stalls included). */
function probe(store: NodeStore, macs: MacAddress[]): { stop: () => Latency } {
  const lat: number[] = [];
  let wrong = 0;
  let stopped = false;
  let due = performance.now();
  const tick = () => {
    if (stopped) return;
    for (let k = 0; k < 10; k++) {
      const mac = macs[Math.floor(Math.random() * macs.length)]!;
      if (store.find({ mac })?.macs[0] !== mac) wrong++;
    }
    lat.push(Math.max(0, performance.now() - due));
    due += 2;
    if (due < performance.now() - 2) due = performance.now();
    setTimeout(tick, Math.max(0, due - performance.now()));
  };
  setTimeout(tick, 0);
  return {
    stop() {
      stopped = true;
      lat.sort((a, b) => a - b);
      const q = (p: number) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] ?? 0;
      return { samples: lat.length, p50: q(0.5), p99: q(0.99), max: lat.at(-1) ?? 0, wrong };
    },
  };
}

const mb = () => Math.round(process.memoryUsage().rss / 1048576);
/** Resident MiB of another process (the region helper), from /proc. */
function mbOf(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Math.round(Number(m[1]) / 1024) : undefined;
}
const gc = () => (globalThis as { gc?: () => void }).gc?.();
const ms = (n: number) => `${n.toFixed(1)} ms`;
const sleep = (n: number) => new Promise((r) => setTimeout(r, n));

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'edgeboot-bench-sync-'));
  try {
    await writeInventory(join(dir, 'inventory.json'));
    writeFileSync(join(dir, 'tokens.yaml'), `clusters:\n  rack-a: ${TOKEN}\n`);
    writeFileSync(join(dir, 'token'), TOKEN);
    const region = await startRegion(dir);
    try {
      gc();
      const rssBefore = mb();
      const client = new RegionClient({ url: `http://127.0.0.1:${region.port}`, clusterId: 'rack-a', tokenFile: join(dir, 'token') });
      const store = new NodeStore();
      const fetcher = snapshotFetcher(client);
      const helperPid = () => (fetcher instanceof HelperSnapshotFetcher ? fetcher.pid : undefined);
      const source = new RegionSource({ client, store, fetcher, log: createLogger('silent') });
      let t = performance.now();
      await source.reload({ throwOnError: true });
      const loadMs = performance.now() - t;
      if (store.status().nodes !== N) throw new Error(`loaded ${store.status().nodes} nodes, expected ${N}`);
      gc();
      await sleep(500);
      gc();
      const rssAfter = mb();
      const helperRss = mbOf(helperPid());
      const macs = Array.from({ length: 1000 }, (_, i) => parseMac(macOf(Math.floor((i * N) / 1000))));

      let p = probe(store, macs);
      await sleep(1500);
      const idle = p.stop();

      // The region's snapshot tag as served now; a change is waited for before each measured reload. Only the
      // tag is kept: a body held here would count against this process's memory and garbage collector.
      const tagOf = async (since?: string) => {
        const a = await client.fetchSnapshot({ etag: since, waitSeconds: 20 });
        if (a.kind !== 'changed') throw new Error('the region did not pick up the new inventory');
        return a.etag;
      };
      let etag = await tagOf();
      const reloads: Array<{ change: Change; ms: number; lat: Latency; version: string }> = [];
      for (const change of ['none', 'some', 'all'] as const) {
        if (change !== 'none') {
          await writeInventory(join(dir, 'inventory.json'), change);
          region.reload();
          etag = await tagOf(etag);
        }
        gc();
        await sleep(1000);
        gc();
        p = probe(store, macs);
        await sleep(50);
        t = performance.now();
        await source.reload({ throwOnError: true });
        const ms = performance.now() - t;
        await sleep(50);
        reloads.push({ change, ms, lat: p.stop(), version: store.status().version });
      }
      const changed = store.snapshot()!.nodes.filter((n) => n.kernelOpts !== 'console=ttyS0,115200').length;
      if (changed !== 0) throw new Error(`${changed} nodes kept their old kernel options after the "all" reload`);

      // The naive peer: the same bytes, parsed and indexed in one synchronous go.
      const answer = await client.fetchSnapshot();
      if (answer.kind !== 'changed') throw new Error('expected a snapshot body');
      p = probe(store, macs);
      await sleep(50);
      t = performance.now();
      store.swap(parseSnapshot(JSON.parse(answer.body.toString('utf8')), 'bench'), 'naive');
      const naiveMs = performance.now() - t;
      await sleep(50);
      const naive = p.stop();
      await source.stop();
      client.close();

      const row = (name: string, l: Latency) =>
        `  ${name.padEnd(34)} p50 ${ms(l.p50).padStart(9)}  p99 ${ms(l.p99).padStart(9)}  max ${ms(l.max).padStart(9)}  (${l.samples} samples, ${l.wrong} wrong answers)`;
      const label: Record<Change, string> = { none: 'no node changed', some: '1 % of nodes changed', all: 'every node changed' };
      const worst = Math.max(...reloads.map((r) => r.lat.p99));
      const out = [
        `edgeboot region sync bench: ${N} nodes, ${(answer.bytes / 1048576).toFixed(1)} MiB snapshot, node ${process.version}; region process ${idle ? 'under SCHED_IDLE (stands in for another host)' : 'at normal priority'}`,
        `  fetch+validate+index          ${ms(loadMs)}   (target < 3000 ms)`,
        `  RSS before / after load        ${rssBefore} MiB / ${rssAfter} MiB   (target < 400 MiB); region helper process ${helperRss ?? '-'} MiB`,
        `  reloads took                   ${reloads.map((r) => `${label[r.change]} ${ms(r.ms)}`).join(', ')}`,
        `  naive peer (parse+index in one go on the main thread) ${ms(naiveMs)}`,
        'lookup latency (10 lookups every 2 ms, answered − scheduled):',
        row('no reload', idle),
        ...reloads.map((r) => row(`during a reload, ${label[r.change]}`, r.lat)),
        row('during the naive peer reload', naive),
        `  worst reload p99 / idle p99: ${worst.toFixed(2)} / ${idle.p99.toFixed(2)} ms; naive p99 ${naive.p99.toFixed(0)} ms`,
      ];
      process.stdout.write(`${out.join('\n')}\n`);
      process.stdout.write(`${JSON.stringify({ nodes: N, bytes: answer.bytes, loadMs, rssBefore, rssAfter, helperRss, reloads, naiveMs, idle, naive })}\n`);
    } finally {
      region.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exitCode = 1;
});
