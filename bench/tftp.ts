/**
 * TFTP throughput: edgeboot vs tftpd-hpa (in.tftpd, lock-step) and vs atftpd (the windowed peer, RFC 7440)
 * on the same files in the same run, with the same real client (atftp). atftpd conflicts with tftpd-hpa in
 * Debian, so its binary is extracted from the package (`apt-get download atftpd` + `dpkg-deb -x`) into
 * `--atftpd-cache DIR` (default /var/tmp/edgeboot-bench-atftpd) the first time. Build first (`npm run bench:build`), then
 * `node dist-bench/bench/tftp.js [--runs N] [--no-pin] [--concurrent-only | --windowed-only] [--cpu-prof DIR]`.
 * Servers and single-transfer clients share one CPU (taskset) because unpinned loopback runs flip between
 * fast and slow modes; the 200 concurrent clients get the other CPU. Each server runs in a cgroup of its own,
 * so its CPU-seconds per run count what it forks (in.tftpd: a child per transfer).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { chmodSync, readdirSync, readFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { parseConfig } from '../src/config/config.js';
import { MetricsRegistry } from '../src/core/metrics.js';
import { composeCore } from '../src/main.js';
import { TftpService } from '../src/tftp/server.js';
import { CpuGroup } from './cpu-group.js';

const BIG = 64 * 1024 * 1024;
const SMALL = 1024 * 1024;
const CONCURRENT = 200;

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

/** `--serve DIR`: run edgeboot's TFTP service on 127.0.0.1:0 over DIR/boot and print its port. */
async function serveMode(dir: string): Promise<void> {
  writeFileSync(join(dir, 'inventory.yaml'), 'nodes: []\n');
  const config = parseConfig(
    { inventory: 'inventory.yaml', boot_root: 'boot', loader_dirs: [], answers: { key_file: 'key' } },
    join(dir, 'edgeboot.yaml'),
  );
  const log = pino({ level: process.env.BLOG ?? 'warn' }, pino.destination(join(dir, 'edgeboot.log')));
  const core = await composeCore(config, log);
  await core.inventory.start();
  const tftp = new TftpService({
    boot: core.boot,
    bootRoot: config.boot_root,
    loaderDirs: [],
    log,
    metrics: new MetricsRegistry(),
    port: 0,
    addresses: ['127.0.0.1'],
    maxTransfers: 500,
    maxPerClient: 500,
    maxBlksize: 65464,
    maxWindowsize: 64,
    retries: 6,
    cacheBytes: 64 * 1024 * 1024,
  });
  await tftp.start();
  process.stdout.write(`PORT ${tftp.endpoints()[0]!.port}\n`);
  process.once('SIGTERM', () => {
    tftp.stop(100).then(() => process.exit(0));
  });
}

/** The atftpd binary, extracted from Debian's package into `cache` on first use. */
function atftpdBinary(cache: string): string {
  const bin = join(cache, 'root', 'usr', 'sbin', 'atftpd');
  if (existsSync(bin)) return bin;
  mkdirSync(cache, { recursive: true });
  execFileSync('apt-get', ['download', 'atftpd'], { cwd: cache, stdio: 'ignore' });
  const deb = readdirSync(cache).find((f) => /^atftpd_.*\.deb$/.test(f));
  if (!deb) throw new Error(`apt-get download atftpd left no .deb in ${cache}`);
  execFileSync('dpkg-deb', ['-x', join(cache, deb), join(cache, 'root')]);
  return bin;
}

function freeUdpPort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    s.bind(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function pin(cpu: string | undefined, cmd: string, args: string[]): [string, string[]] {
  return cpu === undefined ? [cmd, args] : ['taskset', ['-c', cpu, cmd, ...args]];
}


function runClient(cmd: string, args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const c = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    c.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    c.on('error', reject);
    c.on('close', (code) => (code === 0 ? resolve(0) : reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${err.trim()}`))));
  });
}

function atftp(port: number, remote: string, local: string, options: string[], cpu: string | undefined): [string, string[]] {
  const opts = options.flatMap((o) => ['--option', o]);
  return pin(cpu, 'atftp', [...opts, '-g', '-r', remote, '-l', local, '127.0.0.1', String(port)]);
}

/** Seconds for one 64 MiB download, output size checked. */
async function single(port: number, out: string, options: string[], cpu: string | undefined): Promise<number> {
  rmSync(out, { force: true });
  const t0 = performance.now();
  await runClient(...atftp(port, 'big.bin', out, options, cpu));
  const s = (performance.now() - t0) / 1000;
  if (statSync(out).size !== BIG) throw new Error(`short download from port ${port}`);
  return s;
}

/** Seconds for CONCURRENT simultaneous 1 MiB downloads; NaN (and a printed line naming `who`) when any failed. */
async function concurrent(port: number, outDir: string, cpu: string | undefined, who: string): Promise<number> {
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir);
  const t0 = performance.now();
  // Every client is waited for before a failure is reported: one failing early must not leave the others
  // writing into a folder the caller is removing (which hid the failure behind an ENOTEMPTY).
  const results = await Promise.allSettled(
    Array.from({ length: CONCURRENT }, (_, i) => runClient(...atftp(port, 'small.bin', join(outDir, `f${i}`), ['blksize 1468'], cpu))),
  );
  const failed = results.filter((r) => r.status === 'rejected');
  if (failed.length > 0) {
    // A failed client is a result of the round, not the end of the bench.
    const first = String((failed[0] as PromiseRejectedResult).reason).replace(/\s+/g, ' ');
    console.log(`${who}: ${failed.length} of ${CONCURRENT} concurrent downloads failed; the first: ${first}`);
    return Number.NaN;
  }
  const s = (performance.now() - t0) / 1000;
  for (let i = 0; i < CONCURRENT; i++) if (statSync(join(outDir, `f${i}`)).size !== SMALL) throw new Error('short download');
  return s;
}

function fmt(xs: number[]): string {
  return xs.map((x) => x.toFixed(2)).join(' ');
}

/** The median of the runs that completed (a failed concurrent round is NaN and left out). */
function median(xs: number[]): number {
  const s = xs.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function waitForPort(child: ChildProcess): Promise<number> {
  return new Promise((resolve, reject) => {
    let buf = '';
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      const m = /PORT (\d+)/.exec(buf);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`edgeboot bench server exited ${code}`)));
  });
}

async function driver(): Promise<void> {
  const runs = Number(arg('--runs') ?? 5);
  // `--cpu-prof DIR`: edgeboot runs under `node --cpu-prof` and leaves its profile in DIR.
  const profDir = arg('--cpu-prof');
  const nodeArgs = profDir ? ['--cpu-prof', '--cpu-prof-dir', profDir] : [];
  const pinned = !process.argv.includes('--no-pin');
  const serverCpu = pinned ? '1' : undefined;
  const clientCpu = pinned ? '1' : undefined;
  const crowdCpu = pinned ? '0' : undefined;
  const base = existsSync('/dev/shm') ? '/dev/shm' : undefined;
  const dir = mkdtempSync(join(base ?? '/tmp', 'edgeboot-bench-'));
  const children: ChildProcess[] = [];
  const tag = `edgeboot-bench-tftp-${process.pid}`;
  const groups = {
    eb: CpuGroup.create(`${tag}-eb`),
    hpa: CpuGroup.create(`${tag}-hpa`),
    at: CpuGroup.create(`${tag}-atftpd`),
    floor: CpuGroup.create(`${tag}-floor`),
  };
  try {
    chmodSync(dir, 0o755);
    mkdirSync(join(dir, 'boot'), { mode: 0o755 });
    writeFileSync(join(dir, 'boot', 'big.bin'), randomBytes(BIG), { mode: 0o644 });
    writeFileSync(join(dir, 'boot', 'small.bin'), randomBytes(SMALL), { mode: 0o644 });

    const self = fileURLToPath(import.meta.url);
    const eb = spawn(...groups.eb.wrap(...pin(serverCpu, process.execPath, [...nodeArgs, self, '--serve', dir])), { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(eb);
    groups.eb.track(eb.pid);
    const ebPort = await waitForPort(eb);
    const hpaPort = await freeUdpPort();
    const hpa = spawn(...groups.hpa.wrap(...pin(serverCpu, 'in.tftpd', ['-L', '-a', `127.0.0.1:${hpaPort}`, '-s', join(dir, 'boot')])), { stdio: 'inherit' });
    children.push(hpa);
    groups.hpa.track(hpa.pid);
    const atPort = await freeUdpPort();
    const atBin = atftpdBinary(arg('--atftpd-cache') ?? '/var/tmp/edgeboot-bench-atftpd');
    const at = spawn(
      ...groups.at.wrap(...pin(serverCpu, atBin, ['--daemon', '--no-fork', '--user', 'root', '--group', 'root', '--logfile', '/dev/null', '--bind-address', '127.0.0.1', '--port', String(atPort), join(dir, 'boot')])),
      { stdio: 'inherit' },
    );
    children.push(at);
    groups.at.track(at.pid);
    // The floor: the least a Node lock-step sender can do per block (bench/tftp-floor.ts), pinned like edgeboot.
    const floorJs = join(dirname(self), 'tftp-floor.js');
    const fl = spawn(...groups.floor.wrap(...pin(serverCpu, process.execPath, [floorJs, dir])), { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(fl);
    groups.floor.track(fl.pid);
    const floorPort = await waitForPort(fl);
    await new Promise((r) => setTimeout(r, 300));
    const load0 = loadavg()[0]!;

    const out = join(dir, 'out.bin');
    type Row = { name: string; bytes: number; eb: number[]; hpa: number[]; ebCpu: number[]; hpaCpu: number[]; floorCpu: number[] };
    const row = (name: string, bytes: number): Row => ({ name, bytes, eb: [], hpa: [], ebCpu: [], hpaCpu: [], floorCpu: [] });
    const rows: Row[] = [
      row('64 MiB, blksize 512', BIG),
      row('64 MiB, blksize 1468', BIG),
      row('64 MiB, blksize 1468 + windowsize 8 (hpa: lock-step)', BIG),
      row(`${CONCURRENT} × 1 MiB at once, blksize 1468`, CONCURRENT * SMALL),
    ];
    const opts = [['blksize 512'], ['blksize 1468'], ['blksize 1468', 'windowsize 8']];
    // `--windowed-only` skips the tftpd-hpa comparison (a short run of the atftpd one on a busy machine);
    // `--concurrent-only` runs just the 200-at-once round against tftpd-hpa (a quick CPU check, or a profile).
    const lockStep = !process.argv.includes('--windowed-only');
    const onlyConcurrent = process.argv.includes('--concurrent-only');
    const singles = onlyConcurrent ? [] : opts;
    const ports = { eb: ebPort, hpa: hpaPort, at: atPort, floor: floorPort };
    /** Seconds of `job` and the CPU-seconds `who`'s group used meanwhile. */
    const measured = async (who: 'eb' | 'hpa' | 'at' | 'floor', job: () => Promise<number>): Promise<[number, number]> => {
      const c0 = groups[who].seconds();
      const s = await job();
      return [s, groups[who].seconds() - c0];
    };
    // One untimed pass first: both servers warm (edgeboot's JIT, both page caches) before anything counts.
    for (const port of lockStep ? [ebPort, hpaPort] : []) {
      for (const o of singles) await single(port, out, o, clientCpu);
      await concurrent(port, join(dir, 'crowd'), crowdCpu, port === ebPort ? 'edgeboot (warm-up)' : 'tftpd-hpa (warm-up)');
    }
    for (const o of lockStep ? singles.slice(0, 2) : []) await single(floorPort, out, o, clientCpu);
    for (let r = 0; r < (lockStep ? runs : 0); r++) {
      // Alternate which server goes first so drift on the machine falls on both.
      const order: Array<'eb' | 'hpa'> = r % 2 === 0 ? ['eb', 'hpa'] : ['hpa', 'eb'];
      const record = (i: number, who: 'eb' | 'hpa', [s, cpu]: [number, number]) => {
        rows[i]![who].push(s);
        rows[i]![`${who}Cpu`].push(cpu);
      };
      for (const [i, o] of singles.entries()) {
        for (const who of order) record(i, who, await measured(who, () => single(ports[who], out, o, clientCpu)));
        // Lock-step rows only: the floor has no windows.
        if (i < 2) rows[i]!.floorCpu.push((await measured('floor', () => single(floorPort, out, o, clientCpu)))[1]);
      }
      for (const who of order) {
        record(3, who, await measured(who, () => concurrent(ports[who], join(dir, 'crowd'), crowdCpu, who === 'eb' ? 'edgeboot' : 'tftpd-hpa')));
      }
    }

    // Windowed: edgeboot vs atftpd, both honouring windowsize; CPU-seconds of each server per run.
    const wopts = onlyConcurrent ? [] : [['blksize 1468', 'windowsize 8'], ['blksize 1468', 'windowsize 16']];
    const wrows = wopts.map((o) => ({ name: `64 MiB, ${o.join(' + ')}`, eb: [] as number[], at: [] as number[], ebCpu: [] as number[], atCpu: [] as number[] }));
    for (const o of wopts) for (const port of [ebPort, atPort]) await single(port, out, o, clientCpu);
    for (let r = 0; r < (wopts.length > 0 ? runs : 0); r++) {
      const order: Array<'eb' | 'at'> = r % 2 === 0 ? ['eb', 'at'] : ['at', 'eb'];
      for (const [i, o] of wopts.entries()) {
        for (const who of order) {
          const [s, cpu] = await measured(who, () => single(ports[who], out, o, clientCpu));
          wrows[i]![who].push(s);
          wrows[i]![`${who}Cpu`].push(cpu);
        }
      }
    }

    const mbps = (bytes: number, s: number) => bytes / 1e6 / s;
    const cpuCell = (a: number[], b: number[]) => `${median(a).toFixed(2)} | ${median(b).toFixed(2)}`;
    const lines = [
      `edgeboot vs tftpd-hpa ${pinned ? '(taskset: servers cpu 1, clients cpu 1; crowd clients cpu 0)' : '(unpinned)'}, median of ${runs}, client atftp`,
      `server CPU: ${groups.eb.method}`,
      'seconds per run (edgeboot | tftpd-hpa):',
    ];
    const shown = lockStep ? rows.filter((_, i) => !onlyConcurrent || i === 3) : [];
    for (const r of shown) lines.push(`  ${r.name.padEnd(54)} ${fmt(r.eb)} | ${fmt(r.hpa)}`);
    lines.push('server CPU-seconds per run (edgeboot | tftpd-hpa):');
    for (const r of shown) lines.push(`  ${r.name.padEnd(54)} ${fmt(r.ebCpu)} | ${fmt(r.hpaCpu)}`);
    lines.push(
      '',
      `${'scenario'.padEnd(56)} ${'edgeboot MB/s'.padStart(14)} ${'tftpd-hpa MB/s'.padStart(15)} ${'ratio'.padStart(7)} ${'CPU-s/run eb | hpa'.padStart(20)} ${'CPU ratio'.padStart(10)}`,
    );
    for (const r of shown) {
      const e = mbps(r.bytes, median(r.eb));
      const h = mbps(r.bytes, median(r.hpa));
      const cpuRatio = median(r.ebCpu) / median(r.hpaCpu);
      lines.push(
        `${r.name.padEnd(56)} ${e.toFixed(1).padStart(14)} ${h.toFixed(1).padStart(15)} ${(e / h).toFixed(2).padStart(7)} ${cpuCell(r.ebCpu, r.hpaCpu).padStart(20)} ${cpuRatio.toFixed(2).padStart(10)}`,
      );
    }
    const floorRows = shown.filter((r) => r.floorCpu.length > 0);
    if (floorRows.length > 0) {
      lines.push('', 'the floor: a bare Node lock-step sender (bench/tftp-floor.ts: one event in, one send out, no checks), CPU-seconds per run:');
      for (const r of floorRows) {
        lines.push(`  ${r.name.padEnd(54)} ${fmt(r.floorCpu)}   edgeboot / floor ${(median(r.ebCpu) / median(r.floorCpu)).toFixed(2)}, tftpd-hpa / floor ${(median(r.hpaCpu) / median(r.floorCpu)).toFixed(2)}`);
      }
    }
    if (wrows.length > 0) {
      lines.push('', `edgeboot vs atftpd ${atBin} (windowed, RFC 7440), median of ${runs}, seconds per run (edgeboot | atftpd):`);
      for (const r of wrows) lines.push(`  ${r.name.padEnd(54)} ${fmt(r.eb)} | ${fmt(r.at)}`);
      lines.push(`${'scenario'.padEnd(56)} ${'edgeboot MB/s'.padStart(14)} ${'atftpd MB/s'.padStart(12)} ${'ratio'.padStart(7)} ${'CPU-s/run eb | atftpd'.padStart(22)}`);
      for (const r of wrows) {
        const e = mbps(BIG, median(r.eb));
        const a = mbps(BIG, median(r.at));
        lines.push(`${r.name.padEnd(56)} ${e.toFixed(1).padStart(14)} ${a.toFixed(1).padStart(12)} ${(e / a).toFixed(2).padStart(7)} ${cpuCell(r.ebCpu, r.atCpu).padStart(22)}`);
      }
    }
    lines.push(`load average (1 min): ${load0.toFixed(2)} at start, ${loadavg()[0]!.toFixed(2)} at end`);
    // edgeboot logs a transfer that did not end well at warn (the level the bench runs it at): count them by
    // outcome, so a failed client can be told apart from a server-side timeout.
    const warned = new Map<string, number>();
    for (const line of readFileSync(join(dir, 'edgeboot.log'), 'utf8').split('\n')) {
      if (!line.includes('"msg":"tftp transfer"')) continue;
      const outcome = /"outcome":"(\w+)"/.exec(line)?.[1] ?? 'unknown';
      warned.set(outcome, (warned.get(outcome) ?? 0) + 1);
    }
    lines.push(`edgeboot transfers logged at warn: ${warned.size === 0 ? 'none' : [...warned].map(([k, n]) => `${n} ${k}`).join(', ')}`);
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    // The servers exit on SIGTERM (edgeboot writes its --cpu-prof profile then); the groups end any stragglers.
    await Promise.all(
      children.map((c) => (c.exitCode === null && c.signalCode === null ? new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 5000);
        c.once('exit', () => {
          clearTimeout(t);
          resolve();
        });
        c.kill('SIGTERM');
      }) : undefined)),
    );
    for (const g of Object.values(groups)) await g.remove();
    rmSync(dir, { recursive: true, force: true });
  }
}

const serveDir = arg('--serve');
if (serveDir) await serveMode(serveDir);
else await driver();
