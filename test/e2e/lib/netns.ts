import { randomBytes } from 'node:crypto';
import { type ManagedProcess, type RunOptions, type RunResult, run, startProcess } from './process.js';

/** A private network namespace holding bridge `br0` (the server side) and `tap0` (the guest's NIC). */
export interface Netns {
  readonly name: string;
  /** The first three octets of the /24, e.g. `10.77.1`. */
  readonly subnet: string;
  /** `<subnet>.1`, on br0: where edgeboot and the DHCP server listen. */
  readonly serverIp: string;
  readonly bridge: 'br0';
  readonly tap: 'tap0';
  /** Run a command inside the namespace to completion. */
  exec(cmd: string, args: readonly string[], o?: RunOptions): Promise<RunResult>;
  /** Start a long-running command inside the namespace (tracked: teardown stops it). */
  spawn(name: string, cmd: string, args: readonly string[], logFile: string, env?: NodeJS.ProcessEnv): ManagedProcess;
  /** Add another address to br0, e.g. to make a request from an IP that is not the guest's. */
  addAddress(ip: string): Promise<void>;
  /** Stop every process started with `spawn`, then delete the namespace. */
  teardown(): Promise<void>;
}

let counter = 0;

/** A namespace name unique to this process and call (at most 15 characters, like an interface name). */
export function uniqueNetnsName(prefix = 'ebe2e'): string {
  counter += 1;
  return `${prefix}${(process.pid % 100000).toString(36)}${counter.toString(36)}${randomBytes(2).toString('hex')}`.slice(0, 15);
}

/** Options for `createNetns`. */
export interface NetnsOptions {
  /** First three octets of a private /24, e.g. `10.77.1`; pick one per test so logs are unambiguous. */
  subnet: string;
  name?: string;
}

/**
 * Create a namespace with lo up, bridge br0 at `<subnet>.1/24` and tap0 enslaved to it. Every
 * address lives inside the namespace, so tests never touch the host's network. Call `teardown`
 * in a `finally`/`afterAll`.
 */
export async function createNetns(o: NetnsOptions): Promise<Netns> {
  if (!/^\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(o.subnet)) throw new Error(`subnet must be three octets like 10.77.1, not ${o.subnet}`);
  const name = o.name ?? uniqueNetnsName();
  const serverIp = `${o.subnet}.1`;
  const children: ManagedProcess[] = [];
  const ipn = (...args: string[]) => run('ip', ['-n', name, ...args]);
  await run('ip', ['netns', 'add', name]);
  const ns: Netns = {
    name,
    subnet: o.subnet,
    serverIp,
    bridge: 'br0',
    tap: 'tap0',
    exec: (cmd, args, ro) => run('ip', ['netns', 'exec', name, cmd, ...args], ro),
    spawn(label, cmd, args, logFile, env) {
      const p = startProcess(label, 'ip', ['netns', 'exec', name, cmd, ...args], { logFile, env });
      children.push(p);
      return p;
    },
    async addAddress(ip) {
      await ipn('addr', 'add', `${ip}/24`, 'dev', 'br0');
    },
    async teardown() {
      await Promise.all(children.splice(0).map((p) => p.stop()));
      await run('ip', ['netns', 'del', name], { allowFailure: true });
    },
  };
  try {
    await ipn('link', 'set', 'lo', 'up');
    await ipn('link', 'add', 'br0', 'type', 'bridge', 'forward_delay', '0', 'stp_state', '0');
    await ipn('addr', 'add', `${serverIp}/24`, 'dev', 'br0');
    await ipn('link', 'set', 'br0', 'up');
    await ipn('tuntap', 'add', 'dev', 'tap0', 'mode', 'tap');
    await ipn('link', 'set', 'tap0', 'master', 'br0');
    await ipn('link', 'set', 'tap0', 'up');
    // A bridge has carrier only while one of its ports has: without this veth port br0 (and its address)
    // would appear only when qemu opens tap0, after edgeboot's TFTP and proxyDHCP listed their addresses.
    await ipn('link', 'add', 'hold0', 'type', 'veth', 'peer', 'name', 'hold1');
    await ipn('link', 'set', 'hold0', 'master', 'br0');
    await ipn('link', 'set', 'hold1', 'up');
    await ipn('link', 'set', 'hold0', 'up');
  } catch (err) {
    await ns.teardown();
    throw err;
  }
  return ns;
}

/** An HTTP answer seen by curl. */
export interface HttpReply {
  status: number;
  body: string;
}

/** GET `url` with curl from inside the namespace, optionally from a given local source address. */
export async function httpGet(ns: Netns, url: string, o: { sourceIp?: string; timeoutSeconds?: number } = {}): Promise<HttpReply> {
  const args = ['-sS', '--max-time', String(o.timeoutSeconds ?? 10), '-o', '-', '-w', '\n%{http_code}'];
  if (o.sourceIp) args.push('--interface', o.sourceIp);
  args.push(url);
  const r = await ns.exec('curl', args);
  const cut = r.stdout.lastIndexOf('\n');
  return { status: Number(r.stdout.slice(cut + 1)), body: r.stdout.slice(0, cut) };
}
