/**
 * The two boot stacks the storm compares: edgeboot as a separate process (so its RSS and CPU can be read),
 * and the static reference — tftpd-hpa for the loader plus nginx serving pre-rendered copies of every
 * script and answer file — with the same CPU budget.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, randomFillSync } from 'node:crypto';
import { chmodSync, closeSync, linkSync, mkdirSync, openSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { childPids, freePort, procStats, stopChild, waitHttp } from '../../test/support/processes.js';
import { CpuGroup } from '../cpu-group.js';
import { get, machineAgent } from '../../test/support/storm-http.js';
import { type Machine, parseNodeScript } from '../../test/support/storm-machine.js';

/** The package root when running from dist-bench/bench/storm. */
export const ROOT = resolve(import.meta.dirname, '../../..');

/** Payload files of a fixture: TFTP loader name, image URL paths, sizes and hashes. */
export interface Fixture {
  dir: string;
  boot: string;
  loader: { name: string; size: number; sha256: string };
  kernel: { size: number; sha256: string };
  initrd: { size: number; sha256: string };
}

function writeRandom(path: string, size: number): { size: number; sha256: string } {
  const fd = openSync(path, 'w', 0o644);
  const h = createHash('sha256');
  const chunk = Buffer.alloc(1024 * 1024);
  for (let left = size; left > 0; left -= chunk.length) {
    const part = left >= chunk.length ? chunk : chunk.subarray(0, left);
    randomFillSync(part);
    h.update(part);
    writeFileSync(fd, part);
  }
  closeSync(fd);
  return { size, sha256: h.digest('hex') };
}

/** Image directories of the two installers the inventory uses. */
const IMAGE_DIRS = ['images/ubuntu/amd64/generic/noble/stable', 'images/debian/amd64/generic/bookworm/stable'];

/** Write the loader, kernel and initrd (one copy, hard-linked per OS) and an inventory of `machines` deploying nodes. */
export function makeFixture(dir: string, machines: Machine[], sizes: { loader: number; kernel: number; initrd: number }): Fixture {
  const boot = join(dir, 'boot');
  for (const d of IMAGE_DIRS) mkdirSync(join(boot, d), { recursive: true, mode: 0o755 });
  const loader = { name: 'undionly.kpxe', ...writeRandom(join(boot, 'undionly.kpxe'), sizes.loader) };
  const kernel = writeRandom(join(boot, IMAGE_DIRS[0]!, 'kernel'), sizes.kernel);
  const initrd = writeRandom(join(boot, IMAGE_DIRS[0]!, 'initrd'), sizes.initrd);
  for (const f of ['kernel', 'initrd']) linkSync(join(boot, IMAGE_DIRS[0]!, f), join(boot, IMAGE_DIRS[1]!, f));
  const nodes = machines.map((m, i) => ({
    system_id: `storm${i.toString(36).padStart(4, '0')}`,
    hostname: `storm-${i}`,
    macs: [m.mac],
    arch: 'amd64/generic',
    status: 'deploying',
    osystem: i % 2 === 0 ? 'ubuntu' : 'debian',
    release: i % 2 === 0 ? 'noble' : 'bookworm',
    token: { consumer_key: `ck${i}`, token_key: `tk${i}`, token_secret: `ts-${i}-${createHash('sha256').update(String(i)).digest('hex').slice(0, 24)}` },
  }));
  writeFileSync(join(dir, 'inventory.yaml'), stringify({ nodes }));
  return { dir, boot, loader, kernel, initrd };
}

/** A running stack: where machines boot from, and its processes for accounting. */
export interface Stack {
  name: string;
  httpBase: string;
  tftpPort: number;
  /** Peak RSS (MB) and CPU seconds of the stack's processes right now. */
  stats(): { rssMb: number; cpuS: number };
  stop(): Promise<void>;
}

function pinned(cpu: string | undefined, cmd: string, args: string[]): [string, string[]] {
  return cpu === undefined ? [cmd, args] : ['taskset', ['-c', cpu, cmd, ...args]];
}

/**
 * A stack's processes run in a cgroup of their own: in.tftpd forks a child per transfer, and their CPU never
 * reaches the parent's /proc counters (measured: 0.09 s there against 4.1 s in the cgroup for 100 loaders).
 */
function cpuGroup(tag: string): CpuGroup {
  return CpuGroup.create(`edgeboot-storm-${process.pid}-${tag}`);
}

/** How the stacks' CPU is counted, for the printed header. */
export function cpuMethod(): string {
  const g = cpuGroup('probe');
  const m = g.method;
  void g.remove();
  return m;
}

async function freeUdpPort(): Promise<number> {
  const { createSocket } = await import('node:dgram');
  return new Promise((res) => {
    const s = createSocket('udp4');
    s.bind(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}

/** Start `edgeboot serve` as a child (log level info to `<dir>/edgeboot-<tag>.log`). */
export async function startEdgeboot(f: Fixture, o: { cpu?: string; tag: string; config?: Record<string, unknown>; nodeArgs?: string[] }): Promise<Stack & { child: ChildProcess }> {
  const httpPort = await freePort();
  const tftpPort = await freeUdpPort();
  const cfg = join(f.dir, `edgeboot-${o.tag}.yaml`);
  const extra = o.config ?? {};
  writeFileSync(
    cfg,
    stringify({
      inventory: join(f.dir, 'inventory.yaml'),
      boot_root: f.boot,
      loader_dirs: [],
      answers: { key_file: join(f.dir, 'url-signing.key') },
      dhcp: { lease_intake: false },
      log: { level: 'info' },
      ...extra,
      tftp: { port: tftpPort, ...(extra.tftp as object) },
      http: { port: httpPort, listen: '127.0.0.1', ...(extra.http as object) },
    }),
  );
  const log = openSync(join(f.dir, `edgeboot-${o.tag}.log`), 'w');
  const group = cpuGroup(o.tag);
  const child = spawn(...group.wrap(...pinned(o.cpu, process.execPath, [...(o.nodeArgs ?? []), join(ROOT, 'dist/src/cli/edgeboot.js'), 'serve', '--config', cfg])), {
    stdio: ['ignore', log, log],
    detached: true,
    cwd: f.dir,
  });
  closeSync(log);
  const httpBase = `http://127.0.0.1:${httpPort}`;
  await waitHttp(`${httpBase}/healthz`, 30_000);
  const pid = child.pid!;
  group.track(pid);
  return {
    name: 'edgeboot',
    child,
    httpBase,
    tftpPort,
    stats: () => {
      const s = procStats(pid);
      return { rssMb: (s?.hwmKb ?? 0) / 1024, cpuS: group.seconds() };
    },
    async stop() {
      await stopChild(child);
      await group.remove();
    },
  };
}

/** Fetch every machine's scripts and answer file from edgeboot and write them as static files for nginx. */
export async function prerender(eb: Stack, machines: Machine[], www: string, ngPort: number): Promise<void> {
  const rewrite = (t: string) => t.replaceAll(eb.httpBase, `http://127.0.0.1:${ngPort}`);
  const put = (path: string, text: string) => {
    const abs = join(www, path);
    mkdirSync(dirname(abs), { recursive: true, mode: 0o755 });
    writeFileSync(abs, text, { mode: 0o644 });
  };
  const one = async (m: Machine) => {
    const agent = machineAgent(m.ip);
    try {
      const opts = { agent, localAddress: m.ip, text: true };
      const hyp = m.mac.replace(/:/g, '-');
      const script = await get(`${eb.httpBase}/ipxe/node/${hyp}?uuid=&buildarch=x86_64&platform=pcbios`, opts);
      if (script.status !== 200) throw new Error(`pre-render of ${m.mac}: HTTP ${script.status}`);
      const urls = parseNodeScript(script.text!);
      const answer = await get(urls.answer, opts);
      if (answer.status !== 200) throw new Error(`pre-render of ${m.mac} answer: HTTP ${answer.status}`);
      put(`ipxe/node/${hyp}`, rewrite(script.text!));
      put(new URL(urls.answer).pathname, answer.text!);
    } finally {
      agent.destroy();
    }
  };
  const entry = await get(`${eb.httpBase}/boot.ipxe`, { agent: machineAgent('127.0.0.1'), localAddress: '127.0.0.1', text: true });
  put('boot.ipxe', rewrite(entry.text!));
  for (let i = 0; i < machines.length; i += 50) await Promise.all(machines.slice(i, i + 50).map(one));
}

/** The reference: in.tftpd (tftpd-hpa) and nginx (`worker_processes 1`, sendfile) over the same files, pinned like edgeboot. */
export async function startReference(f: Fixture, www: string, ngPort: number, o: { cpu?: string }): Promise<Stack> {
  for (const d of [f.dir, www]) chmodSync(d, 0o755);
  const tmp = join(f.dir, 'nginx-tmp');
  mkdirSync(tmp, { recursive: true, mode: 0o777 });
  const conf = join(f.dir, 'nginx.conf');
  writeFileSync(
    conf,
    [
      'worker_processes 1;',
      'worker_rlimit_nofile 16384;',
      `pid ${f.dir}/nginx.pid;`,
      `error_log ${f.dir}/nginx-error.log;`,
      'events { worker_connections 8192; }',
      'http {',
      // One access line per request, like edgeboot's one info line per request.
      `  access_log ${f.dir}/nginx-access.log;`,
      '  sendfile on; tcp_nopush on; keepalive_timeout 5;',
      `  client_body_temp_path ${tmp};`,
      '  default_type application/octet-stream;',
      `  server { listen 127.0.0.1:${ngPort}; root ${www}; }`,
      '}',
      '',
    ].join('\n'),
  );
  const tftpPort = await freeUdpPort();
  const group = cpuGroup('reference');
  const tftpd = spawn(...group.wrap(...pinned(o.cpu, 'in.tftpd', ['-L', '-s', f.boot, '-a', `127.0.0.1:${tftpPort}`])), { stdio: 'ignore', detached: true });
  const nginx = spawn(...group.wrap(...pinned(o.cpu, 'nginx', ['-c', conf, '-g', 'daemon off;'])), { stdio: ['ignore', 'ignore', 'inherit'], detached: true });
  const httpBase = `http://127.0.0.1:${ngPort}`;
  await waitHttp(`${httpBase}/boot.ipxe`, 15_000);
  return {
    name: 'tftpd-hpa + nginx',
    httpBase,
    tftpPort,
    stats: () => {
      const pids = [nginx.pid!, ...childPids(nginx.pid!), tftpd.pid!];
      const all = pids.map(procStats);
      const cgroup = group.seconds();
      // Without a cgroup, the processes' own counters (in.tftpd's transfer children are then missing).
      const cpuS = Number.isFinite(cgroup) && group.method.startsWith('cgroup') ? cgroup : all.reduce((n, s) => n + (s?.cpuS ?? 0), 0);
      return { rssMb: all.reduce((n, s) => n + (s?.hwmKb ?? 0), 0) / 1024, cpuS };
    },
    async stop() {
      await stopChild(nginx);
      await stopChild(tftpd);
      await group.remove();
    },
  };
}
