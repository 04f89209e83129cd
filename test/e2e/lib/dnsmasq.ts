import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Netns } from './netns.js';
import type { ManagedProcess } from './process.js';
import { waitFor } from './wait.js';

/** A fixed lease: the guest keeps one address across firmware, loader and kernel DHCP. */
export interface DhcpHost {
  mac: string;
  ip: string;
}

/** Options for `startDnsmasq`. */
export interface DnsmasqOptions {
  ns: Netns;
  /** Folder for the lease file and the log. */
  dir: string;
  /** Filename handed to clients whose user class (option 77) is `iPXE`, e.g. the boot.ipxe URL. */
  ipxeBootUrl?: string;
  /** Fixed leases by MAC (recommended: iPXE and the kernel may send different client IDs). */
  hosts?: DhcpHost[];
  /** Dynamic pool, last octets within the namespace's /24; default 100–199. */
  range?: [number, number];
  /** More dnsmasq arguments, e.g. `--dhcp-boot=tag:!ipxe,pxelinux.0` or `--dhcp-match=...`. */
  extraArgs?: string[];
  /** dnsmasq's environment (it passes it on to a `--dhcp-script`, e.g. the lease hook's socket path). */
  env?: NodeJS.ProcessEnv;
}

/** A running dnsmasq and where its log goes. */
export interface Dnsmasq {
  process: ManagedProcess;
  logFile: string;
  leaseFile: string;
  log(): Promise<string>;
}

/** The dnsmasq arguments for DHCP only (`--port=0`), bound to br0, without reading any system config. */
export function dnsmasqArgs(o: DnsmasqOptions): string[] {
  const [lo, hi] = o.range ?? [100, 199];
  const s = o.ns.subnet;
  const args = [
    '--keep-in-foreground',
    '--port=0',
    '--conf-file=/dev/null',
    '--no-resolv',
    '--no-hosts',
    '--interface=br0',
    '--bind-interfaces',
    '--dhcp-authoritative',
    `--dhcp-range=${s}.${lo},${s}.${hi},255.255.255.0,10m`,
    `--dhcp-leasefile=${join(o.dir, 'dnsmasq.leases')}`,
    `--pid-file=${join(o.dir, 'dnsmasq.pid')}`,
    '--log-dhcp',
    '--log-facility=-',
    '--user=root',
    '--group=root',
  ];
  for (const h of o.hosts ?? []) args.push(`--dhcp-host=${h.mac},${h.ip}`);
  if (o.ipxeBootUrl) {
    // RFC 3004 user class: iPXE identifies itself with option 77 = "iPXE".
    args.push('--dhcp-userclass=set:ipxe,iPXE', `--dhcp-boot=tag:ipxe,${o.ipxeBootUrl}`);
  }
  args.push(...(o.extraArgs ?? []));
  return args;
}

/** Start dnsmasq as the DHCP server inside the namespace and wait until it is serving. */
export async function startDnsmasq(o: DnsmasqOptions): Promise<Dnsmasq> {
  const logFile = join(o.dir, 'dnsmasq.log');
  const proc = o.ns.spawn('dnsmasq', 'dnsmasq', dnsmasqArgs(o), logFile, o.env);
  const log = () => readFile(logFile, 'utf8').catch(() => '');
  await waitFor('dnsmasq to start serving DHCP', 10_000, async () => {
    if (proc.hasExited()) throw new Error(`dnsmasq exited early:\n${await log()}`);
    return /DHCP, IP range/.test(await log());
  });
  return { process: proc, logFile, leaseFile: join(o.dir, 'dnsmasq.leases'), log };
}
