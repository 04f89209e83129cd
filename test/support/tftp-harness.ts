import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { type Socket, createSocket } from 'node:dgram';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { parseConfig } from '../../src/config/config.js';
import { MetricsRegistry } from '../../src/core/metrics.js';
import { composeCore } from '../../src/main.js';
import { type Packet, type TftpOption, encodeAck, encodeRequest, parsePacket } from '../../src/tftp/packet.js';
import { TftpService, type TftpServiceOptions } from '../../src/tftp/server.js';

/** The node the fixtures render pxelinux.cfg/01-<mac> for. */
export const NODE_MAC = '52:54:00:aa:bb:01';

/** A running TFTP service on 127.0.0.1 with fixture files, and how to tear it down. */
export interface Harness {
  dir: string;
  root: string;
  port: number;
  tftp: TftpService;
  metrics: MetricsRegistry;
  core: Awaited<ReturnType<typeof composeCore>>;
  files: Record<string, Buffer>;
  /** The service's log lines, parsed (info and above), newest last. */
  logLines: Array<Record<string, unknown>>;
  close(): Promise<void>;
}

const INVENTORY = `config:
  main_archive: http://archive.ubuntu.com/ubuntu
nodes:
  - system_id: tftp01
    hostname: tftpnode01
    macs: ["${NODE_MAC}"]
    arch: amd64/generic
    status: deploying
    osystem: ubuntu
    release: noble
    kernel_opts: "console=ttyS0"
    token: { consumer_key: ck, token_key: tk, token_secret: ts }
`;

/** Start edgeboot's TFTP service in-process on 127.0.0.1:0 over a temp boot root. */
export async function startHarness(opts: { big?: boolean; tftp?: Partial<TftpServiceOptions> } = {}): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'edgeboot-tftp-'));
  const root = join(dir, 'boot');
  mkdirSync(join(root, 'sub'), { recursive: true });
  const files: Record<string, Buffer> = {
    'one-k.bin': randomBytes(1024),
    'one-m.bin': randomBytes(1024 * 1024),
    'sub/exact-512.bin': randomBytes(512 * 4),
    'text.txt': Buffer.from('line one\nline two\r\nend\n'),
  };
  if (opts.big) files['sixty-four-m.bin'] = randomBytes(64 * 1024 * 1024);
  for (const [name, data] of Object.entries(files)) writeFileSync(join(root, name), data);
  writeFileSync(join(dir, 'secret.txt'), 'outside the root\n');
  symlinkSync(join(dir, 'secret.txt'), join(root, 'escape'));
  mkdirSync(join(root, 'adir'));
  writeFileSync(join(dir, 'inventory.yaml'), INVENTORY);
  const config = parseConfig(
    {
      inventory: 'inventory.yaml',
      boot_root: 'boot',
      loader_dirs: [],
      answers: { key_file: 'url-signing.key' },
      log: { level: 'silent' },
    },
    join(dir, 'edgeboot.yaml'),
  );
  // The log is kept in memory (tests read it); TFTP_TEST_LOG=debug also prints it.
  const logLines: Array<Record<string, unknown>> = [];
  const echo = process.env.TFTP_TEST_LOG !== undefined;
  const sink = { write: (line: string) => { logLines.push(JSON.parse(line) as Record<string, unknown>); if (echo) process.stdout.write(line); } };
  const log = pino({ level: process.env.TFTP_TEST_LOG ?? 'info' }, sink);
  const core = await composeCore(config, log);
  await core.inventory.start();
  const metrics = new MetricsRegistry();
  const tftp = new TftpService({
    boot: core.boot,
    bootRoot: config.boot_root,
    loaderDirs: [],
    log,
    metrics,
    port: 0,
    addresses: ['127.0.0.1'],
    maxTransfers: 500,
    maxPerClient: 64,
    maxBlksize: 65464,
    maxWindowsize: 64,
    retries: 6,
    cacheBytes: 64 * 1024 * 1024,
    ...opts.tftp,
  });
  await tftp.start();
  const port = tftp.endpoints()[0]!.port;
  return {
    dir,
    root,
    port,
    tftp,
    metrics,
    core,
    files,
    logLines,
    async close() {
      await tftp.stop(1000);
      await core.inventory.stop();
      await core.templateFiles.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Result of running a client process. */
export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Run a real client with a time limit; resolves with its exit code and output (never rejects on non-zero). */
export function run(cmd: string, args: string[], options: { cwd?: string; timeoutMs?: number } = {}): Promise<Run> {
  const started = performance.now();
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, { cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolvePromise({ code, stdout, stderr, ms: performance.now() - started });
    });
  });
}

/** How each real client downloads `remote` from 127.0.0.1:`port` into `local`. */
export const CLIENTS = {
  'tftp-hpa': (port: number, remote: string, local: string): [string, string[]] => [
    'tftp',
    ['-m', 'binary', '127.0.0.1', String(port), '-c', 'get', remote, local],
  ],
  atftp: (port: number, remote: string, local: string): [string, string[]] => [
    'atftp',
    ['--option', 'blksize 1468', '--option', 'windowsize 8', '-g', '-r', remote, '-l', local, '127.0.0.1', String(port)],
  ],
  curl: (port: number, remote: string, local: string): [string, string[]] => [
    'curl',
    ['-sS', '--fail', '-o', local, `tftp://127.0.0.1:${port}/${remote}`],
  ],
  busybox: (port: number, remote: string, local: string): [string, string[]] => [
    'busybox',
    ['tftp', '-g', '-r', remote, '-l', local, '127.0.0.1', String(port)],
  ],
} as const;

/** A client's name. */
export type ClientName = keyof typeof CLIENTS;

/** A UDP socket on 127.0.0.1 for hand-made packets, with a queue of what arrives. */
export class RawClient {
  readonly socket: Socket;
  readonly inbox: Array<{ packet: Packet | undefined; raw: Buffer; port: number }> = [];
  #waiters: Array<() => void> = [];

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('message', (raw, rinfo) => {
      const r = parsePacket(raw);
      this.inbox.push({ packet: r.ok ? r.packet : undefined, raw, port: rinfo.port });
      for (const w of this.#waiters.splice(0)) w();
    });
  }

  /** Bind a client socket on a loopback address (127.0.0.1 unless told). */
  static async open(address = '127.0.0.1'): Promise<RawClient> {
    const s = createSocket('udp4');
    await new Promise<void>((resolve) => s.bind(0, address, () => resolve()));
    return new RawClient(s);
  }

  get port(): number {
    return this.socket.address().port;
  }

  send(buf: Buffer, port: number): void {
    this.socket.send(buf, port, '127.0.0.1');
  }

  /** The next datagram, or throws after `timeoutMs`. */
  async next(timeoutMs = 3000): Promise<{ packet: Packet | undefined; raw: Buffer; port: number }> {
    const deadline = Date.now() + timeoutMs;
    while (this.inbox.length === 0) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('no datagram arrived in time');
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return this.inbox.shift()!;
  }

  /** Wait `ms` and return everything that arrived meanwhile. */
  async drain(ms: number): Promise<Array<{ packet: Packet | undefined; raw: Buffer; port: number }>> {
    await new Promise((r) => setTimeout(r, ms));
    return this.inbox.splice(0);
  }

  close(): void {
    this.socket.close();
  }
}

/** A minimal RFC 1350/7440 download by hand: ACKs each window's last block; returns data and packet count. */
export async function rawGet(port: number, file: string, options: TftpOption[] = []): Promise<{ data: Buffer; packets: number }> {
  const c = await RawClient.open();
  try {
    c.send(encodeRequest('rrq', file, 'octet', options), port);
    let first = await c.next();
    const server = first.port;
    let blksize = 512;
    let windowsize = 1;
    if (first.packet?.op === 'oack') {
      for (const [k, v] of first.packet.options) {
        if (k.toLowerCase() === 'blksize') blksize = Number(v);
        if (k.toLowerCase() === 'windowsize') windowsize = Number(v);
      }
      c.send(encodeAck(0), server);
      first = await c.next();
    }
    const parts: Buffer[] = [];
    let expected = 1;
    let packets = 0;
    let got: typeof first | undefined = first;
    for (;;) {
      const p = got ?? (await c.next());
      got = undefined;
      packets++;
      if (p.packet?.op === 'error') throw new Error(`error ${p.packet.code}: ${p.packet.message}`);
      if (p.packet?.op !== 'data' || p.packet.block !== (expected & 0xffff)) continue;
      parts.push(Buffer.from(p.packet.data));
      const last = p.packet.data.length < blksize;
      if (last || expected % windowsize === 0) c.send(encodeAck(expected), server);
      if (last) break;
      expected++;
    }
    return { data: Buffer.concat(parts), packets };
  } finally {
    c.close();
  }
}
