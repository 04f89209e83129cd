import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseMac } from '../../src/core/mac.js';
import { LeaseIntake } from '../../src/dhcp-hooks/lease-intake.js';
import { DiscoveryLog } from '../../src/observe/discoveries.js';
import { LeaseBook } from '../../src/observe/lease-book.js';
import { NodeStore } from '../../src/sync/nodes/node-store.js';
import { type DhcpLan, type UdhcpcLease, createDhcpLan, startDnsmasqOn, udhcpc } from './dhcp-lab.js';
import { REPO_ROOT, edgebootCli } from './lib/paths.js';
import { requireRoot, requireTools } from './lib/process.js';
import { waitFor } from './lib/wait.js';

// The real DHCP servers, configured with `edgeboot dhcp-config` output, answer PXE, iPXE, UEFI and
// HTTP boot clients (busybox udhcpc sending option 60/77/93) and call the lease hook, which reports
// to a running lease intake. No qemu: the guests' DHCP is emulated; test/e2e boots do the rest.

const HOOK = join(REPO_ROOT, 'dist/src/dhcp-hooks/lease-hook.js');
const SERVERS = [
  { server: 'dnsmasq', subnet: '10.231.71' },
  { server: 'isc', subnet: '10.231.72' },
  { server: 'kea', subnet: '10.231.73' },
] as const;

type Server = (typeof SERVERS)[number]['server'];

let work: string;

beforeAll(async () => {
  requireRoot();
  requireTools(['dnsmasq', 'dhcpd', 'kea-dhcp4', 'busybox', 'ip']);
  edgebootCli();
  work = await mkdtemp(join(tmpdir(), 'eb-dhcpsrv-'));
});

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

/** `edgeboot dhcp-config` output for `server`, with the intake's socket and secret in the config. */
async function generated(server: Server, dir: string, address: string, hookPath: string, socket: string, secret: string): Promise<string> {
  const cfg = join(dir, 'edgeboot.yaml');
  await writeFile(
    cfg,
    stringify({
      inventory: join(dir, 'inventory.yaml'),
      boot_root: dir,
      answers: { key_file: join(dir, 'key') },
      dhcp: { lease_socket: socket, lease_secret_file: secret, lease_hook: hookPath },
    }),
  );
  const r = spawnSync('node', [edgebootCli(), 'dhcp-config', '--server', server, '--server-address', address, '--config', cfg], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`dhcp-config failed: ${r.stderr}`);
  return r.stdout;
}

async function startServer(server: Server, lan: DhcpLan, dir: string, text: string, env: NodeJS.ProcessEnv): Promise<void> {
  const s = lan.servers[0]!;
  if (server === 'dnsmasq') {
    // dnsmasq hands its own environment to the script: that is how the hook finds a non-default socket.
    await startDnsmasqOn(lan, s, dir, text, { ...process.env, ...env });
    return;
  }
  const log = join(dir, `${server}.log`);
  if (server === 'isc') {
    const conf = join(dir, 'dhcpd.conf');
    await writeFile(
      conf,
      `${text}\nauthoritative;\ndefault-lease-time 600;\nsubnet ${lan.subnet}.0 netmask 255.255.255.0 {\n  range ${lan.subnet}.150 ${lan.subnet}.160;\n}\n`,
    );
    await writeFile(join(dir, 'dhcpd.leases'), '');
    lan.spawn(s.ns, 'dhcpd', 'dhcpd', ['-f', '-d', '-4', '-cf', conf, '-lf', join(dir, 'dhcpd.leases'), '-pf', join(dir, 'dhcpd.pid'), s.iface], log);
    await waitFor('dhcpd to listen', 10_000, async () => /Sending on\s+LPF\/eth0/.test(await readFile(log, 'utf8').catch(() => '')));
    return;
  }
  const fragment = JSON.parse(text.replace(/^\/\/.*$/gm, '')) as { Dhcp4: Record<string, unknown> };
  const conf = join(dir, 'kea-dhcp4.json');
  await writeFile(
    conf,
    JSON.stringify({
      Dhcp4: {
        ...fragment.Dhcp4,
        'interfaces-config': { interfaces: [s.iface] },
        'lease-database': { type: 'memfile', persist: false },
        'valid-lifetime': 600,
        subnet4: [{ id: 1, subnet: `${lan.subnet}.0/24`, pools: [{ pool: `${lan.subnet}.150 - ${lan.subnet}.160` }] }],
        loggers: [{ name: 'kea-dhcp4', output_options: [{ output: 'stdout' }], severity: 'INFO' }],
      },
    }),
  );
  lan.spawn(s.ns, 'kea-dhcp4', 'kea-dhcp4', ['-c', conf], log, { ...process.env, KEA_PIDFILE_DIR: dir, KEA_LOCKFILE_DIR: dir });
  await waitFor('kea-dhcp4 to listen', 15_000, async () => /DHCP4_STARTED/.test(await readFile(log, 'utf8').catch(() => '')));
}

describe.each(SERVERS)('$server with the generated configuration', ({ server, subnet }) => {
  let lan: DhcpLan;
  let dir: string;
  let leases: LeaseBook;
  let intake: LeaseIntake;
  const edgeboot = `${subnet}.1`;

  beforeAll(async () => {
    dir = await mkdtemp(join(work, `${server}-`));
    const socket = join(dir, 'lease.sock');
    const secret = join(dir, 'lease-hook.secret');
    leases = new LeaseBook();
    intake = new LeaseIntake({ socketPath: socket, secretFile: secret, leases, discoveries: new DiscoveryLog(), nodes: new NodeStore(), log: pino({ level: 'silent' }) });
    await intake.start();
    // Kea's run_script starts the hook with an empty environment and no arguments of ours: for a
    // non-default socket the site points run_script at a two-line wrapper, as this test does.
    let hookPath = HOOK;
    if (server === 'kea') {
      hookPath = join(dir, 'kea-lease-hook.sh');
      await writeFile(hookPath, `#!/bin/sh\nEDGEBOOT_LEASE_SOCKET=${socket} EDGEBOOT_LEASE_SECRET_FILE=${secret} exec ${HOOK} "$@"\n`, { mode: 0o755 });
    }
    lan = await createDhcpLan(subnet, 1);
    const text = await generated(server, dir, edgeboot, hookPath, socket, secret);
    await startServer(server, lan, dir, text, { EDGEBOOT_LEASE_SOCKET: socket, EDGEBOOT_LEASE_SECRET_FILE: secret });
  }, 60_000);

  afterAll(async () => {
    await lan?.teardown();
    await intake?.stop(100);
  });

  const bios = { arch: 0, vendorClass: 'PXEClient:Arch:00000:UNDI:002001' };
  let biosLease: UdhcpcLease;

  it('gives a BIOS PXE client undionly.kpxe from next-server = edgeboot', async () => {
    biosLease = await udhcpc(lan, dir, bios);
    expect([biosLease.boot_file, biosLease.siaddr]).toEqual(['undionly.kpxe', edgeboot]);
  }, 30_000);

  it('gives a client that is already iPXE the HTTP entry script', async () => {
    const l = await udhcpc(lan, dir, { ...bios, userClass: 'iPXE' });
    expect(l.boot_file).toBe(`http://${edgeboot}:5248/boot.ipxe`);
  }, 30_000);

  it('gives an x86-64 UEFI client snponly.efi', async () => {
    const l = await udhcpc(lan, dir, { arch: 7, vendorClass: 'PXEClient:Arch:00007:UNDI:003016' });
    expect(l.boot_file).toBe('snponly.efi');
  }, 30_000);

  let httpLease: UdhcpcLease;

  it('gives a UEFI HTTP boot client an http URL', async () => {
    httpLease = await udhcpc(lan, dir, { arch: 16, vendorClass: 'HTTPClient:Arch:00016:UNDI:003001' });
    expect(httpLease.boot_file).toBe(`http://${edgeboot}:5248/snponly.efi`);
  }, 30_000);

  it('answers the HTTP boot client with option 60 HTTPClient', () => {
    expect(httpLease.vendor).toBe('HTTPClient');
  });

  // Issue 13: d-i reads any boot file name containing "://" as its preseed URL.
  it('gives a d-i-like client (vendor class d-i, no option 93, no iPXE user class) no URL', async () => {
    const l = await udhcpc(lan, dir, { vendorClass: 'd-i' });
    expect(l.ip).toMatch(new RegExp(`^${subnet.replace(/\./g, '\\.')}\\.`));
    expect(l.boot_file ?? '').not.toContain('://');
  }, 30_000);

  it('gives a PXE client that claims the HTTP boot architecture a file name or nothing, never a URL', async () => {
    const l = await udhcpc(lan, dir, { arch: 16, vendorClass: 'PXEClient:Arch:00016:UNDI:003001' });
    expect(l.boot_file ?? '').not.toContain('://');
    expect(l.vendor ?? '').not.toBe('HTTPClient');
  }, 30_000);

  it('reports the BIOS client\'s lease through the hook (MAC → IP)', async () => {
    const mac = parseMac(biosLease.mac!);
    await waitFor('the lease hook report', 10_000, async () => leases.ipsFor(mac).includes(biosLease.ip!));
    expect(leases.ipsFor(mac)).toContain(biosLease.ip);
  }, 15_000);

  // dnsmasq passes option 93 through the generated tags, ISC through execute(); Kea's run_script has no option values.
  it(`records the client architecture as ${server === 'kea' ? 'unknown (Kea passes none)' : 'bios'}`, async () => {
    const mac = parseMac(biosLease.mac!);
    await waitFor('the lease hook report', 10_000, async () => leases.leases(mac).length > 0);
    expect(leases.leases(mac)[0]?.arch).toBe(server === 'kea' ? undefined : 'bios');
  }, 15_000);
});
