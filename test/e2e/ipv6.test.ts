import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { REFUSAL_MESSAGES } from '../../src/core/capability.js';
import { type BootArtefacts, ensureBootArtefacts, stageImage } from './lib/artefacts.js';
import { deployingDebianInventory, edgebootConfig } from './lib/edgeboot.js';
import { type Lab, createLab } from './lib/lab.js';
import { FIRMWARE, IPXE_LOADERS, edgebootCli } from './lib/paths.js';
import { type ManagedProcess, requireRoot, requireTools } from './lib/process.js';
import { type GuestRun, bootGuest } from './lib/qemu.js';
import { type GuestReport, cleanSerial, describeLogs, parseGuestReport } from './lib/serial-log.js';
import { waitFor } from './lib/wait.js';

// IPv6-only provisioning network (issue 15): the bridge carries no IPv4 address at all. OVMF's own network
// stack (no iPXE ROM, IPv4 PXE switched off) gets its boot file URL from a real dnsmasq running the DHCPv6
// snippet of `edgeboot dhcp-config`, with router advertisements from the same dnsmasq:
// - UEFI HTTPv6 Boot (vendor class HTTPClient): http://[…]/snponly.efi → iPXE (DHCPv6, user class iPXE) →
//   boot.ipxe → node script → kernel → initrd, which configures itself by SLAAC and fetches the answer file
//   from that self-configured address (not the address DHCPv6 leased to the firmware or iPXE);
// - PXEv6 (vendor class PXEClient): tftp://[…]/snponly.efi over edgeboot's TFTP on IPv6, then the same chain.

const BOOT_LIMIT_SECONDS = 300;
const PREFIX = 'fd80:2a:15';
const SERVER = `${PREFIX}::1`;
const BASE = `http://[${SERVER}]:5248`;

interface V6Case {
  title: string;
  boot: 'http' | 'pxe';
  /** Only for naming the namespace's (deleted) IPv4 /24 and the MAC. */
  subnet: string;
  fwCfg: string[];
}

const CASES: V6Case[] = [
  {
    title: 'IPv6-only: OVMF UEFI HTTPv6 Boot → snponly.efi → iPXE → answer file from the SLAAC address',
    boot: 'http',
    subnet: '10.231.161',
    // PXE over both stacks off: OVMF's boot manager goes on to HTTPv4 (no DHCPv4 here: it times out) and HTTPv6.
    fwCfg: ['-fw_cfg', 'name=opt/org.tianocore/IPv4PXESupport,string=no', '-fw_cfg', 'name=opt/org.tianocore/IPv6PXESupport,string=no'],
  },
  {
    title: 'IPv6-only: OVMF PXEv6 → snponly.efi over TFTP on IPv6 → iPXE → answer file',
    boot: 'pxe',
    subnet: '10.231.162',
    fwCfg: ['-fw_cfg', 'name=opt/org.tianocore/IPv4PXESupport,string=no'],
  },
];

/** The modified EUI-64 SLAAC address a kernel derives from `mac` in the /64 `prefix` (three groups), as Node prints it (RFC 5952). */
function eui64Address(prefix: string, mac: string): string {
  const b = mac.split(':').map((h) => parseInt(h, 16));
  b[0] = b[0]! ^ 0x02;
  const id = [(b[0] << 8) | b[1]!, (b[2]! << 8) | 0xff, (0xfe << 8) | b[3]!, (b[4]! << 8) | b[5]!];
  return `${prefix}:0:${id.map((n) => n.toString(16)).join(':')}`;
}

let artefacts: BootArtefacts;

beforeAll(async () => {
  requireRoot();
  requireTools(['qemu-system-x86_64', 'dnsmasq', 'busybox', 'cpio', 'curl', 'ip', 'timeout', FIRMWARE.ovmfCode, FIRMWARE.ovmfVars, IPXE_LOADERS.snponly]);
  artefacts = await ensureBootArtefacts((line) => console.log(line));
}, 900_000);

for (const c of CASES) {
  describe(c.title, () => {
    const mac = `52:54:00:c6:${c.boot === 'http' ? '16' : '07'}:${randomBytes(1).toString('hex')}`;
    const hostname = `v6-${c.boot}`;
    const slaac = eui64Address(PREFIX, mac);
    let lab: Lab;
    let edgeboot: ManagedProcess;
    let dnsmasq: ManagedProcess;
    let guest: GuestRun | undefined;
    let report: GuestReport = { ok: false };
    let snippet = '';
    const edgebootLog = () => readFile(join(lab.dir, 'edgeboot.log'), 'utf8').catch(() => '');
    const dnsmasqLog = () => readFile(join(lab.dir, 'dnsmasq.log'), 'utf8').catch(() => '');

    beforeAll(async () => {
      lab = await createLab({ subnet: c.subnet });
      const ns = lab.ns;
      // No IPv4 anywhere on the bridge: drop the lab's IPv4 address, give br0 the ULA server address.
      await ns.exec('ip', ['addr', 'del', `${ns.serverIp}/24`, 'dev', 'br0']);
      await ns.exec('ip', ['-6', 'addr', 'add', `${SERVER}/64`, 'dev', 'br0', 'nodad']);
      await waitFor('br0 link-local address out of DAD', 15_000, async () => {
        const out = (await ns.exec('ip', ['-6', 'addr', 'show', 'dev', 'br0', 'scope', 'link'])).stdout;
        return out.includes('inet6 fe80') && !out.includes('tentative');
      });

      const bootRoot = join(lab.dir, 'boot');
      await stageImage(bootRoot, { os: 'debian', release: 'trixie' }, artefacts);
      const inventoryFile = join(lab.dir, 'inventory.yaml');
      const configFile = join(lab.dir, 'edgeboot.yaml');
      await writeFile(inventoryFile, stringify(deployingDebianInventory(mac, hostname, 'v6')));
      const opts = { ns, dir: lab.dir, bootRoot, tftpPort: 69, listen: '::', inventory: {} };
      await writeFile(configFile, stringify(edgebootConfig(opts, { inventory: inventoryFile, bootRoot, keyFile: join(lab.dir, 'url-signing.key') })));
      const env = { ...process.env };
      for (const k of Object.keys(env)) if (k.startsWith('EDGEBOOT_')) delete env[k];
      edgeboot = ns.spawn('edgeboot', process.execPath, [edgebootCli(), 'serve', '--config', configFile], join(lab.dir, 'edgeboot.log'), env);
      await waitFor('edgeboot /healthz over IPv6', 30_000, async () => {
        if (edgeboot.hasExited()) throw new Error(`edgeboot exited before it was healthy:\n${await edgebootLog()}`);
        return (await ns.exec('curl', ['-fsS', '--max-time', '2', '-o', '/dev/null', `${BASE}/healthz`], { allowFailure: true })).code === 0;
      });

      // The DHCPv6 snippet exactly as dhcp-config writes it, plus the test-only lines (no DNS, this bridge only, own
      // lease file). Its range carries `slaac`: the prefix's A flag lets the installer's kernel configure itself.
      const gen = await ns.exec(process.execPath, [edgebootCli(), 'dhcp-config', '--server', 'dnsmasq', '--subnet', `${PREFIX}::/64`, '--server-address', SERVER, '-c', configFile]);
      snippet = gen.stdout;
      if (!/^dhcp-range=[^,\n]+,[^,\n]+,slaac,64,\S+$/m.test(snippet)) throw new Error(`dhcp-config wrote no stateful + SLAAC /64 dhcp-range:\n${snippet}`);
      const conf = snippet;
      const confFile = join(lab.dir, 'dnsmasq6.conf');
      await writeFile(confFile, `port=0\ninterface=br0\nbind-interfaces\ndhcp-leasefile=${join(lab.dir, 'dnsmasq.leases')}\n${conf}`);
      dnsmasq = ns.spawn('dnsmasq', 'dnsmasq', ['-k', '-C', confFile, `--pid-file=${join(lab.dir, 'dnsmasq.pid')}`, '--log-dhcp', '--log-facility=-', '--user=root', '--group=root'], join(lab.dir, 'dnsmasq.log'));
      await waitFor('dnsmasq serving DHCPv6 and RA', 10_000, async () => {
        if (dnsmasq.hasExited()) throw new Error(`dnsmasq exited early:\n${await dnsmasqLog()}`);
        const log = await dnsmasqLog();
        return /DHCPv6, IP range/.test(log) && /router advertisement/.test(log);
      });

      guest = await bootGuest({ ns, dir: lab.dir, firmware: 'uefi-native', mac, timeoutSeconds: BOOT_LIMIT_SECONDS, extraArgs: c.fwCfg });
      report = parseGuestReport(guest.serial);
      const up = report.guestUptime !== undefined ? `, guest uptime at answer ${report.guestUptime.toFixed(1)} s` : '';
      console.log(`ipv6 ${c.boot}: boot to power-off ${guest.seconds.toFixed(1)} s${up}, result "${report.result ?? 'none'}"`);
    }, (BOOT_LIMIT_SECONDS + 240) * 1000);

    afterAll(async () => {
      for (const p of (await lab?.teardown()) ?? []) console.log(`teardown: ${p}`);
    }, 60_000);

    const failure = async (what: string) => {
      lab.keep();
      return describeLogs(what, { 'serial console': guest?.serial ?? '', 'edgeboot log': await edgebootLog(), 'dnsmasq log': await dnsmasqLog() });
    };
    const logEntries = async () =>
      (await edgebootLog())
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>);

    it('the bridge carries no IPv4 address', async () => {
      const out = (await lab.ns.exec('ip', ['-4', '-o', 'addr', 'show', 'dev', 'br0'])).stdout;
      expect(out.trim()).toBe('');
    });

    it("boots to this node's answer file at a bracketed IPv6 URL", async () => {
      if (!report.ok) throw new Error(await failure(`no answer file: result "${report.result ?? 'none'}"`));
      expect(report.url?.startsWith(`${BASE}/answers/`)).toBe(true);
      expect(report.answer).toContain(hostname);
      expect(guest!.timedOut).toBe(false);
    });

    if (c.boot === 'http') {
      it('the firmware was handed the http://[…]/snponly.efi URL and loaded it over HTTP, with no TFTP', async () => {
        if (!cleanSerial(guest?.serial ?? '').includes(`${BASE}/snponly.efi`)) throw new Error(await failure('the serial console shows no http://[…] boot URI'));
        const got = (await logEntries()).filter((e) => e.msg === 'request' && e.path === '/snponly.efi' && e.status === 200 && e.method === 'GET');
        expect(got.length).toBeGreaterThanOrEqual(1);
        expect((await logEntries()).some((e) => e.msg === 'tftp transfer')).toBe(false);
      });
    } else {
      it('the firmware took snponly.efi by TFTP over IPv6, once', async () => {
        const sent = (await logEntries()).filter((e) => e.msg === 'tftp transfer' && e.file === 'snponly.efi' && e.outcome === 'ok');
        if (sent.length !== 1) throw new Error(await failure(`snponly.efi went by TFTP ${sent.length} times`));
        expect(JSON.stringify(sent[0])).toContain(PREFIX);
      });
    }

    it('the answer file was fetched from the installer’s SLAAC address (EUI-64 of its MAC), not its DHCPv6 lease', async () => {
      if (!report.ok) throw new Error(await failure('no answer file'));
      const said = /EDGEBOOT-E2E: address6 (.*) \(uptime/.exec(cleanSerial(guest!.serial))?.[1] ?? '';
      expect(said.split(' ').filter(Boolean).map((a) => a.split('/')[0])).toContain(slaac);
      const answers = (await logEntries()).filter((e) => e.msg === 'request' && String(e.path).startsWith('/answers/'));
      expect(answers.map((e) => [e.peer, e.status])).toEqual([[slaac, 200]]);
      // The node script (and so the URL's binding) went to the address iPXE leased by DHCPv6 from the generated
      // range, a different address of the same interface: the binding accepted the node's own SLAAC address.
      const script = (await logEntries()).filter((e) => e.msg === 'request' && e.status === 200 && e.route === 'ipxe-node');
      expect(script.length).toBe(1);
      const leased = String(script[0]!.peer);
      expect(leased).toMatch(new RegExp(`^${PREFIX}::1[0-9a-f]{3}$`));
      expect(leased).not.toBe(slaac);
      console.log(`ipv6 ${c.boot}: node script fetched from the DHCPv6 lease ${leased}, answer file from the SLAAC address ${slaac}`);
    });

    it('the same answer-file URL from another host on the /64 is refused (wrong-ip)', async () => {
      if (!report.ok || !report.url) throw new Error(await failure('no answer file'));
      const other = `${PREFIX}::99`;
      await lab.ns.exec('ip', ['-6', 'addr', 'add', `${other}/64`, 'dev', 'br0', 'nodad']);
      const r = await lab.ns.exec('curl', ['-sS', '--max-time', '10', '--interface', other, '-o', '-', '-w', '\n%{http_code}', report.url]);
      const cut = r.stdout.lastIndexOf('\n');
      expect(Number(r.stdout.slice(cut + 1))).toBe(403);
      expect(r.stdout.slice(0, cut).trim()).toBe(REFUSAL_MESSAGES['wrong-ip']);
    });
  });
}
