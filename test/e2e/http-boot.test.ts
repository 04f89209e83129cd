import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REFUSAL_MESSAGES } from '../../src/core/capability.js';
import { type BootArtefacts, ensureBootArtefacts, stageImage } from './lib/artefacts.js';
import { type Dnsmasq, startDnsmasq } from './lib/dnsmasq.js';
import { type EdgebootRun, startEdgeboot } from './lib/edgeboot.js';
import { type Lab, createLab } from './lib/lab.js';
import { httpGet } from './lib/netns.js';
import { FIRMWARE } from './lib/paths.js';
import { requireRoot, requireTools } from './lib/process.js';
import { type Firmware, type GuestRun, bootGuest } from './lib/qemu.js';
import { type GuestReport, describeLogs, parseGuestReport } from './lib/serial-log.js';

// Real firmware end to end (issue 2): DHCP from dnsmasq hands the iPXE ROM edgeboot's boot.ipxe;
// edgeboot serves the node's script, a Debian kernel and a busybox initrd that fetches the
// answer-file URL from its command line and prints it on the serial console.

const BOOT_LIMIT_SECONDS = 90;

const TOOLS = ['qemu-system-x86_64', 'dnsmasq', 'busybox', 'cpio', 'curl', 'ip', 'timeout', 'gzip', 'apt-get', 'dpkg-deb'];

interface BootCase {
  title: string;
  firmware: Firmware;
  subnet: string;
  osystem: 'debian' | 'ubuntu';
  release: string;
  /** The answer file the OS's installer fetches: d-i's `url=` or cloud-init's `<seed>user-data`. */
  answerFile: 'preseed' | 'user-data';
}

const CASES: BootCase[] = [
  {
    title: 'SeaBIOS + iPXE e1000 ROM, Debian installer (preseed via url=)',
    firmware: 'bios',
    subnet: '10.231.1',
    osystem: 'debian',
    release: 'trixie',
    answerFile: 'preseed',
  },
  {
    // OVMF's own PXE (no iPXE ROM) takes snponly.efi by TFTP; its iPXE then gets boot.ipxe like a ROM would.
    title: 'OVMF native PXE → snponly.efi → iPXE, Ubuntu autoinstall (user-data via ds=nocloud-net)',
    firmware: 'uefi-native',
    subnet: '10.231.2',
    osystem: 'ubuntu',
    release: 'noble',
    answerFile: 'user-data',
  },
];

let artefacts: BootArtefacts;

beforeAll(async () => {
  requireRoot();
  requireTools([...TOOLS, ...Object.values(FIRMWARE)]);
  artefacts = await ensureBootArtefacts((line) => console.log(line));
}, 600_000);

function random(n: number): string {
  return randomBytes(n).toString('hex');
}

function inventoryFor(c: BootCase, node: { mac: string; hostname: string; token: Record<string, string> }) {
  return {
    config: {
      main_archive: 'http://archive.ubuntu.com/ubuntu',
      debian_archive: 'http://deb.debian.org/debian',
      metadata_url: 'http://region.invalid:5240/MAAS/metadata/',
      commissioning_release: 'noble',
    },
    boot_selections: [{ os: c.osystem, release: c.release, arches: ['amd64'], subarches: ['generic'], labels: ['stable'] }],
    nodes: [
      {
        system_id: `e2e${random(3)}`,
        hostname: node.hostname,
        macs: [node.mac],
        arch: 'amd64/generic',
        status: 'deploying',
        osystem: c.osystem,
        release: c.release,
        // panic=-1: a kernel panic reboots at once, and -no-reboot turns that into a quick exit.
        kernel_opts: 'console=ttyS0 panic=-1',
        token: node.token,
      },
    ],
  };
}

for (const c of CASES) {
  describe(c.title, () => {
    const mac = `52:54:00:e2:${c.firmware === 'bios' ? '0b' : '0e'}:${random(1)}`;
    const hostname = `e2e-${c.firmware}-${random(3)}`;
    const token = { consumer_key: `ck${random(6)}`, token_key: `tk${random(6)}`, token_secret: `ts${random(10)}` };
    const guestIp = `${c.subnet}.50`;
    const otherIp = `${c.subnet}.2`;
    let lab: Lab | undefined;
    let edgeboot: EdgebootRun | undefined;
    let dnsmasq: Dnsmasq | undefined;
    let guest: GuestRun | undefined;
    let report: GuestReport = { ok: false };

    const logs = async (title: string) =>
      describeLogs(title, {
        'serial console': guest?.serial ?? '',
        'edgeboot log': (await edgeboot?.log()) ?? '',
        'dnsmasq log': (await dnsmasq?.log()) ?? '',
      });

    /** The guest's report, or a failure carrying excerpts of every log. */
    const answered = async (): Promise<Required<Pick<GuestReport, 'url' | 'answer'>>> => {
      if (!guest || !report.ok || !report.url || report.answer === undefined) {
        lab?.keep();
        const how = guest ? `qemu exit ${guest.exitCode}${guest.timedOut ? ' (hard timeout)' : ''} after ${guest.seconds.toFixed(1)} s` : 'no guest ran';
        throw new Error(await logs(`the guest printed no answer file: result "${report.result ?? 'none'}", ${how}`));
      }
      return { url: report.url, answer: report.answer };
    };

    beforeAll(async () => {
      lab = await createLab({ subnet: c.subnet });
      const bootRoot = `${lab.dir}/boot`;
      await stageImage(bootRoot, { os: c.osystem, release: c.release }, artefacts);
      const tftpPort = c.firmware === 'uefi-native' ? 69 : undefined;
      edgeboot = await startEdgeboot({ ns: lab.ns, dir: lab.dir, bootRoot, tftpPort, inventory: inventoryFor(c, { mac, hostname, token }) });
      // Firmware that is not iPXE yet (OVMF's own PXE) gets snponly.efi from edgeboot's TFTP first.
      const firstStage = c.firmware === 'uefi-native' ? [`--dhcp-boot=tag:!ipxe,snponly.efi,,${lab.ns.serverIp}`] : [];
      dnsmasq = await startDnsmasq({ ns: lab.ns, dir: lab.dir, ipxeBootUrl: edgeboot.bootIpxeUrl, hosts: [{ mac, ip: guestIp }], extraArgs: firstStage });
      guest = await bootGuest({ ns: lab.ns, dir: lab.dir, firmware: c.firmware, mac, timeoutSeconds: BOOT_LIMIT_SECONDS });
      report = parseGuestReport(guest.serial);
      const up = report.guestUptime !== undefined ? `, guest uptime at answer ${report.guestUptime.toFixed(1)} s` : '';
      console.log(`${c.firmware}: boot to power-off ${guest.seconds.toFixed(1)} s${up}, result "${report.result ?? 'none'}"`);
    }, (BOOT_LIMIT_SECONDS + 120) * 1000);

    afterAll(async () => {
      const problems = (await lab?.teardown()) ?? [];
      for (const p of problems) console.log(`teardown: ${p}`);
    }, 60_000);

    it(`the guest fetched its ${c.answerFile} from the URL on its kernel command line`, async () => {
      const { url } = await answered();
      expect(url.startsWith(`${edgeboot!.baseUrl}/answers/`)).toBe(true);
      expect(url.endsWith(`/${c.answerFile}`)).toBe(true);
    });

    it("the answer file names the node's hostname", async () => {
      const { answer } = await answered();
      expect(answer).toContain(hostname);
    });

    it("the answer file carries the node's token", async () => {
      const { answer } = await answered();
      expect(answer).toContain(token.token_key);
      expect(answer).toContain(token.token_secret);
    });

    it('the same URL requested from another address is refused with 403', async () => {
      const { url } = await answered();
      await lab!.ns.addAddress(otherIp);
      const reply = await httpGet(lab!.ns, url, { sourceIp: otherIp });
      expect(reply.status, reply.body).toBe(403);
      // Refused for the address, not for the signature or its age.
      expect(reply.body.trim()).toBe(REFUSAL_MESSAGES['wrong-ip']);
      expect(reply.body).not.toContain(token.token_secret);
    });

    it(`the boot finished within ${BOOT_LIMIT_SECONDS} s`, async () => {
      await answered();
      expect(guest!.timedOut).toBe(false);
      expect(guest!.seconds).toBeLessThan(BOOT_LIMIT_SECONDS);
    });
  });
}
