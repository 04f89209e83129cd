import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BootArtefacts, ensureBootArtefacts, stageImage } from './lib/artefacts.js';
import { type EdgebootRun, deployingDebianInventory, startEdgeboot } from './lib/edgeboot.js';
import { type Lab, createLab } from './lib/lab.js';
import { FIRMWARE, IPXE_LOADERS, REPO_ROOT } from './lib/paths.js';
import { requireRoot, requireTools } from './lib/process.js';
import { type GuestRun, HTTP_BOOT_ONLY, bootGuest } from './lib/qemu.js';
import { type GuestReport, describeLogs, parseGuestReport } from './lib/serial-log.js';
import { type SiteDhcp, type SiteDhcpMode, startSiteDhcp } from './lib/site-dhcp.js';
import { waitFor } from './lib/wait.js';

// UEFI servers without an iPXE ROM (issue 12): OVMF's own virtio-net driver and network stack
// (`romfile=` empty), DHCP configured only by `edgeboot dhcp-config` or answered by edgeboot's proxyDHCP.
// - native PXE: the firmware takes snponly.efi by TFTP; its iPXE asks DHCP again and gets boot.ipxe;
// - UEFI HTTP Boot (vendor class HTTPClient:Arch:00016): the firmware gets an absolute http:// URL of
//   snponly.efi with option 60 HTTPClient echoed, loads it over HTTP, and iPXE goes on the same way.
// Each boot ends in the node's script, Debian's kernel and the installer answer file.

const BOOT_LIMIT_SECONDS = 240;
const HOOK = join(REPO_ROOT, 'dist/src/dhcp-hooks/lease-hook.js');

interface NativeCase {
  title: string;
  boot: 'pxe' | 'http';
  mode: SiteDhcpMode;
  subnet: string;
}

const CASES: NativeCase[] = [
  { title: 'native PXE → snponly.efi → iPXE, ISC dhcpd with the generated snippet', boot: 'pxe', mode: 'isc', subnet: '10.231.131' },
  { title: 'UEFI HTTP Boot, dnsmasq with the generated snippet', boot: 'http', mode: 'dnsmasq', subnet: '10.231.132' },
  { title: 'UEFI HTTP Boot, Kea with the generated fragment', boot: 'http', mode: 'kea', subnet: '10.231.133' },
  { title: "UEFI HTTP Boot, edgeboot's proxyDHCP beside an address-only dnsmasq", boot: 'http', mode: 'proxy', subnet: '10.231.134' },
];

let artefacts: BootArtefacts;

beforeAll(async () => {
  requireRoot();
  requireTools(['qemu-system-x86_64', 'dnsmasq', 'dhcpd', 'kea-dhcp4', 'busybox', 'cpio', 'curl', 'ip', 'timeout', FIRMWARE.ovmfCode, FIRMWARE.ovmfVars, IPXE_LOADERS.snponly]);
  artefacts = await ensureBootArtefacts((line) => console.log(line));
}, 600_000);

for (const c of CASES) {
  describe(c.title, () => {
    const mac = `52:54:00:c1:${c.subnet.split('.')[2]!.slice(-2)}:${randomBytes(1).toString('hex')}`;
    const hostname = `native-${c.boot}-${c.mode}`;
    const ip = `${c.subnet}.50`;
    let lab: Lab;
    let edgeboot: EdgebootRun;
    let dhcp: SiteDhcp | undefined;
    let guest: GuestRun | undefined;
    let report: GuestReport = { ok: false };

    beforeAll(async () => {
      lab = await createLab({ subnet: c.subnet });
      const bootRoot = join(lab.dir, 'boot');
      await stageImage(bootRoot, { os: 'debian', release: 'trixie' }, artefacts);
      const socket = join(lab.dir, 'lease.sock');
      const secret = join(lab.dir, 'lease-hook.secret');
      const dhcpBlock = { lease_socket: socket, lease_secret_file: secret, lease_hook: HOOK, proxy: c.mode === 'proxy' };
      edgeboot = await startEdgeboot({
        ns: lab.ns,
        dir: lab.dir,
        bootRoot,
        tftpPort: c.boot === 'pxe' ? 69 : undefined,
        inventory: deployingDebianInventory(mac, hostname, 'native'),
        extraConfig: { dhcp: dhcpBlock },
      });
      if (c.mode === 'proxy') await waitFor('proxyDHCP', 10_000, async () => /proxyDHCP listening/.test(await edgeboot.log()));
      const env = { EDGEBOOT_LEASE_SOCKET: socket, EDGEBOOT_LEASE_SECRET_FILE: secret };
      dhcp = await startSiteDhcp({ mode: c.mode, lab, edgebootConfig: edgeboot.configFile, mac, ip, env });
      guest = await bootGuest({
        ns: lab.ns,
        dir: lab.dir,
        firmware: 'uefi-native',
        mac,
        timeoutSeconds: BOOT_LIMIT_SECONDS,
        extraArgs: c.boot === 'http' ? HTTP_BOOT_ONLY : [],
      });
      report = parseGuestReport(guest.serial);
      const up = report.guestUptime !== undefined ? `, guest uptime at answer ${report.guestUptime.toFixed(1)} s` : '';
      console.log(`uefi-native ${c.boot}/${c.mode}: boot to power-off ${guest.seconds.toFixed(1)} s${up}, result "${report.result ?? 'none'}"`);
    }, (BOOT_LIMIT_SECONDS + 180) * 1000);

    afterAll(async () => {
      for (const p of (await lab?.teardown()) ?? []) console.log(`teardown: ${p}`);
    }, 60_000);

    const failure = async (what: string) => {
      lab.keep();
      return describeLogs(what, { 'serial console': guest?.serial ?? '', 'edgeboot log': await edgeboot.log(), [`${c.mode} log`]: (await dhcp?.log()) ?? '' });
    };
    const logEntries = async () =>
      (await edgeboot.log())
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>);

    it('boots to this node\'s installer answer file', async () => {
      if (!report.ok) throw new Error(await failure(`no answer file: result "${report.result ?? 'none'}"`));
      expect(report.url?.startsWith(`${edgeboot.baseUrl}/answers/`)).toBe(true);
      expect(report.answer).toContain(hostname);
    });

    if (c.boot === 'pxe') {
      it('the firmware took snponly.efi by TFTP, once', async () => {
        const sent = (await logEntries()).filter((e) => e.msg === 'tftp transfer' && e.file === 'snponly.efi' && e.outcome === 'ok');
        if (sent.length !== 1) throw new Error(await failure(`snponly.efi went by TFTP ${sent.length} times`));
      });
    } else {
      it('the firmware was handed an absolute http:// URL and loaded snponly.efi over HTTP', async () => {
        // OVMF prints the boot URI it got from DHCP before it downloads it.
        if (!guest?.serial.includes(`${edgeboot.baseUrl}/snponly.efi`)) throw new Error(await failure('the serial console shows no http:// boot URI'));
        const got = (await logEntries()).filter((e) => e.msg === 'request' && e.path === '/snponly.efi' && e.status === 200 && e.method === 'GET');
        expect(got.length).toBeGreaterThanOrEqual(1);
        expect((await logEntries()).some((e) => e.msg === 'tftp transfer')).toBe(false);
      });
    }

    it('the chainloaded iPXE got boot.ipxe over HTTP once (no loop back to the loader)', async () => {
      const entries = (await logEntries()).filter((e) => e.route === 'boot.ipxe');
      if (entries.length !== 1) throw new Error(await failure(`boot.ipxe was fetched ${entries.length} times`));
    });

    it('the timeline shows the loader chain snponly → ipxe script → kernel', async () => {
      const r = await lab.ns.exec('curl', ['-fsS', '--max-time', '5', `${edgeboot.baseUrl}/api/v1/nodes/${mac.replace(/:/g, '-')}/timeline`]);
      const row = JSON.parse(r.stdout) as { chain: string[] };
      // The loader fetch comes before the lease report (HTTP Boot) or with no lease report at all (proxyDHCP):
      // the timeline holds it for the MAC that learns the address.
      expect(row.chain).toEqual(['snponly', 'ipxe script', 'kernel']);
    });
  });
}
