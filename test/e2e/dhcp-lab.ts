import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type ManagedProcess, type RunResult, startProcess } from './lib/process.js';
import { waitFor } from './lib/wait.js';

// A LAN for DHCP tests without qemu: a client namespace holding bridge br0 (<subnet>.254/24) and one
// namespace per DHCP server, each joined to br0 by a veth pair and addressed <subnet>.<n>. Everything
// is created here and removed by `teardown` (processes by PID, namespaces by name).

/** One server side of the LAN. */
export interface ServerNs {
  ns: string;
  iface: string;
  address: string;
}

/** The LAN and how to run things on it. */
export interface DhcpLan {
  subnet: string;
  client: { ns: string; iface: 'br0'; address: string };
  servers: ServerNs[];
  exec(ns: string, cmd: string, args: readonly string[], allowFailure?: boolean): Promise<RunResult>;
  spawn(ns: string, label: string, cmd: string, args: readonly string[], logFile: string, env?: NodeJS.ProcessEnv): ManagedProcess;
  teardown(): Promise<void>;
}

/** Run a command with stdin closed; a non-zero exit throws unless allowed. */
function runQuiet(cmd: string, args: readonly string[], allowFailure = false): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => {
      stdout += b.toString();
    });
    child.stderr.on('data', (b: Buffer) => {
      stderr += b.toString();
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code !== 0 && !allowFailure) reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${stderr.slice(-2000)}`));
      else resolve({ code, signal, stdout, stderr });
    });
  });
}

/** Create the LAN with `servers` server namespaces; names are unique to this process. */
export async function createDhcpLan(subnet: string, servers: number): Promise<DhcpLan> {
  const tag = `${(process.pid % 10000).toString(36)}${randomBytes(2).toString('hex')}`;
  const names: string[] = [];
  const children: ManagedProcess[] = [];
  const ip = (...args: string[]) => runQuiet('ip', args);
  const lan: DhcpLan = {
    subnet,
    client: { ns: `ebdc${tag}`, iface: 'br0', address: `${subnet}.254` },
    servers: [],
    exec: (ns, cmd, args, allowFailure) => runQuiet('ip', ['netns', 'exec', ns, cmd, ...args], allowFailure),
    spawn(ns, label, cmd, args, logFile, env) {
      const p = startProcess(label, 'ip', ['netns', 'exec', ns, cmd, ...args], { logFile, env });
      children.push(p);
      return p;
    },
    async teardown() {
      await Promise.all(children.splice(0).map((p) => p.stop(2_000)));
      for (const n of names.splice(0)) await runQuiet('ip', ['netns', 'del', n], true);
    },
  };
  try {
    const c = lan.client.ns;
    await ip('netns', 'add', c);
    names.push(c);
    await ip('-n', c, 'link', 'set', 'lo', 'up');
    await ip('-n', c, 'link', 'add', 'br0', 'type', 'bridge', 'forward_delay', '0', 'stp_state', '0');
    await ip('-n', c, 'addr', 'add', `${lan.client.address}/24`, 'dev', 'br0');
    await ip('-n', c, 'link', 'set', 'br0', 'up');
    for (let n = 1; n <= servers; n++) {
      const ns = `ebds${n}${tag}`;
      await ip('netns', 'add', ns);
      names.push(ns);
      await ip('-n', ns, 'link', 'set', 'lo', 'up');
      await ip('-n', ns, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', `p${n}`, 'netns', c);
      await ip('-n', ns, 'addr', 'add', `${subnet}.${n}/24`, 'dev', 'eth0');
      await ip('-n', ns, 'link', 'set', 'eth0', 'up');
      await ip('-n', c, 'link', 'set', `p${n}`, 'master', 'br0');
      await ip('-n', c, 'link', 'set', `p${n}`, 'up');
      lan.servers.push({ ns, iface: 'eth0', address: `${subnet}.${n}` });
    }
  } catch (err) {
    await lan.teardown();
    throw err;
  }
  return lan;
}

/** Start dnsmasq (DHCP only) in a server namespace with extra config lines, and wait until it serves. */
export async function startDnsmasqOn(lan: DhcpLan, s: ServerNs, dir: string, conf: string, env?: NodeJS.ProcessEnv): Promise<() => Promise<string>> {
  const name = s.ns;
  const confFile = join(dir, `${name}.dnsmasq.conf`);
  const logFile = join(dir, `${name}.dnsmasq.log`);
  const host = Number(s.address.split('.')[3]);
  await writeFile(confFile, conf);
  lan.spawn(name, 'dnsmasq', 'dnsmasq', [
    '--keep-in-foreground',
    '--port=0',
    `--conf-file=${confFile}`,
    '--no-resolv',
    '--no-hosts',
    `--interface=${s.iface}`,
    '--bind-interfaces',
    `--dhcp-range=${lan.subnet}.${100 + host * 10},${lan.subnet}.${109 + host * 10},255.255.255.0,10m`,
    `--dhcp-leasefile=${join(dir, `${name}.leases`)}`,
    '--pid-file=',
    '--log-dhcp',
    '--log-facility=-',
    '--user=root',
    '--group=root',
  ], logFile, env);
  const log = () => readFile(logFile, 'utf8').catch(() => '');
  await waitFor(`dnsmasq in ${name}`, 10_000, async () => /DHCP, IP range/.test(await log()));
  return log;
}

/** What busybox udhcpc saw in the server's ACK (its script environment). */
export interface UdhcpcLease {
  ip?: string;
  siaddr?: string;
  boot_file?: string;
  serverid?: string;
  [k: string]: string | undefined;
}

/**
 * Run one DORA exchange from the client namespace with busybox udhcpc, sending option 93 = `arch` (if given),
 * option 60 = `vendorClass` and optionally user class 77, and return the ACK as udhcpc's script saw it.
 */
export async function udhcpc(lan: DhcpLan, dir: string, o: { arch?: number; vendorClass: string; userClass?: string; mac?: string }): Promise<UdhcpcLease> {
  const script = join(dir, 'udhcpc-script.sh');
  const out = join(dir, `udhcpc-${randomBytes(3).toString('hex')}.env`);
  // Only udhcpc's own variables, not the test runner's environment.
  const vars = ['ip', 'siaddr', 'boot_file', 'serverid', 'vendor', 'sname', 'subnet', 'router'];
  const dump = vars.map((v) => `echo "${v}=$${v}"`).join('; ');
  await writeFile(script, `#!/bin/sh\n[ "$1" = bound ] && { ${dump}; } > "${out}"\nexit 0\n`, { mode: 0o755 });
  const args = ['udhcpc', '-i', 'br0', '-n', '-q', '-f', '-t', '4', '-T', '2', '-s', script];
  args.push('-V', o.vendorClass);
  if (o.arch !== undefined) args.push('-x', `0x5d:${o.arch.toString(16).padStart(4, '0')}`);
  // busybox sends `-x 0x4d:HEX` as raw bytes, like iPXE's unframed user class.
  if (o.userClass) args.push('-x', `0x4d:${Buffer.from(o.userClass).toString('hex')}`);
  // Ask for option 60 so the server's vendor class shows up in the script environment (as `vendor`).
  args.push('-O', '60');
  // Each exchange gets its own client MAC so every run is a fresh lease.
  const mac = o.mac ?? `52:54:00:${randomBytes(3).toString('hex').match(/../g)!.join(':')}`;
  await lan.exec(lan.client.ns, 'ip', ['link', 'set', 'br0', 'address', mac]);
  await lan.exec(lan.client.ns, 'busybox', args);
  const env: UdhcpcLease = { mac };
  for (const line of (await readFile(out, 'utf8')).split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0 && eq < line.length - 1) env[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return env;
}
