import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
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
// the snippet `edgeboot dhcp-config --server dnsmasq` writes (RA + stateful range + option 59 by vendor class).
// The firmware must take `tftp://[…]/snponly.efi` from edgeboot's TFTP over IPv6; the chainloaded iPXE then asks
// DHCPv6 again (user class "iPXE") and fetches boot.ipxe and the node's kernel over HTTP on IPv6.
//
// The bridge has no IPv4 address at all: the namespace helper's IPv4 address is removed before anything starts.

const BOOT_LIMIT_SECONDS = 300;
const PREFIX = 'fd80:2b:1::';
const SERVER6 = `${PREFIX}1`;

let artefacts: BootArtefacts;

beforeAll(async () => {
  requireRoot();
  requireTools(['qemu-system-x86_64', 'dnsmasq', 'busybox', 'cpio', 'curl', 'ip', 'timeout', FIRMWARE.ovmfCode, FIRMWARE.ovmfVars, IPXE_LOADERS.snponly]);
  artefacts = await ensureBootArtefacts((line) => console.log(line));
}, 600_000);

/** Make the lab's bridge IPv6-only: drop its IPv4 address, give it the ULA server address (no DAD wait). */
async function ipv6Only(ns: Netns): Promise<Netns> {
  await ns.exec('ip', ['-4', 'addr', 'flush', 'dev', 'br0']);
  await ns.exec('ip', ['-6', 'addr', 'add', `${SERVER6}/64`, 'dev', 'br0', 'nodad']);
  // startEdgeboot builds its base URL from serverIp: bracketed, it is the IPv6 URL.
  return { ...ns, serverIp: `[${SERVER6}]` };
}

describe('PXEv6: OVMF native PXE over IPv6 → tftp://[…]/snponly.efi, dnsmasq with the generated DHCPv6 snippet', () => {
  const mac = `52:54:00:b6:01:${randomBytes(1).toString('hex')}`;
  let lab: Lab;
  let ns: Netns;
  let edgeboot: EdgebootRun;
  let dnsmasq: ManagedProcess;
  let dnsmasqLog = '';
  let snippet = '';
  let guest: GuestRun | undefined;

  beforeAll(async () => {
    lab = await createLab({ subnet: '10.231.151' });
    ns = await ipv6Only(lab.ns);
    const bootRoot = join(lab.dir, 'boot');
    await stageImage(bootRoot, { os: 'debian', release: 'trixie' }, artefacts);
    edgeboot = await startEdgeboot({ ns, dir: lab.dir, bootRoot, listen: '::', tftpPort: 69, inventory: deployingDebianInventory(mac, 'pxe6-node', 'pxe6') });
    const r = await ns.exec(process.execPath, [edgebootCli(), 'dhcp-config', '--server', 'dnsmasq', '--subnet', `${PREFIX}/64`, '-c', edgeboot.configFile]);
    snippet = r.stdout;
    const conf = join(lab.dir, 'dnsmasq6.conf');
    dnsmasqLog = join(lab.dir, 'dnsmasq.log');
    // Test-only lines around the generated snippet: DHCP only, this bridge only, a private lease file.
    const local = ['port=0', 'no-resolv', 'no-hosts', 'interface=br0', 'bind-interfaces', `dhcp-leasefile=${join(lab.dir, 'dnsmasq.leases')}`, 'log-dhcp', 'user=root', 'group=root'];
    await writeFile(conf, `${local.join('\n')}\n${snippet}`);
    dnsmasq = ns.spawn('dnsmasq', 'dnsmasq', ['--keep-in-foreground', '--log-facility=-', `--conf-file=${conf}`, `--pid-file=${join(lab.dir, 'dnsmasq.pid')}`], dnsmasqLog);
    await waitFor('dnsmasq to serve DHCPv6', 10_000, async () => {
      if (dnsmasq.hasExited()) throw new Error(`dnsmasq exited early:\n${await logOf(dnsmasqLog)}`);
      return /DHCPv6, IP range/.test(await logOf(dnsmasqLog));
    });
    guest = await bootGuest({
      ns,
      dir: lab.dir,
      firmware: 'uefi-native',
      mac,
      timeoutSeconds: BOOT_LIMIT_SECONDS,
      extraArgs: ['-fw_cfg', 'name=opt/org.tianocore/IPv4PXESupport,string=no'],
      // The guest's initrd configures itself over DHCPv4 only (15A's path): stop once the kernel is loaded.
      until: (serial) => /Linux version|udhcpc/.test(serial),
    });
    console.log(`pxe6/dnsmasq: ${guest.seconds.toFixed(1)} s, stopped by until: ${guest.stoppedByUntil}`);
  }, (BOOT_LIMIT_SECONDS + 180) * 1000);

  afterAll(async () => {
    for (const p of (await lab?.teardown()) ?? []) console.log(`teardown: ${p}`);
  }, 60_000);

  const logOf = async (file: string) => (await import('node:fs/promises')).readFile(file, 'utf8').catch(() => '');
  const failure = async (what: string) => {
    lab.keep();
    return describeLogs(what, { 'serial console': guest?.serial ?? '', 'edgeboot log': await edgeboot.log(), 'dnsmasq log': await logOf(dnsmasqLog) });
  };
  const logEntries = async () =>
    (await edgeboot.log())
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);

  it('the generated snippet names the TFTP URL for PXEv6 x86-64', () => {
    expect(snippet).toContain(`tftp://[${SERVER6}]/snponly.efi`);
  });

  it('the firmware took snponly.efi over TFTP on IPv6', async () => {
    const sent = (await logEntries()).filter((e) => e.msg === 'tftp transfer' && e.file === 'snponly.efi' && e.outcome === 'ok');
    if (sent.length < 1) throw new Error(await failure('snponly.efi never went by TFTP'));
    console.log(JSON.stringify(sent[0]));
  });
});
