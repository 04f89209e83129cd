import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BootArtefacts, ensureBootArtefacts, stageImage } from './lib/artefacts.js';
import { type EdgebootRun, startEdgeboot, deployingDebianInventory } from './lib/edgeboot.js';
import { type Lab, createLab } from './lib/lab.js';
import { FIRMWARE, REPO_ROOT } from './lib/paths.js';
import { requireRoot, requireTools } from './lib/process.js';
import { type Firmware, type GuestRun, bootGuest } from './lib/qemu.js';
import { type GuestReport, describeLogs, parseGuestReport } from './lib/serial-log.js';
import { type SiteDhcpMode, startSiteDhcp } from './lib/site-dhcp.js';
import { waitFor } from './lib/wait.js';

// qemu guests boot with DHCP configured only by `edgeboot dhcp-config` (dnsmasq, Kea, ISC dhcpd), and
// with edgeboot's proxyDHCP beside a dnsmasq that gives addresses only. The lease hook the generated
// lines wire reports each guest to edgeboot, seen in edgeboot's log.

const BOOT_LIMIT_SECONDS = 120;
const HOOK = join(REPO_ROOT, 'dist/src/dhcp-hooks/lease-hook.js');

type Mode = SiteDhcpMode;

interface BootCase {
  title: string;
  mode: Mode;
  firmware: Firmware;
  subnet: string;
  /** The arch the lease hook can report (Kea's run_script passes no option 93). */
  arch?: string;
}

const CASES: BootCase[] = [
  { title: 'dnsmasq with the generated snippet, SeaBIOS guest', mode: 'dnsmasq', firmware: 'bios', subnet: '10.231.81', arch: 'bios' },
  // OVMF's own PXE (no iPXE ROM: trixie's efi-*.rom has none either) takes snponly.efi by TFTP, whose iPXE then asks again.
  { title: 'dnsmasq with the generated snippet, OVMF native PXE → snponly.efi', mode: 'dnsmasq', firmware: 'uefi-native', subnet: '10.231.82', arch: 'efi-bc' },
  { title: 'Kea with the generated fragment, SeaBIOS guest', mode: 'kea', firmware: 'bios', subnet: '10.231.83' },
  { title: 'ISC dhcpd with the generated snippet, SeaBIOS guest', mode: 'isc', firmware: 'bios', subnet: '10.231.84', arch: 'bios' },
  { title: 'proxyDHCP beside an address-only dnsmasq, SeaBIOS guest', mode: 'proxy', firmware: 'bios', subnet: '10.231.85' },
];

let artefacts: BootArtefacts;

beforeAll(async () => {
  requireRoot();
  requireTools(['qemu-system-x86_64', 'dnsmasq', 'dhcpd', 'kea-dhcp4', 'busybox', 'cpio', 'curl', 'ip', 'timeout', ...Object.values(FIRMWARE)]);
  artefacts = await ensureBootArtefacts((line) => console.log(line));
}, 600_000);

for (const c of CASES) {
  describe(c.title, () => {
    const mac = `52:54:00:d8:${c.subnet.split('.')[2]!.padStart(2, '0').slice(-2)}:${randomBytes(1).toString('hex')}`;
    const hostname = `dhcp-${c.mode}-${c.firmware}`;
    const ip = `${c.subnet}.50`;
    let lab: Lab;
    let edgeboot: EdgebootRun;
    let guest: GuestRun | undefined;
    let report: GuestReport = { ok: false };
    let dhcpLog: () => Promise<string> = async () => '';

    beforeAll(async () => {
      lab = await createLab({ subnet: c.subnet });
      const bootRoot = join(lab.dir, 'boot');
      await stageImage(bootRoot, { os: 'debian', release: 'trixie' }, artefacts);
      const socket = join(lab.dir, 'lease.sock');
      const secret = join(lab.dir, 'lease-hook.secret');
      // Kea's run_script gives the hook an empty environment: a non-default socket needs a wrapper.
      let leaseHook = HOOK;
      if (c.mode === 'kea') {
        leaseHook = join(lab.dir, 'kea-lease-hook.sh');
        await writeFile(leaseHook, `#!/bin/sh\nEDGEBOOT_LEASE_SOCKET=${socket} EDGEBOOT_LEASE_SECRET_FILE=${secret} exec ${HOOK} "$@"\n`, { mode: 0o755 });
      }
      const dhcp = { lease_socket: socket, lease_secret_file: secret, lease_hook: leaseHook, proxy: c.mode === 'proxy' };
      // TFTP for the firmware's own PXE (the iPXE ROM guests go straight to HTTP).
      const tftpPort = c.firmware === 'uefi-native' ? 69 : undefined;
      edgeboot = await startEdgeboot({ ns: lab.ns, dir: lab.dir, bootRoot, tftpPort, inventory: deployingDebianInventory(mac, hostname, 'dhcp'), extraConfig: { dhcp } });
      await waitFor('edgeboot services', 10_000, async () => /lease intake listening/.test(await edgeboot.log()));
      if (c.mode === 'proxy') await waitFor('proxyDHCP', 10_000, async () => /proxyDHCP listening/.test(await edgeboot.log()));
      const env = { EDGEBOOT_LEASE_SOCKET: socket, EDGEBOOT_LEASE_SECRET_FILE: secret };
      dhcpLog = (await startSiteDhcp({ mode: c.mode, lab, edgebootConfig: edgeboot.configFile, mac, ip, env })).log;
      guest = await bootGuest({ ns: lab.ns, dir: lab.dir, firmware: c.firmware, mac, timeoutSeconds: BOOT_LIMIT_SECONDS });
      report = parseGuestReport(guest.serial);
      console.log(`${c.mode}/${c.firmware}: boot to power-off ${guest.seconds.toFixed(1)} s, result "${report.result ?? 'none'}"`);
    }, (BOOT_LIMIT_SECONDS + 120) * 1000);

    afterAll(async () => {
      for (const p of (await lab?.teardown()) ?? []) console.log(`teardown: ${p}`);
    }, 60_000);

    const failure = async (what: string) => {
      lab.keep();
      return describeLogs(what, { 'serial console': guest?.serial ?? '', 'edgeboot log': await edgeboot.log(), [`${c.mode} log`]: await dhcpLog() });
    };

    it('boots to the installer answer file', async () => {
      if (!report.ok) throw new Error(await failure(`no answer file: result "${report.result ?? 'none'}"`));
      expect(report.url?.startsWith(`${edgeboot.baseUrl}/answers/`)).toBe(true);
    });

    it('the answer file is this node\'s', () => {
      expect(report.answer).toContain(hostname);
    });

    it('gets the HTTP entry script once, without a loop back to DHCP/TFTP', async () => {
      const entries = (await edgeboot.log()).split('\n').filter((l) => l.includes('"route":"boot.ipxe"'));
      if (entries.length !== 1) throw new Error(await failure(`boot.ipxe was fetched ${entries.length} times`));
      expect(entries.length).toBe(1);
    });

    it(`the lease hook reports the guest's MAC, IP${c.arch ? ' and arch' : ''} to edgeboot`, async () => {
      if (c.mode === 'proxy') {
        // dnsmasq here is the site's own, not configured by edgeboot: no hook is wired; proxyDHCP answered instead.
        expect(await edgeboot.log()).toMatch(new RegExp(`"mac":"${mac}".*"msg":"proxyDHCP answered"`));
        return;
      }
      await waitFor('the lease report', 10_000, async () => new RegExp(`"mac":"${mac}".*"msg":"lease recorded"`).test(await edgeboot.log()));
      const line = (await edgeboot.log()).split('\n').find((l) => l.includes('"lease recorded"') && l.includes(mac))!;
      const entry = JSON.parse(line) as { mac: string; ip: string; arch?: string };
      expect([entry.mac, entry.ip, entry.arch]).toEqual([mac, ip, c.arch]);
    });
  });
}
