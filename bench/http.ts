/**
 * HTTP bench: wrk against edgeboot's per-node iPXE route (rendered on every request) and against
 * nginx serving a static file of the same size, in the same run with the same settings.
 * Both servers are pinned to CPU 0 and wrk to CPU 1. Prints requests/s, p99 and the ratios.
 *
 * Usage: node dist-bench/bench/http.js [--duration 10] [--connections 32]
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { freePort, run, startChild, stopChild, table, waitHttp } from '../test/support/processes.js';

const { values } = parseArgs({
  options: { duration: { type: 'string', default: '10' }, connections: { type: 'string', default: '32' } },
});
const ROOT = resolve(import.meta.dirname, '../..');

interface WrkResult {
  rps: number;
  p99ms: number;
  non2xx: number;
}

function toMs(v: string, unit: string): number {
  const n = Number(v);
  return unit === 'us' ? n / 1000 : unit === 's' ? n * 1000 : n;
}

async function wrk(url: string): Promise<WrkResult> {
  const out = await run('taskset', ['-c', '1', 'wrk', '-t1', `-c${values.connections}`, `-d${values.duration}s`, '--latency', url]);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
  const p99 = /\s99%\s+([\d.]+)(us|ms|s)/.exec(out);
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
  if (!rps || !p99) throw new Error(`could not read wrk output:\n${out}`);
  return { rps, p99ms: toMs(p99[1]!, p99[2]!), non2xx };
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
        `http: { port: ${ebPort}, listen: 127.0.0.1 }`,
        `answers: { key_file: ${join(dir, 'key')} }`,
        'log: { level: info }',
        '',
      ].join('\n'),
    );
    const eb = startChild('taskset', ['-c', '0', process.execPath, join(ROOT, 'dist/src/cli/edgeboot.js'), 'serve', '--config', cfg]);
    children.push(eb);
    const nodeUrl = `http://127.0.0.1:${ebPort}/ipxe/node/52-54-00-12-34-56?buildarch=x86_64&platform=pcbios`;
    await waitHttp(`http://127.0.0.1:${ebPort}/healthz`);
    const sample = await (await fetch(nodeUrl)).text();

    const www = join(dir, 'www');
    mkdirSync(www);
    writeFileSync(join(www, 'node.ipxe'), sample);
    mkdirSync(join(dir, 'nginx-tmp'));
    writeFileSync(
      join(dir, 'nginx.conf'),
      `worker_processes 1;\npid ${dir}/nginx.pid;\nerror_log ${dir}/nginx-error.log;\nevents { worker_connections 1024; }\nhttp {\n  access_log off;\n  client_body_temp_path ${dir}/nginx-tmp;\n  default_type text/plain;\n  server { listen 127.0.0.1:${ngPort}; root ${www}; }\n}\n`,
    );
    const ng = startChild('taskset', ['-c', '0', 'nginx', '-c', join(dir, 'nginx.conf'), '-g', 'daemon off;']);
    children.push(ng);
    const staticUrl = `http://127.0.0.1:${ngPort}/node.ipxe`;
    await waitHttp(staticUrl);

    // Warm both (JIT, caches), then measure.
    await run('taskset', ['-c', '1', 'wrk', '-t1', '-c8', '-d2s', nodeUrl]);
    await run('taskset', ['-c', '1', 'wrk', '-t1', '-c8', '-d2s', staticUrl]);
    const ours = await wrk(nodeUrl);
    const theirs = await wrk(staticUrl);
    const rows = [
      ['nginx static file', theirs.rps.toFixed(0), theirs.p99ms.toFixed(2), String(theirs.non2xx)],
      ['edgeboot /ipxe/node (rendered)', ours.rps.toFixed(0), ours.p99ms.toFixed(2), String(ours.non2xx)],
    ];
    console.log(`HTTP bench: ${sample.length}-byte iPXE script, wrk -t1 -c${values.connections} -d${values.duration}s; servers on CPU 0, wrk on CPU 1`);
    console.log(table(['server', 'req/s', 'p99 ms', 'non-2xx'], rows));
    console.log(`ratio edgeboot/nginx: throughput ${(ours.rps / theirs.rps).toFixed(2)}x, p99 ${(ours.p99ms / theirs.p99ms).toFixed(2)}x`);
    if (ours.non2xx > 0) {
      console.error('edgeboot answered non-2xx responses during the bench');
      process.exitCode = 1;
    }
  } finally {
    for (const c of children) await stopChild(c);
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
