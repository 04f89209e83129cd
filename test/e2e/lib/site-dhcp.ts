import { spawnSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { dnsmasqArgs } from './dnsmasq.js';
import type { Lab } from './lab.js';
import { edgebootCli } from './paths.js';
import { waitFor } from './wait.js';

/** Which DHCP server the site runs: one configured only by `edgeboot dhcp-config`, or an address-only dnsmasq beside proxyDHCP. */
export type SiteDhcpMode = 'dnsmasq' | 'kea' | 'isc' | 'proxy';

/** Options for `startSiteDhcp`. */
export interface SiteDhcpOptions {
  mode: SiteDhcpMode;
  lab: Lab;
  /** The running edgeboot's config file (dhcp-config reads the loaders and lease hook from it). */
  edgebootConfig: string;
  /** The guest: one fixed address, so firmware, loader and kernel keep one lease. */
  mac: string;
  ip: string;
  /** Environment for dnsmasq (its dhcp-script inherits it: the lease hook's socket and secret). */
  env?: NodeJS.ProcessEnv;
}

/** A running site DHCP server: the text `edgeboot dhcp-config` generated for it, and its log. */
export interface SiteDhcp {
  generated: string;
  log(): Promise<string>;
}

/**
 * Start the site's DHCP server in the lab namespace with nothing but what `edgeboot dhcp-config --server
 * <mode>` generated for the boot options (plus a subnet, one fixed address and a log); in `proxy` mode a
 * dnsmasq that gives addresses only, so edgeboot's proxyDHCP has to supply every boot option.
 */
export async function startSiteDhcp(o: SiteDhcpOptions): Promise<SiteDhcp> {
  const { ns, dir } = o.lab;
  const subnet = ns.subnet;
  const logFile = join(dir, `${o.mode}.log`);
  const log = () => readFile(logFile, 'utf8').catch(() => '');
  let generated = '';
  if (o.mode !== 'proxy') {
    const r = spawnSync('node', [edgebootCli(), 'dhcp-config', '--server', o.mode, '--server-address', ns.serverIp, '--config', o.edgebootConfig], {
      encoding: 'utf8',
    });
    if (r.status !== 0) throw new Error(`dhcp-config failed: ${r.stderr}`);
    generated = r.stdout;
  }
  if (o.mode === 'dnsmasq' || o.mode === 'proxy') {
    const conf = join(dir, 'generated-dnsmasq.conf');
    await writeFile(conf, generated);
    // The lab's dnsmasq arguments are a range and a fixed lease only; the boot options come from the snippet.
    const args = dnsmasqArgs({ ns, dir, hosts: [{ mac: o.mac, ip: o.ip }], extraArgs: [`--conf-file=${conf}`] });
    ns.spawn('dnsmasq', 'dnsmasq', args, logFile, { ...process.env, ...o.env });
    await waitFor('dnsmasq', 10_000, async () => /DHCP, IP range/.test(await log()));
  } else if (o.mode === 'isc') {
    const conf = join(dir, 'dhcpd.conf');
    // One address and no client-id matching: firmware, iPXE and the initrd's udhcpc keep the same lease.
    await writeFile(conf, `${generated}\nauthoritative;\nignore-client-uids true;\ndefault-lease-time 600;\nsubnet ${subnet}.0 netmask 255.255.255.0 {\n  range ${o.ip} ${o.ip};\n}\n`);
    await writeFile(join(dir, 'dhcpd.leases'), '');
    ns.spawn('dhcpd', 'dhcpd', ['-f', '-d', '-4', '-cf', conf, '-lf', join(dir, 'dhcpd.leases'), '-pf', join(dir, 'dhcpd.pid'), 'br0'], logFile);
    await waitFor('dhcpd', 10_000, async () => /Sending on\s+LPF\/br0/.test(await log()));
  } else {
    const fragment = JSON.parse(generated.replace(/^\/\/.*$/gm, '')) as { Dhcp4: Record<string, unknown> };
    const conf = join(dir, 'kea-dhcp4.json');
    const subnet4 = [{ id: 1, subnet: `${subnet}.0/24`, 'match-client-id': false, pools: [{ pool: `${o.ip} - ${o.ip}` }] }];
    const loggers = [{ name: 'kea-dhcp4', output_options: [{ output: 'stdout' }], severity: 'INFO' }];
    // br0 has no carrier until qemu opens tap0: let Kea keep retrying its socket.
    const interfaces = { interfaces: ['br0'], 'service-sockets-max-retries': 120, 'service-sockets-retry-wait-time': 1000 };
    const dhcp4 = { ...fragment.Dhcp4, 'interfaces-config': interfaces, 'lease-database': { type: 'memfile', persist: false }, subnet4, loggers };
    await writeFile(conf, JSON.stringify({ Dhcp4: dhcp4 }));
    ns.spawn('kea-dhcp4', 'kea-dhcp4', ['-c', conf], logFile, { ...process.env, KEA_PIDFILE_DIR: dir, KEA_LOCKFILE_DIR: dir });
    await waitFor('kea-dhcp4', 15_000, async () => /DHCP4_STARTED/.test(await log()));
  }
  return { generated, log };
}
