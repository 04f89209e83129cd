/**
 * HTTP bench: wrk against edgeboot's per-node iPXE route (rendered on every request) and /boot.ipxe, each
 * against nginx serving a static file of the same size, interleaved (edgeboot, nginx, edgeboot, …) with the
 * same settings; then a 64 MiB download, edgeboot against nginx (sendfile), by curl. Both servers are pinned
 * to CPU 0 and the clients to CPU 1. Prints requests/s, p99, each server's CPU-seconds, the load average at
 * start and end, and the ratios. CPU per request (server CPU-seconds from /proc over the requests wrk counted)
 * is the figure that stays meaningful on a busy machine: wall-clock req/s and p99 there measure the neighbours.
 *
 * Usage: node dist-bench/bench/http.js [--duration 5] [--connections 32] [--rounds 2] [--downloads 8]
 *        [--rate 2000] [--paced-rounds N] [--routes-only | --files-only] [--nginx-log on|off] [--cpu-prof DIR]
 * Each route is also run paced at `--rate` requests/s (8 connections, each waiting its share between requests),
 * a load both servers sustain, where the p50s and p99s compare latency rather than queueing (`--paced-rounds`
 * interleaved rounds, default `--rounds`; the tail of one 5-second round on a shared machine is mostly its
 * neighbours, so take several). `--routes-only` skips the
 * downloads, `--files-only` the routes. Downloads: a 64 MiB kernel (sent from edgeboot's memory cache) and a
 * squashfs one byte over the cache's per-file limit (streamed from disk in 1 MiB reads), each against nginx; `--cpu-prof DIR` runs edgeboot under `node --cpu-prof` and
 * leaves its profile in DIR (written when it stops; open it in Chrome DevTools).
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadavg } from 'node:os';
import { childPids, freePort, procStats, run, startChild, stopChild, table, waitHttp } from '../test/support/processes.js';

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '5' },
    connections: { type: 'string', default: '32' },
    rounds: { type: 'string', default: '2' },
    downloads: { type: 'string', default: '8' },
    'routes-only': { type: 'boolean', default: false },
    'files-only': { type: 'boolean', default: false },
    rate: { type: 'string', default: '2000' },
    'cpu-prof': { type: 'string' },
    'paced-rounds': { type: 'string' },
    'nginx-log': { type: 'string', default: 'on' },
  },
});
const ROOT = resolve(import.meta.dirname, '../..');

interface WrkResult {
  rps: number;
  p50ms: number;
  p99ms: number;
  non2xx: number;
}

function toMs(v: string, unit: string): number {
  const n = Number(v);
  return unit === 'us' ? n / 1000 : unit === 's' ? n * 1000 : n;
}

/** wrk unthrottled, or paced by `script` (a Lua file whose delay() spaces each connection's requests). */
async function wrk(url: string, paced?: { script: string; connections: number }): Promise<WrkResult> {
  const shape = paced ? [`-c${paced.connections}`, '-s', paced.script] : [`-c${values.connections}`];
  const out = await run('taskset', ['-c', '1', 'wrk', '-t1', ...shape, `-d${values.duration}s`, '--latency', url]);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
  const p50 = /\s50%\s+([\d.]+)(us|ms|s)/.exec(out);
  const p99 = /\s99%\s+([\d.]+)(us|ms|s)/.exec(out);
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
  if (!rps || !p50 || !p99) throw new Error(`could not read wrk output:\n${out}`);
  return { rps, p50ms: toMs(p50[1]!, p50[2]!), p99ms: toMs(p99[1]!, p99[2]!), non2xx };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'edgeboot-bench-http-'));
  // nginx workers run as www-data: the static root must be readable by them.
  chmodSync(dir, 0o755);
  const children = [];
  try {
    const ebPort = await freePort();
    const ngPort = await freePort();
    const cfg = join(dir, 'edgeboot.yaml');
    mkdirSync(join(dir, 'boot'));
    writeFileSync(
      cfg,
      [
        `inventory: ${join(ROOT, 'examples/inventory.yaml')}`,
        `boot_root: ${join(dir, 'boot')}`,
        'tftp: { enabled: false }',
        // Files up to 64 MiB are held in memory (the default limit is 128 MiB): the 64 MiB kernel is sent from
        // memory, the squashfs one byte over the limit is streamed from disk, as an image too large to hold would be.
        `http: { port: ${ebPort}, listen: 127.0.0.1, cache_file_bytes: ${64 * 1024 * 1024} }`,
        `answers: { key_file: ${join(dir, 'key')} }`,
        'log: { level: info }',
        '',
      ].join('\n'),
    );
    const prof = values['cpu-prof'] ? ['--cpu-prof', `--cpu-prof-dir=${resolve(values['cpu-prof'])}`] : [];
    const eb = startChild('taskset', ['-c', '0', process.execPath, ...prof, join(ROOT, 'dist/src/cli/edgeboot.js'), 'serve', '--config', cfg]);
    children.push(eb);
    const nodeUrl = `http://127.0.0.1:${ebPort}/ipxe/node/52-54-00-12-34-56?buildarch=x86_64&platform=pcbios`;
    await waitHttp(`http://127.0.0.1:${ebPort}/healthz`);
    const sample = await (await fetch(nodeUrl)).text();

    const www = join(dir, 'www');
    mkdirSync(www);
    writeFileSync(join(www, 'node.ipxe'), sample);
    mkdirSync(join(dir, 'nginx-tmp'));
    // Like edgeboot's request line, nginx's default: one access-log line per request (combined format), to
    // the same sink edgeboot's stdout goes to here. `--nginx-log off` compares against nginx not logging.
    const nginxLog = values['nginx-log'] === 'off' ? 'access_log off;' : 'access_log /dev/null combined;';
    writeFileSync(
      join(dir, 'nginx.conf'),
      `worker_processes 1;\npid ${dir}/nginx.pid;\nerror_log ${dir}/nginx-error.log;\nevents { worker_connections 1024; }\nhttp {\n  ${nginxLog}\n  sendfile on;\n  client_body_temp_path ${dir}/nginx-tmp;\n  default_type text/plain;\n  server { listen 127.0.0.1:${ngPort}; root ${www}; }\n}\n`,
    );
    console.log(`edgeboot logs one JSON line per request to its stdout (/dev/null here); nginx: ${nginxLog}`);
    const ng = startChild('taskset', ['-c', '0', 'nginx', '-c', join(dir, 'nginx.conf'), '-g', 'daemon off;']);
    children.push(ng);
    const staticUrl = `http://127.0.0.1:${ngPort}/node.ipxe`;
    await waitHttp(staticUrl);

    const ebCpu = () => procStats(eb.pid!)?.cpuS ?? 0;
    // nginx's work is done by its worker(s); the master only forks them.
    const ngCpu = () => [ng.pid!, ...childPids(ng.pid!)].reduce((sum, pid) => sum + (procStats(pid)?.cpuS ?? 0), 0);
    const cpuOf = async <T>(f: () => Promise<T>, cpu: () => number): Promise<[T, number]> => {
      const before = cpu();
      const r = await f();
      return [r, cpu() - before];
    };
    const bootUrl = `http://127.0.0.1:${ebPort}/boot.ipxe`;
    writeFileSync(join(www, 'boot.ipxe'), await (await fetch(bootUrl)).text());
    const bootStatic = `http://127.0.0.1:${ngPort}/boot.ipxe`;
    const load0 = loadavg()[0]!;

    // Warm both (JIT, caches), then measure, interleaved.
    for (const u of [nodeUrl, staticUrl, bootUrl, bootStatic]) await run('taskset', ['-c', '1', 'wrk', '-t1', '-c8', '-d2s', u]);
    const pairs = [
      { name: '/ipxe/node/<mac> (rendered)', ours: nodeUrl, theirs: staticUrl, bytes: sample.length },
      { name: '/boot.ipxe', ours: bootUrl, theirs: bootStatic, bytes: readFileSync(join(www, 'boot.ipxe')).length },
    ];
    let failed = false;
    const pacedConnections = 8;
    const pacedDelayMs = (pacedConnections * 1000) / Number(values.rate);
    const paced = { script: join(dir, 'paced.lua'), connections: pacedConnections };
    writeFileSync(paced.script, `function delay()\n  return ${pacedDelayMs}\nend\n`);
    for (const pair of values['files-only'] ? [] : pairs) {
      const rows: string[][] = [];
      const o: WrkResult[] = [];
      const t: WrkResult[] = [];
      const oc: number[] = [];
      const tc: number[] = [];
      for (let r = 0; r < Number(values.rounds); r++) {
        const [a, ac] = await cpuOf(() => wrk(pair.ours), ebCpu);
        const [b, bc] = await cpuOf(() => wrk(pair.theirs), ngCpu);
        o.push(a);
        t.push(b);
        const dur = Number(values.duration);
        rows.push([`edgeboot ${pair.name} #${r + 1}`, a.rps.toFixed(0), a.p99ms.toFixed(2), String(a.non2xx), ac.toFixed(2), ((ac / (a.rps * dur)) * 1e6).toFixed(0)]);
        rows.push([`nginx static ${pair.bytes} B #${r + 1}`, b.rps.toFixed(0), b.p99ms.toFixed(2), String(b.non2xx), bc.toFixed(2), ((bc / (b.rps * dur)) * 1e6).toFixed(0)]);
        oc.push(ac / (a.rps * dur));
        tc.push(bc / (b.rps * dur));
        if (a.non2xx > 0) failed = true;
      }
      const med = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
      const rps = med(o.map((x) => x.rps)) / med(t.map((x) => x.rps));
      const p99 = med(o.map((x) => x.p99ms)) - med(t.map((x) => x.p99ms));
      console.log(`\nHTTP bench ${pair.name}: ${pair.bytes}-byte answer, wrk -t1 -c${values.connections} -d${values.duration}s; servers on CPU 0, wrk on CPU 1`);
      console.log(table(['server', 'req/s', 'p99 ms', 'non-2xx', 'server CPU s', 'CPU us/req'], rows));
      console.log(`ratio edgeboot/nginx ${pair.name}: req/s ${rps.toFixed(2)}x (target >= 0.5), p99 difference ${p99.toFixed(2)} ms (target <= +1 ms), server CPU per request ${(med(oc) / med(tc)).toFixed(2)}x`);
      console.log(`CPU per request ${pair.name}: edgeboot ${(med(oc) * 1e6).toFixed(0)} us, nginx ${(med(tc) * 1e6).toFixed(0)} us (medians); load average (1 min) now ${loadavg()[0]!.toFixed(2)}`);
      // The same route paced at a rate both sustain: the p99 difference is the latency edgeboot adds.
      const pacedRows: string[][] = [];
      const po: number[] = [];
      const pt: number[] = [];
      const p50o: number[] = [];
      const p50t: number[] = [];
      for (let r = 0; r < Number(values['paced-rounds'] ?? values.rounds); r++) {
        const a = await wrk(pair.ours, paced);
        const b = await wrk(pair.theirs, paced);
        po.push(a.p99ms);
        pt.push(b.p99ms);
        p50o.push(a.p50ms);
        p50t.push(b.p50ms);
        if (a.non2xx > 0) failed = true;
        pacedRows.push(
          [`edgeboot #${r + 1}`, a.rps.toFixed(0), a.p50ms.toFixed(2), a.p99ms.toFixed(2)],
          [`nginx #${r + 1}`, b.rps.toFixed(0), b.p50ms.toFixed(2), b.p99ms.toFixed(2)],
        );
      }
      console.log(`${pair.name} paced at a nominal ${values.rate} req/s (wrk -c${paced.connections}, ${pacedDelayMs.toFixed(1)} ms between a connection's requests):`);
      console.log(table(['server', 'req/s', 'p50 ms', 'p99 ms'], pacedRows));
      console.log(
        `ratio edgeboot/nginx ${pair.name} paced: p50 difference ${(med(p50o) - med(p50t)).toFixed(2)} ms, p99 difference ${(med(po) - med(pt)).toFixed(2)} ms (target <= +1 ms; medians of ${po.length} rounds)`,
      );
    }
    if (values['routes-only']) {
      console.log(`load average (1 min): ${load0.toFixed(2)} at start, ${loadavg()[0]!.toFixed(2)} at end`);
      if (failed) {
        console.error('edgeboot answered non-2xx responses during the bench');
        process.exitCode = 1;
      }
      return;
    }

    // Downloads: throughput and server CPU-seconds per GiB, interleaved, for both ways edgeboot sends a file.
    const big = randomBytes(64 * 1024 * 1024);
    const over = Buffer.concat([big, Buffer.from('x')]);
    mkdirSync(join(dir, 'boot/images'), { recursive: true });
    writeFileSync(join(dir, 'boot/images/kernel'), big);
    writeFileSync(join(dir, 'boot/images/squashfs'), over);
    writeFileSync(join(www, 'kernel'), big);
    writeFileSync(join(www, 'squashfs'), over);
    const n = Number(values.downloads);
    const download = async (url: string, size: number): Promise<number> => {
      const started = process.hrtime.bigint();
      for (let i = 0; i < n; i++) {
        const out = await run('taskset', ['-c', '1', 'curl', '-sS', '-o', '/dev/null', '-w', '%{size_download}', url]);
        if (Number(out) !== size) throw new Error(`${url}: ${out} bytes, not ${size}`);
      }
      return Number(process.hrtime.bigint() - started) / 1e9;
    };
    const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
    for (const f of [
      { name: 'kernel', label: '64 MiB kernel (edgeboot: from memory)', size: big.length },
      { name: 'squashfs', label: '64 MiB + 1 B squashfs (edgeboot: streamed from disk)', size: over.length },
    ]) {
      // Warm both first: edgeboot reads the file into its cache on the first request, nginx into the page cache.
      await run('taskset', ['-c', '1', 'curl', '-sS', '-o', '/dev/null', `http://127.0.0.1:${ebPort}/images/${f.name}`]);
      await run('taskset', ['-c', '1', 'curl', '-sS', '-o', '/dev/null', `http://127.0.0.1:${ngPort}/${f.name}`]);
      const gib = (n * f.size) / 2 ** 30;
      const fileRows: string[][] = [];
      const eRates: number[] = [];
      const nRates: number[] = [];
      const eCpu: number[] = [];
      const nCpu: number[] = [];
      for (let r = 0; r < Number(values.rounds); r++) {
        const [es, ec] = await cpuOf(() => download(`http://127.0.0.1:${ebPort}/images/${f.name}`, f.size), ebCpu);
        const [ns, nc] = await cpuOf(() => download(`http://127.0.0.1:${ngPort}/${f.name}`, f.size), ngCpu);
        eRates.push(gib / es);
        nRates.push(gib / ns);
        eCpu.push(ec / gib);
        nCpu.push(nc / gib);
        fileRows.push([`edgeboot #${r + 1}`, (gib / es).toFixed(2), (ec / gib).toFixed(3)]);
        fileRows.push([`nginx (sendfile) #${r + 1}`, (gib / ns).toFixed(2), (nc / gib).toFixed(3)]);
      }
      console.log(`\n${f.label}: ${n} sequential curl downloads per round, ${values.rounds} rounds; servers on CPU 0, curl on CPU 1`);
      console.log(table(['server', 'GiB/s', 'server CPU s per GiB'], fileRows));
      console.log(
        `ratio edgeboot/nginx ${f.name}: throughput ${(sum(eRates) / sum(nRates)).toFixed(2)}x (target >= 0.9), CPU per GiB ${(sum(eCpu) / Math.max(sum(nCpu), 1e-9)).toFixed(2)}x (target <= 2)`,
      );
    }
    console.log(`load average (1 min): ${load0.toFixed(2)} at start, ${loadavg()[0]!.toFixed(2)} at end`);
    if (failed) {
      console.error('edgeboot answered non-2xx responses during the bench');
      process.exitCode = 1;
    }
  } finally {
    for (const c of children) await stopChild(c);
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
