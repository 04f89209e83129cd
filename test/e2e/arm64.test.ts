import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFile, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureArm64Artefacts } from './lib/arm64-artefacts.js';
import type { BootArtefacts } from './lib/artefacts.js';
import { stageImage } from './lib/artefacts.js';
import { type Dnsmasq, startDnsmasq } from './lib/dnsmasq.js';
import { type EdgebootRun, startEdgeboot } from './lib/edgeboot.js';
import { type Lab, createLab } from './lib/lab.js';
import { edgebootCli } from './lib/paths.js';
import { requireRoot, requireTools } from './lib/process.js';
import { type GuestReport, cleanSerial, describeLogs, parseGuestReport } from './lib/serial-log.js';

// arm64 (issue 15): qemu `virt` with AAVMF's own virtio-net PXE stack (client arch 11) gets the boot file from
// `edgeboot dhcp-config`, loads Debian's signed arm64 GRUB that `edgeboot loaders fetch --arch arm64` installed,
// GRUB reads edgeboot's rendered config, boots Debian's arm64 kernel and a busybox (arm64) initrd, whose init
// proves each kernel parameter arrived as its own and prints the node's answer file.

const LIMIT = 420;
const AAVMF_CODE = '/usr/share/AAVMF/AAVMF_CODE.fd';
const AAVMF_VARS = '/usr/share/AAVMF/AAVMF_VARS.fd';
const SUBNET = '10.231.151';

let lab: Lab | undefined;
let edgeboot: EdgebootRun | undefined;
let dnsmasq: Dnsmasq | undefined;
let kit: BootArtefacts;
let serial = '';
let seconds = 0;
let report: GuestReport = { ok: false };
let fetched = '';
let generated = '';
const mac = `52:54:00:15:97:${randomBytes(1).toString('hex')}`;
const hostname = `arm64-${randomBytes(2).toString('hex')}`;

beforeAll(async () => {
  requireRoot();
  requireTools(['qemu-system-aarch64', 'dnsmasq', 'apt-get', 'dpkg-deb', 'cpio', 'gzip', 'timeout', AAVMF_CODE, AAVMF_VARS]);
  kit = await ensureArm64Artefacts((l) => console.log(l));
  lab = await createLab({ subnet: SUBNET });
  // The supported way: the CLI fetches the signed loaders through apt into a loader dir edgeboot reads.
  const loaders = join(lab.dir, 'loaders');
  const f = spawnSync(process.execPath, [edgebootCli(), 'loaders', 'fetch', '--arch', 'arm64', '--dest', loaders], { encoding: 'utf8', timeout: 600_000 });
  if (f.status !== 0) throw new Error(`loaders fetch failed: ${f.stderr}`);
  fetched = f.stdout;
  const bootRoot = join(lab.dir, 'boot');
  await stageImage(bootRoot, { os: 'debian', release: 'trixie', arch: 'arm64' }, kit);
  edgeboot = await startEdgeboot({
    ns: lab.ns,
    dir: lab.dir,
    bootRoot,
    tftpPort: 69,
    inventory: {
      config: { debian_archive: 'http://deb.debian.org/debian', metadata_url: 'http://region.invalid:5240/MAAS/metadata/' },
      boot_selections: [{ os: 'debian', release: 'trixie', arches: ['arm64'], subarches: ['generic'], labels: ['stable'] }],
      nodes: [
        {
          system_id: `a64${randomBytes(3).toString('hex')}`,
          hostname,
          macs: [mac],
          arch: 'arm64/generic',
          status: 'deploying',
          osystem: 'debian',
          release: 'trixie',
          kernel_opts: 'console=ttyAMA0 panic=-1',
          token: { consumer_key: 'ck-a64', token_key: 'tk-a64', token_secret: `ts-a64${randomBytes(6).toString('hex')}` },
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
  dnsmasq = await startDnsmasq({ ns: lab.ns, dir: lab.dir, hosts: [{ mac, ip: `${SUBNET}.50` }], extraArgs: [`--conf-file=${conf}`] });
  const vars = join(lab.dir, 'AAVMF_VARS.fd');
  await copyFile(AAVMF_VARS, vars);
  const log = join(lab.dir, 'serial-arm64.log');
  const args = ['--kill-after=5', String(LIMIT), 'qemu-system-aarch64', '-M', 'virt', '-cpu', 'cortex-a57', '-accel', 'tcg', '-m', '1024'];
  args.push('-nographic', '-no-reboot', '-serial', 'mon:stdio');
  args.push('-drive', `if=pflash,format=raw,unit=0,readonly=on,file=${AAVMF_CODE}`, '-drive', `if=pflash,format=raw,unit=1,file=${vars}`);
  args.push('-netdev', `tap,id=n0,ifname=${lab.ns.tap},script=no,downscript=no`, '-device', `virtio-net-pci,netdev=n0,mac=${mac},romfile=,bootindex=1`);
  const started = Date.now();
  const proc = lab.ns.spawn('qemu-arm64', 'timeout', args, log);
  try {
    await proc.exited;
  } finally {
    await proc.stop(1_000);
  }
  seconds = (Date.now() - started) / 1000;
  serial = await readFile(log, 'utf8').catch(() => '');
  report = parseGuestReport(serial);
  console.log(`arm64: boot to power-off ${seconds.toFixed(1)} s, guest uptime at answer ${report.guestUptime?.toFixed(1) ?? '?'} s, result "${report.result ?? 'none'}"`);
}, (LIMIT + 900) * 1000);

afterAll(async () => {
  for (const p of (await lab?.teardown()) ?? []) console.log(`teardown: ${p}`);
}, 60_000);

async function booted(): Promise<void> {
  if (report.ok) return;
  lab?.keep();
  throw new Error(describeLogs(`no answer file after ${seconds.toFixed(1)} s: "${report.result ?? 'none'}"`, { 'serial console': serial, 'edgeboot log': (await edgeboot?.log()) ?? '', 'dnsmasq log': (await dnsmasq?.log()) ?? '' }));
}

function tftpFiles(log: string): string[] {
  return log
    .split('\n')
    .filter((l) => l.includes('"msg":"tftp transfer"') && l.includes('"outcome":"ok"'))
    .map((l) => String((JSON.parse(l) as { file: string }).file).replace(/^\//, ''));
}

describe('arm64: AAVMF native PXE → signed arm64 GRUB (loaders fetch) → kernel → answer file', () => {
  it('loaders fetch installed the signed arm64 GRUB, and dhcp-config hands arch 11 grubaa64.efi', () => {
    expect(fetched).toMatch(/installed \S+\/arm64\/grubnetaa64\.efi\.signed/);
    expect(generated).toMatch(/^dhcp-boot=tag:!edgeboot-ipxe,tag:edgeboot-arch-11,grubaa64\.efi,/m);
  });

  it(`boots to the node's preseed within ${LIMIT} s`, async () => {
    await booted();
    expect(report.answer).toContain(hostname);
  });

  it('edgeboot served grubaa64.efi as the signed file, then grub/grub.cfg and the node config', async () => {
    await booted();
    const files = tftpFiles(await edgeboot!.log());
    console.log(`arm64: files over TFTP: ${files.join(', ')}`);
    expect(files).toContain('grubaa64.efi');
    // Debian's arm64 GRUB sources $prefix/arm64-efi/grub.cfg when it exists, else $prefix/grub.cfg: one of them is the entry.
    expect(files.filter((f) => f === 'grub/grub.cfg' || f === 'grub/arm64-efi/grub.cfg').length).toBeGreaterThan(0);
    expect(files).toContain(`grub/grub.cfg-${mac}`);
  });

  it('init received url= as a kernel parameter of its own, and console=ttyAMA0 took effect', async () => {
    await booted();
    expect(report.initEnv, `cmdline: ${report.cmdline}`).toMatch(new RegExp(`url=http://${SUBNET.replace(/\./g, '\\.')}\\.1:5248/answers/\\S+`));
    expect(report.cmdline).not.toContain('"');
    expect(report.consoles).toContain('ttyAMA0');
    expect(cleanSerial(serial)).toContain('edgeboot: loading the kernel from');
  });
});
