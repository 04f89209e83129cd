import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BootTarget, Machine } from './storm-machine.js';
import { packageRoot } from '../../src/config/config.js';
import type { Appliance } from '../../src/main.js';
import { waitFor, writeApplianceDir } from './appliance.js';

/** Small boot payloads for drills: a loader for TFTP, kernel and initrd for HTTP, with their hashes. */
export interface Payloads {
  loader: { name: string; size: number; sha256: string };
  kernel: { size: number; sha256: string };
  initrd: { size: number; sha256: string };
}

/** The image directory the ubuntu/noble install script of a node points at. */
export const NOBLE_DIR = 'images/ubuntu/amd64/generic/noble/stable';

function put(path: string, data: Buffer): { size: number; sha256: string } {
  writeFileSync(path, data);
  return { size: data.length, sha256: createHash('sha256').update(data).digest('hex') };
}

/** Write a loader and the noble kernel/initrd into `bootRoot` (sizes in bytes). */
export function writePayloads(bootRoot: string, sizes = { loader: 64 * 1024, kernel: 256 * 1024, initrd: 1024 * 1024 }): Payloads {
  mkdirSync(join(bootRoot, NOBLE_DIR), { recursive: true });
  return {
    loader: { name: 'undionly.kpxe', ...put(join(bootRoot, 'undionly.kpxe'), randomBytes(sizes.loader)) },
    kernel: put(join(bootRoot, NOBLE_DIR, 'kernel'), randomBytes(sizes.kernel)),
    initrd: put(join(bootRoot, NOBLE_DIR, 'initrd'), randomBytes(sizes.initrd)),
  };
}

/** A token per node, so the log sweep knows every secret that was in play. */
export function tokenFor(i: number): { consumer_key: string; token_key: string; token_secret: string } {
  const h = createHash('sha256').update(`drill-${i}`).digest('hex');
  return { consumer_key: `ck${h.slice(0, 18)}`, token_key: `tk${h.slice(18, 36)}`, token_secret: `ts${h.slice(36, 64)}` };
}

/** Inventory nodes (deploying ubuntu/noble) for the machines. */
export function deployingNodes(machines: Machine[], patch: Record<string, unknown> = {}): Array<Record<string, unknown>> {
  return machines.map((m, i) => ({
    system_id: `drill${i.toString(36).padStart(3, '0')}`,
    hostname: `drill-${i}`,
    macs: [m.mac],
    arch: 'amd64/generic',
    status: 'deploying',
    osystem: 'ubuntu',
    release: 'noble',
    token: tokenFor(i),
    ...patch,
  }));
}

/** The 127.0.0.1 port of an in-process appliance's TFTP service (port 0 gives each address its own). */
export function tftpPort(app: Appliance): number {
  const ep = app.tftp?.endpoints().find((e) => e.address === '127.0.0.1');
  if (!ep) throw new Error('the appliance has no TFTP listener on 127.0.0.1');
  return ep.port;
}

/** A boot target for the storm client from an HTTP base, a TFTP port and the payloads (byte-exact checks on). */
export function targetFor(httpBase: string, port: number, p: Payloads, extra: Partial<BootTarget> = {}): BootTarget {
  return {
    tftp: { server: '127.0.0.1', port, file: p.loader.name },
    httpBase,
    expect: { tftp: p.loader, kernel: p.kernel, initrd: p.initrd },
    hash: true,
    expectPurpose: 'install',
    tftpTimeoutMs: 500,
    retryBudgetMs: 30_000,
    ...extra,
  };
}

/** Every secret string a log must never hold: the nodes' tokens and any answer-URL capability or its signature. */
export function secretsIn(nodes: Array<Record<string, unknown>>, capabilities: Iterable<string> = []): string[] {
  const out: string[] = [];
  for (const n of nodes) {
    const t = n.token as Record<string, string> | undefined;
    if (t) out.push(t.consumer_key!, t.token_key!, t.token_secret!);
  }
  for (const c of capabilities) out.push(c, c.split('.').pop()!);
  return out.filter((s) => s.length >= 8);
}

/** The capability pattern (expiry.ip.signature) signed answer URLs carry. */
export const CAPABILITY_PATTERN = /[0-9a-z]{1,12}\.[A-Za-z0-9_-]{2,64}\.[A-Za-z0-9_-]{43}/;

/** Secrets (from `secrets`) or capability-shaped strings found in log text; empty when clean. */
export function leakedSecrets(logText: string, secrets: string[]): string[] {
  const found = secrets.filter((s) => logText.includes(s));
  const shaped = CAPABILITY_PATTERN.exec(logText);
  if (shaped) found.push(`capability-shaped: ${shaped[0]}`);
  return found;
}

/** The capability segment of every answer URL in `text`. */
export function capabilitiesIn(text: string): string[] {
  return [...text.matchAll(/\/answers\/[^/\s]+\/([^/\s]+)\//g)].map((m) => m[1]!);
}

/** A free UDP port on every address (bound on 0.0.0.0 then released). */
export function freeUdpPort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    s.bind(0, '0.0.0.0', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** `edgeboot serve` as a child process (log at info to a file), for drills that send it signals. */
export interface ChildAppliance {
  child: ChildProcess;
  dir: string;
  bootRoot: string;
  inventoryPath: string;
  overrideDir: string;
  base: string;
  tftpPort: number;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
  logText(): string;
  stop(): Promise<void>;
}

/** Start `node dist/src/cli/edgeboot.js serve` (run `npm run build` first) with TFTP and HTTP on free ports. */
export async function startChildAppliance(inventory: unknown, prepare: (bootRoot: string) => void, extraConfig: Record<string, unknown> = {}): Promise<ChildAppliance> {
  const tftpPortNo = await freeUdpPort();
  const { dir, bootRoot, inventoryPath, overrideDir, configPath } = writeApplianceDir(
    'edgeboot-drill-',
    inventory,
    { loader_dirs: [], tftp: { port: tftpPortNo }, dhcp: { lease_intake: false }, log: { level: 'info' }, ...extraConfig },
    prepare,
  );
  const child = spawn(process.execPath, [join(packageRoot(), 'dist/src/cli/edgeboot.js'), 'serve', '--config', configPath], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  child.stdout!.on('data', (d: Buffer) => {
    log += d.toString();
  });
  child.stderr!.on('data', (d: Buffer) => {
    log += d.toString();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal, at: Date.now() })),
  );
  let port = 0;
  await waitFor(() => {
    const m = /"port":(\d+),"listen":"127\.0\.0\.1"[^\n]*"msg":"http listening"/.exec(log);
    if (m) port = Number(m[1]);
    if (child.exitCode !== null) throw new Error(`edgeboot exited early:\n${log}`);
    return port > 0;
  }, 20_000, 'edgeboot to listen');
  return {
    child,
    dir,
    bootRoot,
    inventoryPath,
    overrideDir,
    base: `http://127.0.0.1:${port}`,
    tftpPort: tftpPortNo,
    exited,
    logText: () => log,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
