import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { copyFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BootArtefacts, ensureBootArtefacts, stageImage } from './lib/artefacts.js';
import { type Dnsmasq, startDnsmasq } from './lib/dnsmasq.js';
import { type EdgebootRun, startEdgeboot } from './lib/edgeboot.js';
import { type Lab, createLab } from './lib/lab.js';
import { FIRMWARE, edgebootCli } from './lib/paths.js';
import { requireRoot, requireTools } from './lib/process.js';
import { type Firmware, type GuestRun, bootGuest } from './lib/qemu.js';
import { type GuestReport, cleanSerial, describeLogs, parseGuestReport } from './lib/serial-log.js';
import { type SignedLoaders, type SignedSuite, ensureSignedLoaders } from './lib/signed-loaders.js';

// UEFI without iPXE (issue 12): OVMF's own virtio-net PXE stack loads Debian's signed network GRUB
// (bookworm's 2.06 and trixie's 2.12) from edgeboot's TFTP; GRUB reads grub/grub.cfg, hands over to
// the node's grub.cfg-<mac>, loads kernel and initrd and boots. The guest's init proves the kernel
// parameters arrived one by one (the kernel hands `url=`/`ds=` to init's environment only then) and
// that `console=ttyS0` took effect. With Secure Boot enforced, the boot file comes from
// `edgeboot dhcp-config --server dnsmasq` (shimx64.efi) and shim → GRUB → Debian's signed kernel runs;
// the same firmware refuses an unsigned loader.

const BOOT_LIMIT_SECONDS = 240;
const REFUSAL_LIMIT_SECONDS = 150;
const TOOLS = ['qemu-system-x86_64', 'dnsmasq', 'busybox', 'cpio', 'curl', 'ip', 'timeout', 'gzip', 'apt-get', 'dpkg-deb'];
const UNSIGNED_LOADER = '/usr/lib/ipxe/snponly.efi';
const UNSIGNED_SHIM = '/usr/lib/shim/shimx64.efi';

interface GrubCase {
  suite: SignedSuite;
  mode: 'native' | 'secureboot';
  subnet: string;
  osystem: 'debian' | 'ubuntu';
  release: string;
}

const CASES: GrubCase[] = [
  { suite: 'bookworm', mode: 'native', subnet: '10.231.121', osystem: 'debian', release: 'trixie' },
  { suite: 'bookworm', mode: 'secureboot', subnet: '10.231.122', osystem: 'ubuntu', release: 'noble' },
  { suite: 'trixie', mode: 'native', subnet: '10.231.123', osystem: 'ubuntu', release: 'noble' },
  { suite: 'trixie', mode: 'secureboot', subnet: '10.231.124', osystem: 'debian', release: 'trixie' },
];

let artefacts: BootArtefacts;
const signed = new Map<SignedSuite, SignedLoaders>();

beforeAll(async () => {
  requireRoot();
  requireTools([...TOOLS, UNSIGNED_LOADER, UNSIGNED_SHIM, ...Object.values(FIRMWARE)]);
  artefacts = await ensureBootArtefacts((line) => console.log(line));
  for (const suite of ['bookworm', 'trixie'] as const) {
    const s = await ensureSignedLoaders(suite, (line) => console.log(line));
    console.log(`${suite}: shim-signed ${s.versions['shim-signed']}, grub-efi-amd64-signed ${s.versions['grub-efi-amd64-signed']}`);
    signed.set(suite, s);
  }
}, 900_000);

function random(n: number): string {
  return randomBytes(n).toString('hex');
}

function inventoryFor(c: Pick<GrubCase, 'osystem' | 'release'>, mac: string, hostname: string, tag: string) {
  return {
    config: { debian_archive: 'http://deb.debian.org/debian', metadata_url: 'http://region.invalid:5240/MAAS/metadata/', commissioning_release: 'noble' },
    boot_selections: [{ os: c.osystem, release: c.release, arches: ['amd64'], subarches: ['generic'], labels: ['stable'] }],
    nodes: [
      {
        system_id: `${tag}${random(3)}`,
        hostname,
        macs: [mac],
        arch: 'amd64/generic',
        status: 'deploying',
        osystem: c.osystem,
        release: c.release,
        // panic=-1: a kernel panic reboots at once, and -no-reboot turns that into a quick exit.
        kernel_opts: 'console=ttyS0 panic=-1',
        token: { consumer_key: `ck-${tag}`, token_key: `tk-${tag}`, token_secret: `ts-${tag}${random(6)}` },
      },
    ],
  };
}

/** edgeboot's JSON log lines with this message. */
function logLines(log: string, msg: string): Array<Record<string, unknown>> {
  return log
    .split('\n')
    .filter((l) => l.includes(`"msg":"${msg}"`))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** The dnsmasq lines `edgeboot dhcp-config --server dnsmasq` writes for this lab, without the lease hook (not under test here). */
function generatedDnsmasq(edgeboot: EdgebootRun, serverIp: string): string {
  const r = spawnSync(process.execPath, [edgebootCli(), 'dhcp-config', '--server', 'dnsmasq', '--server-address', serverIp, '--config', edgeboot.configFile], {
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`edgeboot dhcp-config failed: ${r.stderr}`);
  return r.stdout
    .split('\n')
    .filter((l) => !l.startsWith('dhcp-script='))
    .join('\n');
}

for (const c of CASES) {
  const title =
    c.mode === 'native'
      ? `${c.suite}'s signed GRUB over OVMF native PXE (dnsmasq hands grubx64.efi), ${c.osystem} install`
      : `${c.suite}'s shim + GRUB with Secure Boot enforced (boot file from dhcp-config), ${c.osystem} install`;
  describe(title, () => {
    const mac = `52:54:00:12:${Number(c.subnet.split('.')[2]).toString(16).padStart(2, '0')}:${random(1)}`;
    const hostname = `grub-${c.suite}-${c.mode}-${random(2)}`;
    const tag = `g${c.mode === 'native' ? 'n' : 's'}${c.suite.slice(0, 1)}`;
    const guestIp = `${c.subnet}.50`;
    let lab: Lab | undefined;
    let edgeboot: EdgebootRun | undefined;
    let dnsmasq: Dnsmasq | undefined;
    let guest: GuestRun | undefined;
    let report: GuestReport = { ok: false };
    let bootFile = '';
    let loaders: SignedLoaders;

    const failure = async (what: string) => {
      lab?.keep();
      return describeLogs(what, { 'serial console': guest?.serial ?? '', 'edgeboot log': (await edgeboot?.log()) ?? '', 'dnsmasq log': (await dnsmasq?.log()) ?? '' });
    };
    const booted = async () => {
      if (!guest || !report.ok) {
        const how = guest ? `qemu exit ${guest.exitCode}${guest.timedOut ? ' (hard timeout)' : ''} after ${guest.seconds.toFixed(1)} s` : 'no guest ran';
        throw new Error(await failure(`the guest printed no answer file: result "${report.result ?? 'none'}", ${how}`));
      }
    };

    beforeAll(async () => {
      loaders = signed.get(c.suite)!;
      lab = await createLab({ subnet: c.subnet });
      const bootRoot = join(lab.dir, 'boot');
      await stageImage(bootRoot, { os: c.osystem, release: c.release }, artefacts);
      edgeboot = await startEdgeboot({
        ns: lab.ns,
        dir: lab.dir,
        bootRoot,
        tftpPort: 69,
        inventory: inventoryFor(c, mac, hostname, tag),
        // This release's signed shim and GRUB, unpacked from its .debs, are the only loaders edgeboot has.
        extraConfig: { loader_dirs: loaders.loaderDirs, dhcp: { secure_boot: c.mode === 'secureboot', lease_intake: false } },
      });
      let extraArgs: string[];
      if (c.mode === 'native') {
        bootFile = 'grubx64.efi';
        extraArgs = [`--dhcp-boot=${bootFile}`];
      } else {
        const conf = join(lab.dir, 'generated-dnsmasq.conf');
        const text = generatedDnsmasq(edgeboot, lab.ns.serverIp);
        bootFile = /^dhcp-boot=tag:!edgeboot-ipxe,tag:edgeboot-arch-7,([^,]+),/m.exec(text)?.[1] ?? '(none)';
        await writeFile(conf, text);
        extraArgs = [`--conf-file=${conf}`];
      }
      dnsmasq = await startDnsmasq({ ns: lab.ns, dir: lab.dir, hosts: [{ mac, ip: guestIp }], extraArgs });
      const firmware: Firmware = c.mode === 'native' ? 'uefi-native' : 'uefi-secureboot';
      // A refused loader never powers the guest off: stop at the firmware's verdict instead of the hard limit.
      guest = await bootGuest({ ns: lab.ns, dir: lab.dir, firmware, mac, timeoutSeconds: BOOT_LIMIT_SECONDS, until: (serial) => /Access Denied/.test(serial) });
      report = parseGuestReport(guest.serial);
      const up = report.guestUptime !== undefined ? `, guest uptime at answer ${report.guestUptime.toFixed(1)} s` : '';
      console.log(`${c.suite}/${c.mode}: boot to power-off ${guest.seconds.toFixed(1)} s${up}, result "${report.result ?? 'none'}"`);
    }, (BOOT_LIMIT_SECONDS + 180) * 1000);

    afterAll(async () => {
      for (const p of (await lab?.teardown()) ?? []) console.log(`teardown: ${p}`);
    }, 60_000);

    if (c.mode === 'secureboot') {
      it('the generated dnsmasq lines hand UEFI x64 PXE clients shimx64.efi', () => {
        expect(bootFile).toBe('shimx64.efi');
      });
    }

    it(`boots to the node's ${c.osystem === 'debian' ? 'preseed' : 'user-data'} within ${BOOT_LIMIT_SECONDS} s`, async () => {
      await booted();
      expect(report.answer).toContain(hostname);
      expect(report.answer).toContain(`tk-${tag}`);
      expect(guest!.timedOut).toBe(false);
    });

    it(`edgeboot served the signed loaders of ${c.suite} over TFTP, never the unsigned twin beside them`, async () => {
      await booted();
      // shim-unsigned's file is in the loader directory, as on a real install: the guarantee is exercised.
      expect(existsSync(loaders.unsignedShim)).toBe(true);
      const transfers = logLines(await edgeboot!.log(), 'tftp transfer').filter((l) => l.outcome === 'ok');
      const served = (name: string) => transfers.find((l) => String(l.file).replace(/^\//, '') === name)?.path;
      if (c.mode === 'secureboot') expect(served('shimx64.efi')).toBe(loaders.shim);
      expect(served('grubx64.efi')).toBe(loaders.grub);
      for (const l of transfers) expect(String(l.path)).not.toBe(loaders.unsignedShim);
    });

    it('GRUB read grub/grub.cfg and then this machine\'s grub.cfg-<mac> from edgeboot', async () => {
      await booted();
      const files = logLines(await edgeboot!.log(), 'tftp transfer').map((l) => String(l.file).replace(/^\//, ''));
      expect(files).toContain('grub/grub.cfg');
      expect(files).toContain(`grub/grub.cfg-${mac}`);
    });

    it(`GRUB loaded kernel and initrd over ${c.suite === 'trixie' ? 'HTTP (its GRUB has http built in)' : 'TFTP (its GRUB has no http)'}`, async () => {
      await booted();
      const log = await edgeboot!.log();
      const overTftp = logLines(log, 'tftp transfer').map((l) => String(l.file));
      const overHttp = logLines(log, 'request').filter((l) => l.status === 200).map((l) => String(l.path));
      const kernel = `images/${c.osystem}/amd64/generic/${c.release}/stable/kernel`;
      const initrd = `images/${c.osystem}/amd64/generic/${c.release}/stable/initrd`;
      const where = c.suite === 'trixie' ? overHttp.map((p) => p.replace(/^\//, '')) : overTftp.map((p) => p.replace(/^\//, ''));
      expect(where, cleanSerial(guest!.serial).slice(0, 4000)).toContain(kernel);
      expect(where).toContain(initrd);
      expect(cleanSerial(guest!.serial)).toContain(`edgeboot: loading the kernel from (${c.suite === 'trixie' ? 'http' : 'tftp'},${lab!.ns.serverIp}`);
    });

    it(`init received ${c.osystem === 'debian' ? 'url=' : 'ds='} as a kernel parameter of its own`, async () => {
      await booted();
      // The kernel puts an unknown name=value parameter into init's environment only when it is its own word;
      // the old single-quoted command line made it part of BOOTIF's value and left url/ds unset.
      const param = c.osystem === 'debian' ? 'url' : 'ds';
      const value = new RegExp(`${param}=(${c.osystem === 'debian' ? 'http' : 'nocloud-net;s=http'}://${c.subnet.replace(/\./g, '\\.')}\\.1:5248/answers/\\S+)`).exec(report.initEnv ?? '');
      expect(value, `init environment: ${report.initEnv}; /proc/cmdline: ${report.cmdline}`).not.toBeNull();
      expect(report.cmdline).toMatch(/^BOOT_IMAGE=\S+ BOOTIF=01-52-54-00-12-/);
      expect(report.cmdline).not.toContain('"');
    });

    it('console=ttyS0 took effect (/proc/consoles lists ttyS0)', async () => {
      await booted();
      expect(report.consoles).toContain('ttyS0');
    });

    it(c.mode === 'secureboot' ? 'the kernel logged "Secure boot enabled"' : 'the kernel ran without Secure Boot', async () => {
      await booted();
      if (c.mode === 'secureboot') expect(report.secureBoot).toBe('Secure boot enabled');
      else expect(report.secureBoot).not.toBe('Secure boot enabled');
    });
  });
}

/** Unsigned loaders Secure Boot firmware must refuse: iPXE as Debian ships it, and shim-unsigned's shimx64.efi (the twin edgeboot never serves as shimx64.efi). */
const UNSIGNED: Array<{ title: string; file: string; subnet: string }> = [
  { title: "iPXE's snponly.efi", file: UNSIGNED_LOADER, subnet: '10.231.125' },
  { title: "shim-unsigned's /usr/lib/shim/shimx64.efi", file: UNSIGNED_SHIM, subnet: '10.231.126' },
];

for (const u of UNSIGNED) {
  describe(`Secure Boot firmware refuses an unsigned loader: ${u.title}`, () => {
    const mac = `52:54:00:12:${Number(u.subnet.split('.')[2]).toString(16)}:${random(1)}`;
    // Served from boot_root under a name that is not a Secure Boot name, so edgeboot hands out exactly this file.
    const name = `unsigned-${u.file.split('/').pop()}`;
    let lab: Lab | undefined;
    let edgeboot: EdgebootRun | undefined;
    let dnsmasq: Dnsmasq | undefined;
    let guest: GuestRun | undefined;

    beforeAll(async () => {
      lab = await createLab({ subnet: u.subnet });
      const bootRoot = join(lab.dir, 'boot');
      await stageImage(bootRoot, { os: 'debian', release: 'trixie' }, artefacts);
      await copyFile(u.file, join(bootRoot, name));
      edgeboot = await startEdgeboot({
        ns: lab.ns,
        dir: lab.dir,
        bootRoot,
        tftpPort: 69,
        inventory: inventoryFor({ osystem: 'debian', release: 'trixie' }, mac, 'refused', 'gr'),
        extraConfig: { loader_dirs: [], dhcp: { lease_intake: false } },
      });
      dnsmasq = await startDnsmasq({ ns: lab.ns, dir: lab.dir, hosts: [{ mac, ip: `${u.subnet}.50` }], extraArgs: [`--dhcp-boot=${name}`] });
      guest = await bootGuest({
        ns: lab.ns,
        dir: lab.dir,
        firmware: 'uefi-secureboot',
        mac,
        timeoutSeconds: REFUSAL_LIMIT_SECONDS,
        // The firmware never powers off after a refusal: it tries its next boot option. Stop at the verdict.
        until: (serial) => /Access Denied/.test(cleanSerial(serial)),
      });
      console.log(`secure boot refusal of ${name}: ${guest.stoppedByUntil ? '"Access Denied" seen' : 'no verdict'} after ${guest.seconds.toFixed(1)} s`);
    }, (REFUSAL_LIMIT_SECONDS + 120) * 1000);

    afterAll(async () => {
      for (const p of (await lab?.teardown()) ?? []) console.log(`teardown: ${p}`);
    }, 60_000);

    it('edgeboot sent the file and the firmware answered "Access Denied"', async () => {
      const sent = logLines((await edgeboot!.log()) ?? '', 'tftp transfer').some((l) => String(l.file) === name && l.outcome === 'ok');
      const serial = cleanSerial(guest?.serial ?? '');
      if (!sent || !/Access Denied/.test(serial)) {
        lab?.keep();
        throw new Error(describeLogs(`sent: ${sent}, refused: ${/Access Denied/.test(serial)}`, { 'serial console': serial, 'edgeboot log': (await edgeboot?.log()) ?? '', 'dnsmasq log': (await dnsmasq?.log()) ?? '' }));
      }
      expect(serial).toMatch(new RegExp(`Access Denied`));
      // Nothing ran after the refusal: no iPXE banner, no shim asking for GRUB, no kernel.
      expect(serial).not.toMatch(/iPXE initialising|EDGEBOOT-E2E|Linux version/);
      expect(logLines((await edgeboot!.log()) ?? '', 'tftp transfer').map((l) => String(l.file))).not.toContain('grubx64.efi');
    });
  });
}
