import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureArm64Artefacts } from './lib/arm64-artefacts.js';
import type { BootArtefacts } from './lib/artefacts.js';
import { stageImage } from './lib/artefacts.js';
import { type Dnsmasq, startDnsmasq } from './lib/dnsmasq.js';
import { type EdgebootRun, startEdgeboot } from './lib/edgeboot.js';
import { type Lab, createLab } from './lib/lab.js';
import { FIRMWARE, edgebootCli } from './lib/paths.js';
import { requireRoot, requireTools } from './lib/process.js';
import { HTTP_BOOT_ONLY, bootGuest } from './lib/qemu.js';
import { type GuestReport, cleanSerial, describeLogs, parseGuestReport } from './lib/serial-log.js';

// arm64 (issue 15): one arm64 node (qemu `virt`, `-cpu max`, AAVMF's own virtio-net stack) boots twice, each time from an
// edgeboot whose loaders `edgeboot loaders fetch --arch arm64` installed and whose DHCP lines `edgeboot dhcp-config`
// generated:
// - native PXE (client arch 11), the host's release's GRUB: `grubaa64.efi` and the rendered configs by TFTP, kernel
//   and initrd by TFTP from bookworm's GRUB 2.06 (no `http` module), by HTTP from trixie's 2.12;
// - UEFI HTTP Boot (client arch 19, vendor class `HTTPClient:Arch:00019…`, AAVMF's PXE switched off by fw_cfg):
//   `http://…/grubaa64.efi`, then GRUB (trixie's 2.12, which has `http` built in) reads its config, the kernel and
//   the initrd over HTTP from the boot URL's server; no TFTP at all.
// Each boot ends in Debian's arm64 kernel and a busybox (arm64) initrd, whose init proves each kernel parameter
// arrived as its own and prints the node's answer file.

// Seen on the shared 2-core machine, qemu start to power-off: PXE 25–106 s (the slow end: GRUB 2.06 fetching the kernel
// lock-step over TFTP at load average 9), HTTP Boot 32–42 s, the same in the trixie root; the limit is 106 s ×2.25.
const LIMIT = 240;
const KERNEL = 'images/debian/arm64/generic/trixie/stable/kernel';
const INITRD = 'images/debian/arm64/generic/trixie/stable/initrd';

interface Arm64Case {
  boot: 'pxe' | 'http';
  title: string;
  subnet: string;
  /** `loaders fetch --suite`; the default is the host's own release. */
  suite?: string;
  /** The GRUB upstream version that suite ships (`grub-efi-arm64-signed 1+<version>+…`). */
  grub?: string;
}

const CASES: Arm64Case[] = [
  { boot: 'pxe', title: 'AAVMF native PXE (arch 11) → signed arm64 GRUB by TFTP → kernel → answer file', subnet: '10.231.151' },
  { boot: 'http', title: 'AAVMF UEFI HTTP Boot (arch 19) → signed arm64 GRUB (trixie) over HTTP → kernel → answer file', subnet: '10.231.155', suite: 'trixie', grub: '2.12' },
];

// The same node (MAC, hostname, token) in both cases.
const mac = `52:54:00:15:97:${randomBytes(1).toString('hex')}`;
const hostname = `arm64-${randomBytes(2).toString('hex')}`;
const systemId = `a64${randomBytes(3).toString('hex')}`;
const tokenSecret = `ts-a64${randomBytes(6).toString('hex')}`;
let kit: BootArtefacts;
/** qemu start to power-off per case, printed together so one run compares PXE with HTTP Boot. */
const bootSeconds: Partial<Record<Arm64Case['boot'], number>> = {};

beforeAll(async () => {
  requireRoot();
  requireTools(['qemu-system-aarch64', 'dnsmasq', 'apt-get', 'dpkg-deb', 'cpio', 'gzip', 'timeout', FIRMWARE.aavmfCode, FIRMWARE.aavmfVars]);
  kit = await ensureArm64Artefacts((l) => console.log(l));
}, 900_000);

afterAll(() => {
  console.log(`arm64 boot times (qemu start to power-off, this run): ${CASES.map((c) => `${c.boot} ${bootSeconds[c.boot]?.toFixed(1) ?? 'n/a'} s`).join(', ')}`);
});

/**
 * The guest is stuck where no answer file can follow: GRUB's prompt (it found no config; bookworm's 2.06 under HTTP
 * Boot) or the UEFI shell (every boot option failed). Stopping there keeps a red run short.
 */
function deadEnd(serial: string): boolean {
  return /^(grub|Shell)> /m.test(cleanSerial(serial));
}

/** Whether the GRUB `loaders fetch` reported installing is 2.12 or later (`http` built in); bookworm's 2.06 is not. */
function grubHasHttp(fetched: string): boolean {
  const m = /from grub-efi-arm64-signed \d+\+(\d+)\.(\d+)/.exec(fetched);
  if (!m) throw new Error(`loaders fetch named no grub-efi-arm64-signed version:\n${fetched}`);
  return Number(m[1]) > 2 || (Number(m[1]) === 2 && Number(m[2]) >= 12);
}

/** One log line of edgeboot's JSON log. */
type LogEntry = Record<string, unknown>;

function logEntries(log: string): LogEntry[] {
  return log
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as LogEntry);
}

/** Files edgeboot sent completely over TFTP, in order, without the leading slash. */
function tftpFiles(entries: LogEntry[]): string[] {
  return entries.filter((e) => e.msg === 'tftp transfer' && e.outcome === 'ok').map((e) => String(e.file).replace(/^\//, ''));
}

/** Paths edgeboot answered 200 to over HTTP (GET) for `peer`, in order, without the leading slash. */
function httpFiles(entries: LogEntry[], peer: string): string[] {
  return entries
    .filter((e) => e.msg === 'request' && e.method === 'GET' && e.status === 200 && e.peer === peer)
    .map((e) => String(e.path).replace(/^\//, ''));
}

for (const c of CASES) {
  describe(`arm64: ${c.title}`, () => {
    let lab: Lab | undefined;
    let edgeboot: EdgebootRun | undefined;
    let dnsmasq: Dnsmasq | undefined;
    let serial = '';
    let seconds = 0;
    let report: GuestReport = { ok: false };
    let fetched = '';
    let generated = '';

    beforeAll(async () => {
      lab = await createLab({ subnet: c.subnet });
      // The supported way: the CLI fetches the signed loaders through apt into a loader dir edgeboot reads.
      const loaders = join(lab.dir, 'loaders');
      const suite = c.suite ? ['--suite', c.suite] : [];
      const f = spawnSync(process.execPath, [edgebootCli(), 'loaders', 'fetch', '--arch', 'arm64', ...suite, '--dest', loaders], { encoding: 'utf8', timeout: 600_000 });
      if (f.status !== 0) throw new Error(`loaders fetch failed: ${f.stderr}`);
      fetched = f.stdout;
      const bootRoot = join(lab.dir, 'boot');
      await stageImage(bootRoot, { os: 'debian', release: 'trixie', arch: 'arm64' }, kit);
      edgeboot = await startEdgeboot({
        ns: lab.ns,
        dir: lab.dir,
        bootRoot,
        // TFTP serves in both cases, so the HTTP Boot case shows that nothing chose it.
        tftpPort: 69,
        inventory: {
          config: { debian_archive: 'http://deb.debian.org/debian', metadata_url: 'http://region.invalid:5240/MAAS/metadata/' },
          boot_selections: [{ os: 'debian', release: 'trixie', arches: ['arm64'], subarches: ['generic'], labels: ['stable'] }],
          nodes: [
            {
              system_id: systemId,
              hostname,
              macs: [mac],
              arch: 'arm64/generic',
              status: 'deploying',
              osystem: 'debian',
              release: 'trixie',
              kernel_opts: 'console=ttyAMA0 panic=-1',
              token: { consumer_key: 'ck-a64', token_key: 'tk-a64', token_secret: tokenSecret },
            },
          ],
        },
        extraConfig: { loader_dirs: [join(loaders, 'arm64')], dhcp: { lease_intake: false } },
      });
      const g = spawnSync(process.execPath, [edgebootCli(), 'dhcp-config', '--server', 'dnsmasq', '--server-address', lab.ns.serverIp, '--no-hook', '--config', edgeboot.configFile], { encoding: 'utf8' });
      if (g.status !== 0) throw new Error(`dhcp-config failed: ${g.stderr}`);
      generated = g.stdout;
      const conf = join(lab.dir, 'generated-dnsmasq.conf');
      await writeFile(conf, generated);
      dnsmasq = await startDnsmasq({ ns: lab.ns, dir: lab.dir, hosts: [{ mac, ip: `${c.subnet}.50` }], extraArgs: [`--conf-file=${conf}`] });
      const guest = await bootGuest({
        ns: lab.ns,
        dir: lab.dir,
        firmware: 'aavmf',
        mac,
        timeoutSeconds: LIMIT,
        extraArgs: c.boot === 'http' ? HTTP_BOOT_ONLY : [],
        until: deadEnd,
      });
      seconds = guest.seconds;
      bootSeconds[c.boot] = seconds;
      serial = guest.serial;
      report = parseGuestReport(serial);
      console.log(`arm64 ${c.boot}: boot to power-off ${seconds.toFixed(1)} s, guest uptime at answer ${report.guestUptime?.toFixed(1) ?? '?'} s, result "${report.result ?? 'none'}"`);
    }, (LIMIT + 600) * 1000);

    afterAll(async () => {
      for (const p of (await lab?.teardown()) ?? []) console.log(`teardown: ${p}`);
    }, 60_000);

    const failure = async (what: string) => {
      lab?.keep();
      return describeLogs(what, { 'serial console': serial, 'edgeboot log': (await edgeboot?.log()) ?? '', 'dnsmasq log': (await dnsmasq?.log()) ?? '' });
    };
    const booted = async () => {
      if (!report.ok) throw new Error(await failure(`no answer file after ${seconds.toFixed(1)} s: "${report.result ?? 'none'}"`));
    };

    it(`loaders fetch installed the signed arm64 GRUB, and dhcp-config hands arch ${c.boot === 'pxe' ? 11 : 19} its boot file`, () => {
      expect(fetched).toMatch(/installed \S+\/arm64\/grubnetaa64\.efi\.signed/);
      if (c.grub) expect(fetched).toContain(`from grub-efi-arm64-signed 1+${c.grub}+`);
      // GRUB before 2.12 (bookworm's) cannot HTTP Boot: the fetch says so; 2.12 gets no such note.
      if (grubHasHttp(fetched)) expect(fetched).not.toContain('note:');
      else expect(fetched).toMatch(/^note: grub-efi-arm64-signed .* has no http module/m);
      if (c.boot === 'pxe') {
        expect(generated).toMatch(/^dhcp-boot=tag:!edgeboot-ipxe,tag:edgeboot-arch-11,grubaa64\.efi,/m);
      } else {
        // An absolute URL, only for firmware that calls itself HTTPClient, with option 60 echoed (UEFI 2.5 §24.7.2.1).
        const tags = 'tag:!edgeboot-ipxe,tag:edgeboot-arch-19,tag:edgeboot-httpclient';
        expect(generated).toContain(`\ndhcp-boot=${tags},http://${c.subnet}.1:5248/grubaa64.efi,`);
        expect(generated).toContain(`\ndhcp-option-force=${tags},option:vendor-class,HTTPClient\n`);
      }
    });

    it(`boots to the node's preseed within ${LIMIT} s`, async () => {
      await booted();
      expect(report.answer).toContain(hostname);
    });

    if (c.boot === 'pxe') {
      it('edgeboot served grubaa64.efi as the signed file, then grub/grub.cfg and the node config, all by TFTP', async () => {
        await booted();
        const files = tftpFiles(logEntries((await edgeboot?.log()) ?? ''));
        console.log(`arm64 pxe: files over TFTP: ${files.join(', ')}`);
        expect(files).toContain('grubaa64.efi');
        // Debian's arm64 GRUB sources $prefix/arm64-efi/grub.cfg when it exists, else $prefix/grub.cfg: one of them is the entry.
        expect(files.filter((f) => f === 'grub/grub.cfg' || f === 'grub/arm64-efi/grub.cfg').length).toBeGreaterThan(0);
        expect(files).toContain(`grub/grub.cfg-${mac}`);
      });
    } else {
      it('AAVMF sent DHCP arch 19 / HTTPClient and was handed the http:// URL of grubaa64.efi', async () => {
        await booted();
        const dhcp = (await dnsmasq?.log()) ?? '';
        expect(dhcp).toMatch(/vendor class: HTTPClient:Arch:00019/);
        expect(cleanSerial(serial)).toContain(`http://${c.subnet}.1:5248/grubaa64.efi`);
      });

      it('edgeboot served the loader, the GRUB configs, the kernel and the initrd over HTTP, and nothing over TFTP', async () => {
        await booted();
        const entries = logEntries((await edgeboot?.log()) ?? '');
        const files = httpFiles(entries, `${c.subnet}.50`);
        console.log(`arm64 http: files over HTTP: ${files.join(', ')}`);
        expect(files[0]).toBe('grubaa64.efi');
        // GRUB's prefix is the boot URL's directory plus its built-in /grub: it reads $prefix/arm64-efi/grub.cfg, else $prefix/grub.cfg.
        expect(files.filter((f) => f === 'grub/grub.cfg' || f === 'grub/arm64-efi/grub.cfg').length).toBeGreaterThan(0);
        expect(files).toContain(`grub/grub.cfg-${mac}`);
        expect(files).toContain(KERNEL);
        expect(files).toContain(INITRD);
        expect(files).toContain(`answers/${mac.replace(/:/g, '-')}/[capability]/preseed`);
        expect(tftpFiles(entries)).toEqual([]);
      });
    }

    it('init received url= as a kernel parameter of its own, and console=ttyAMA0 took effect', async () => {
      await booted();
      expect(report.initEnv, `cmdline: ${report.cmdline}`).toMatch(new RegExp(`url=http://${c.subnet.replace(/\./g, '\\.')}\\.1:5248/answers/\\S+`));
      expect(report.cmdline).not.toContain('"');
      expect(report.consoles).toContain('ttyAMA0');
      // The template's probe takes HTTP whenever GRUB has it built in (2.12, under PXE too), else TFTP.
      expect(cleanSerial(serial)).toMatch(new RegExp(`edgeboot: loading the kernel from \\(${grubHasHttp(fetched) ? 'http' : 'tftp'},`));
      if (c.boot === 'http') expect(grubHasHttp(fetched)).toBe(true);
    });
  });
}
