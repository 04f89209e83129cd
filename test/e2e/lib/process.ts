import { type SpawnOptions, spawn } from 'node:child_process';
import { closeSync, existsSync, openSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { PACKAGE_OF_FILE } from './paths.js';

/** What a finished command printed and how it ended. */
export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Options for `run`. */
export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  input?: string;
  /** Resolve with a non-zero result instead of throwing. */
  allowFailure?: boolean;
  timeoutMs?: number;
}

/** Run a command to completion and collect its output; a non-zero exit throws with its stderr unless allowed. */
export function run(cmd: string, args: readonly string[], o: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, { cwd: o.cwd, env: o.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    const timer = o.timeoutMs ? setTimeout(() => child.kill('SIGKILL'), o.timeoutMs) : undefined;
    child.on('error', (e) => {
      if (timer) clearTimeout(timer);
      reject(new Error(`${cmd} could not be started: ${e.message}`));
    });
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      const r = { code, signal, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') };
      if (code !== 0 && !o.allowFailure) {
        const why = signal ? `was killed by ${signal}` : `exited ${code}`;
        reject(new Error(`${cmd} ${args.join(' ')} ${why}: ${r.stderr.trim().slice(-2000)}`));
        return;
      }
      resolvePromise(r);
    });
    // A child that exits without reading stdin makes the write fail with EPIPE; that is not an error here.
    child.stdin.on('error', () => undefined);
    child.stdin.end(o.input ?? '');
  });
}

/** A long-running child in its own process group, stopped by its PID. */
export interface ManagedProcess {
  readonly pid: number;
  readonly name: string;
  /** Resolves with the exit code (null when killed by a signal) once the process has ended. */
  readonly exited: Promise<number | null>;
  /** True once the process has ended. */
  hasExited(): boolean;
  /** SIGTERM the process group, then SIGKILL it after `graceMs`; resolves when it has ended. */
  stop(graceMs?: number): Promise<void>;
}

/** Options for `startProcess`. */
export interface StartOptions {
  /** File receiving stdout and stderr (appended). */
  logFile: string;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // The group is already gone.
  }
}

/**
 * Start `cmd` detached in a new process group with stdin from /dev/null and output to a file,
 * so teardown can kill exactly this process tree by its PID and nothing else.
 */
export function startProcess(name: string, cmd: string, args: readonly string[], o: StartOptions): ManagedProcess {
  const fd = openSync(o.logFile, 'a');
  const opts: SpawnOptions = { cwd: o.cwd, env: o.env ?? process.env, stdio: ['ignore', fd, fd], detached: true };
  let child: ReturnType<typeof spawn>;
  try {
    child = spawn(cmd, args, opts);
  } finally {
    closeSync(fd);
  }
  let ended = false;
  const exited = new Promise<number | null>((resolvePromise) => {
    child.once('error', () => {
      ended = true;
      resolvePromise(null);
    });
    child.once('exit', (code) => {
      ended = true;
      resolvePromise(code);
    });
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error(`${name}: ${cmd} could not be started`);
  return {
    pid,
    name,
    exited,
    hasExited: () => ended,
    async stop(graceMs = 5_000) {
      if (ended) {
        killGroup(pid, 'SIGKILL');
        return;
      }
      killGroup(pid, 'SIGTERM');
      const timer = setTimeout(() => killGroup(pid, 'SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
      // Children that outlived the leader (none expected) go with the group.
      killGroup(pid, 'SIGKILL');
    },
  };
}

/** Debian packages providing the tools the e2e tests use, for a useful error when one is missing. */
const PACKAGE_OF: Record<string, string> = {
  'qemu-system-x86_64': 'qemu-system-x86',
  dnsmasq: 'dnsmasq-base',
  busybox: 'busybox-static',
  cpio: 'cpio',
  curl: 'curl',
  ip: 'iproute2',
  timeout: 'coreutils',
  gzip: 'gzip',
  'apt-get': 'apt',
  'dpkg-deb': 'dpkg',
  '/usr/bin/chromium': 'chromium',
  kea: 'kea-dhcp4-server',
  'kea-dhcp4': 'kea-dhcp4-server',
  dhcpd: 'isc-dhcp-server',
  // Firmware, ROMs and loaders: located through dpkg in paths.ts.
  ...PACKAGE_OF_FILE,
};

function onPath(tool: string): boolean {
  if (tool.startsWith('/')) return existsSync(tool);
  const dirs = (process.env.PATH ?? '').split(delimiter).concat(['/usr/sbin', '/sbin']);
  return dirs.some((d) => d !== '' && existsSync(join(d, tool)));
}

/** Throw (never skip: CI installs everything) when a tool or file the e2e tests need is missing. */
export function requireTools(tools: readonly string[]): void {
  const missing = tools.filter((t) => !onPath(t));
  if (missing.length === 0) return;
  const pkgs = [...new Set(missing.map((t) => PACKAGE_OF[t] ?? '?'))].join(' ');
  throw new Error(`e2e prerequisites missing: ${missing.join(', ')} (apt-get install ${pkgs}); running as root is required too.`);
}

/** Throw unless the tests run as root (network namespaces and tap devices need it). */
export function requireRoot(): void {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    throw new Error('the e2e tests create network namespaces and tap devices: run them as root.');
  }
}
