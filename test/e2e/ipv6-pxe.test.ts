import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BootArtefacts, ensureBootArtefacts, stageImage } from './lib/artefacts.js';
import { type EdgebootRun, deployingDebianInventory, startEdgeboot } from './lib/edgeboot.js';
import { type Lab, createLab } from './lib/lab.js';
import type { Netns } from './lib/netns.js';
import { FIRMWARE, IPXE_LOADERS, edgebootCli } from './lib/paths.js';
import { type ManagedProcess, requireRoot, requireTools } from './lib/process.js';
import { type GuestRun, bootGuest } from './lib/qemu.js';
import { describeLogs } from './lib/serial-log.js';
import { waitFor } from './lib/wait.js';

// PXEv6 on an IPv6-only bridge (issue 15): OVMF's own network stack with its IPv4 PXE switched off, DHCPv6 from
// the config `edgeboot dhcp-config` writes (option 59 by vendor class). The firmware must take
// `tftp://[…]/snponly.efi` from edgeboot's TFTP over IPv6; the chainloaded iPXE then asks DHCPv6 again (user
// class "iPXE") and fetches boot.ipxe, the node's script and its kernel over HTTP on IPv6.
// - dnsmasq: its option 16 cannot carry enterprise 343, so EDK2 files the Advertise as "DHCP only" (not a PXE
//   "binl" offer) — and still boots from its option 59;
// - Kea: the same plain offer (the Kea fragment echoes no PXEClient option 16: with it EDK2 takes the reply for
//   a PXE "binl" offer, asks a boot server on UDP 4011 and stops with PXE-E16); Kea sends no router
//   advertisements, so radvd announces the prefix (M and O flags) as the site's router would.
// The bridge has no IPv4 address at all: the namespace helper's IPv4 address is removed before anything starts.
// The guest's busybox initrd configures itself over DHCPv4 only, so each boot is stopped once the kernel runs.

const BOOT_LIMIT_SECONDS = 300;

interface Pxe6Case {
  server: 'dnsmasq' | 'kea';
  /** `pxe`: PXEv6 (IPv4 PXE off); `http`: UEFI HTTPv6 Boot (both PXE stacks off). */
  boot: 'pxe' | 'http';
  /** A /64 of its own per case, so logs never mix. */
  prefix: string;
  ipv4: string;
}

const CASES: Pxe6Case[] = [
  { server: 'dnsmasq', boot: 'pxe', prefix: 'fd80:2b:1::', ipv4: '10.231.161' },
  { server: 'kea', boot: 'pxe', prefix: 'fd80:2b:2::', ipv4: '10.231.162' },
  { server: 'kea', boot: 'http', prefix: 'fd80:2b:3::', ipv4: '10.231.163' },
];

let artefacts: BootArtefacts;

beforeAll(async () => {
  requireRoot();
  requireTools(['qemu-system-x86_64', 'dnsmasq', 'kea-dhcp6', 'radvd', 'sysctl', 'busybox', 'cpio', 'curl', 'ip', 'timeout', FIRMWARE.ovmfCode, FIRMWARE.ovmfVars, IPXE_LOADERS.snponly]);
  artefacts = await ensureBootArtefacts((line) => console.log(line));
}, 600_000);

const logOf = (file: string) => readFile(file, 'utf8').catch(() => '');

/** Make the lab's bridge IPv6-only: drop its IPv4 address, give it the ULA server address (no DAD wait). */
async function ipv6Only(ns: Netns, server: string): Promise<Netns> {
  await ns.exec('ip', ['-4', 'addr', 'flush', 'dev', 'br0']);
  await ns.exec('ip', ['-6', 'addr', 'add', `${server}/64`, 'dev', 'br0', 'nodad']);
  // dnsmasq and Kea bind br0's link-local address: wait until it has left duplicate address detection.
  await waitFor('br0 link-local address', 15_000, async () => {
    const r = await ns.exec('ip', ['-6', 'addr', 'show', 'dev', 'br0', 'scope', 'link']);
    return r.stdout.includes('inet6 fe80') && !r.stdout.includes('tentative');
  });
  // startEdgeboot builds its base URL from serverIp: bracketed, it is the IPv6 URL.
  return { ...ns, serverIp: `[${server}]` };
}

/** Start the case's DHCPv6 server with the generated config (plus test-only lines); return its log file. */
async function startDhcp6(c: Pxe6Case, ns: Netns, dir: string, generated: string): Promise<{ proc: ManagedProcess; logFile: string }> {
  const logFile = join(dir, `${c.server}.log`);
  const dnsmasqLocal = ['port=0', 'no-resolv', 'no-hosts', 'interface=br0', 'bind-interfaces', `dhcp-leasefile=${join(dir, 'dnsmasq.leases')}`, 'log-dhcp', 'user=root', 'group=root'];
  if (c.server === 'dnsmasq') {
    const conf = join(dir, 'dnsmasq6.conf');
    await writeFile(conf, `${dnsmasqLocal.join('\n')}\n${generated}`);
    const proc = ns.spawn('dnsmasq', 'dnsmasq', ['--keep-in-foreground', '--log-facility=-', `--conf-file=${conf}`, `--pid-file=${join(dir, 'dnsmasq.pid')}`], logFile);
    await waitFor('dnsmasq to serve DHCPv6', 10_000, async () => {
      if (proc.hasExited()) throw new Error(`dnsmasq exited early:\n${await logOf(logFile)}`);
      return /DHCPv6, IP range/.test(await logOf(logFile));
    });
    return { proc, logFile };
  }
  // Kea sends no router advertisements (the generated fragment says so): radvd announces the prefix with the M
  // and O flags, as a site router would, so iPXE asks DHCPv6 for its address and boot URL.
  const raConf = join(dir, 'radvd.conf');
  await writeFile(
    raConf,
    `interface br0 {\n  AdvSendAdvert on;\n  MinRtrAdvInterval 3;\n  MaxRtrAdvInterval 10;\n  AdvManagedFlag on;\n  AdvOtherConfigFlag on;\n  prefix ${c.prefix}/64 { AdvOnLink on; AdvAutonomous on; };\n};\n`,
  );
  await ns.exec('sysctl', ['-qw', 'net.ipv6.conf.all.forwarding=1']);
  const ra = ns.spawn('radvd', 'radvd', ['--nodaemon', '--logmethod=stderr', '--debug=1', `--config=${raConf}`, `--pidfile=${join(dir, 'radvd.pid')}`], join(dir, 'radvd.log'));
  const fragment = JSON.parse(generated.replace(/^\/\/.*$/gm, '')) as { Dhcp6: Record<string, unknown> };
  const conf = join(dir, 'kea-dhcp6.conf');
  const full = {
    Dhcp6: {
      'interfaces-config': { interfaces: ['br0'] },
      'lease-database': { type: 'memfile', persist: false },
      'data-directory': dir,
      subnet6: [{ id: 1, subnet: `${c.prefix}/64`, interface: 'br0', pools: [{ pool: `${c.prefix}1000-${c.prefix}1fff` }] }],
      loggers: [{ name: 'kea-dhcp6', severity: 'DEBUG', debuglevel: 40, output_options: [{ output: logFile }] }],
      ...fragment.Dhcp6,
    },
  };
  await writeFile(conf, JSON.stringify(full, null, 2));
  const env = { ...process.env, KEA_PIDFILE_DIR: dir, KEA_LOCKFILE_DIR: dir };
  const proc = ns.spawn('kea-dhcp6', 'kea-dhcp6', ['-c', conf], join(dir, 'kea-dhcp6.out'), env);
  await waitFor('kea-dhcp6 to open its socket', 15_000, async () => {
    if (proc.hasExited()) throw new Error(`kea-dhcp6 exited early:\n${await logOf(join(dir, 'kea-dhcp6.out'))}\n${await logOf(logFile)}`);
    if (ra.hasExited()) throw new Error(`radvd exited early:\n${await logOf(join(dir, 'radvd.log'))}`);
    return /DHCPSRV_CFGMGR_ADD_IFACE|DHCP6_STARTED|started/i.test(await logOf(logFile));
  });
  return { proc, logFile };
}

for (const c of CASES) {
  const title =
    c.boot === 'pxe'
      ? `PXEv6: OVMF native PXE, IPv6 only → tftp://[…]/snponly.efi → iPXE, ${c.server} with the generated DHCPv6 config`
      : `UEFI HTTPv6 Boot: OVMF, IPv6 only → http://[…]/snponly.efi → iPXE, ${c.server} with the generated DHCPv6 config`;
  describe(title, () => {
    const server6 = `${c.prefix}1`;
    const mac = `52:54:00:b6:0${CASES.indexOf(c) + 1}:${randomBytes(1).toString('hex')}`;
    let lab: Lab;
    let ns: Netns;
    let edgeboot: EdgebootRun;
    let dhcpLog = '';
    let generated = '';
    let guest: GuestRun | undefined;
    let started = 0;

    beforeAll(async () => {
      lab = await createLab({ subnet: c.ipv4 });
      ns = await ipv6Only(lab.ns, server6);
      const bootRoot = join(lab.dir, 'boot');
      await stageImage(bootRoot, { os: 'debian', release: 'trixie' }, artefacts);
      edgeboot = await startEdgeboot({ ns, dir: lab.dir, bootRoot, listen: '::', tftpPort: 69, inventory: deployingDebianInventory(mac, `pxe6-${c.server}`, 'pxe6') });
      const r = await ns.exec(process.execPath, [edgebootCli(), 'dhcp-config', '--server', c.server, '--subnet', `${c.prefix}/64`, '-c', edgeboot.configFile]);
      generated = r.stdout;
      dhcpLog = (await startDhcp6(c, ns, lab.dir, generated)).logFile;
      started = Date.now();
      guest = await bootGuest({
        ns,
        dir: lab.dir,
        firmware: 'uefi-native',
        mac,
        timeoutSeconds: BOOT_LIMIT_SECONDS,
        extraArgs: ['-fw_cfg', 'name=opt/org.tianocore/IPv4PXESupport,string=no', ...(c.boot === 'http' ? ['-fw_cfg', 'name=opt/org.tianocore/IPv6PXESupport,string=no'] : [])],
        until: (serial) => /Linux version|udhcpc/.test(serial),
      });
      console.log(`${c.boot}6/${c.server}: qemu ran ${guest.seconds.toFixed(1)} s (stopped once the kernel ran: ${guest.stoppedByUntil})`);
    }, (BOOT_LIMIT_SECONDS + 180) * 1000);

    afterAll(async () => {
      for (const p of (await lab?.teardown()) ?? []) console.log(`teardown: ${p}`);
    }, 60_000);

    const failure = async (what: string) => {
      lab.keep();
      return describeLogs(what, { 'serial console': guest?.serial ?? '', 'edgeboot log': await edgeboot.log(), [`${c.server} log`]: await logOf(dhcpLog) });
    };
    const logEntries = async () =>
      (await edgeboot.log())
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>);
    const secondsAfterStart = (e: Record<string, unknown>) => ((Date.parse(String(e.time)) - started) / 1000).toFixed(1);

    it('the generated config names the loader URL for this firmware', () => {
      expect(generated).toContain(c.boot === 'pxe' ? `tftp://[${server6}]/snponly.efi` : `http://[${server6}]:5248/snponly.efi`);
    });

    if (c.boot === 'http')
      it('the firmware loaded snponly.efi over HTTP on IPv6 (no TFTP)', async () => {
        const got = (await logEntries()).filter((e) => e.msg === 'request' && e.path === '/snponly.efi' && e.method === 'GET' && e.status === 200);
        if (got.length < 1) throw new Error(await failure('snponly.efi was never fetched over HTTP'));
        expect(String(got[0]!.peer).startsWith(c.prefix)).toBe(true);
        expect((await logEntries()).some((e) => e.msg === 'tftp transfer')).toBe(false);
        console.log(`http6/${c.server}: snponly.efi over HTTPv6 at ${secondsAfterStart(got[0]!)} s`);
      });
    else
      it('the firmware took snponly.efi over TFTP from an address in the IPv6 prefix, once', async () => {
        const sent = (await logEntries()).filter((e) => e.msg === 'tftp transfer' && e.file === 'snponly.efi' && e.outcome === 'ok');
        if (sent.length !== 1) throw new Error(await failure(`snponly.efi went by TFTP ${sent.length} times`));
        // TFTP names an IPv6 peer as [address]:port.
        expect(String(sent[0]!.peer).startsWith(`[${c.prefix}`)).toBe(true);
        console.log(`pxe6/${c.server}: snponly.efi over TFTPv6 at ${secondsAfterStart(sent[0]!)} s: ${sent[0]!.bytes} bytes in ${sent[0]!.ms} ms, blksize ${sent[0]!.blksize}`);
      });

    it('the chainloaded iPXE got boot.ipxe, the node script and the kernel over HTTP on IPv6', async () => {
      const http = (await logEntries()).filter((e) => e.msg === 'request' && e.status === 200 && String(e.peer).startsWith(c.prefix));
      const boot = http.find((e) => e.route === 'boot.ipxe');
      const kernel = http.find((e) => /kernel|vmlinuz|linux/.test(String(e.path)) && Number(e.bytes) > 1_000_000);
      if (!boot || !kernel) throw new Error(await failure(`over IPv6 HTTP: boot.ipxe ${boot ? 'fetched' : 'missing'}, kernel ${kernel ? 'fetched' : 'missing'}`));
      console.log(`${c.boot}6/${c.server}: boot.ipxe at ${secondsAfterStart(boot)} s, kernel at ${secondsAfterStart(kernel)} s`);
      expect((await logEntries()).filter((e) => e.route === 'boot.ipxe')).toHaveLength(1);
    });

    it("the machine's timeline has the firmware's loader (tied to its MAC by the neighbour table), the iPXE script and the kernel", async () => {
      const port = /:(\d+)$/.exec(edgeboot.baseUrl)![1];
      const r = await ns.exec('curl', ['-fsSg', '--max-time', '5', `http://[${server6}]:${port}/api/v1/nodes/${mac.replace(/:/g, '-')}/timeline`]);
      const row = JSON.parse(r.stdout) as { chain: string[] };
      if (row.chain[0] !== 'snponly') throw new Error(await failure(`the timeline's loader chain is ${JSON.stringify(row.chain)}`));
      expect(row.chain).toEqual(['snponly', 'ipxe script', 'kernel']);
    });

    it('the kernel started', async () => {
      if (!guest?.stoppedByUntil) throw new Error(await failure('the serial console never showed the kernel'));
    });
  });
}
