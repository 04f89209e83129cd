import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDnsmasq, type Dnsmasq } from './lib/dnsmasq.js';
import { type EdgebootRun, startEdgeboot } from './lib/edgeboot.js';
import { type Lab, createLab } from './lib/lab.js';
import { FIRMWARE, REPO_ROOT } from './lib/paths.js';
import { type ManagedProcess, requireRoot, requireTools } from './lib/process.js';
import { type Firmware, qemuArgs } from './lib/qemu.js';
import { cleanSerial, describeLogs } from './lib/serial-log.js';
import { ensureSignedLoaders } from './lib/signed-loaders.js';
import { waitFor } from './lib/wait.js';

// Debian's real netboot installer (debian-installer-12-netboot-amd64) booted from edgeboot through
// SeaBIOS + iPXE, and through OVMF's own PXE stack + Debian's signed GRUB (bookworm) over edgeboot's TFTP: it must load the node's signed preseed URL and apply it. The evidence is the
// installer's own syslog, sent over UDP (`log_host`/`log_port` on its kernel command line, from the
// node's kernel_opts) to a listener in the namespace, plus the stand-in mirror it asks.
//
// EDGEBOOT_E2E_DI_PRESEED=<file> replaces the shipped preseed template with <file> (an operator
// override layer): with a template that writes a broken preseed this test must fail.

const LIMIT_SECONDS = 480;
const DI = '/usr/lib/debian-installer/images/12/amd64/text/debian-installer/amd64';
const TOOLS = ['qemu-system-x86_64', 'dnsmasq', 'curl', 'ip', 'timeout'];
const HOST = 'di-node01';
const SYSLOG_PORT = 5514;
const MIRROR_PORT = 8080;
// How d-i's preseed component reports a bad preconfiguration file ("Error parsing preconfiguration file",
// "Failed to retrieve the preconfiguration file", …); menu titles that merely name the file do not match.
const PRESEED_ERROR = /\bpreseed(\[\d+\])?: .*(error|fail)|(error|fail(ed|ure)?)\b[^,]*preconfiguration file|couldn't parse/i;

/** What debconf answered the first `GET <question>` after the preseed was loaded (DEBCONF_DEBUG=5 logs the protocol). */
function answered(all: string[], question: string): string | undefined {
  const lines = all.slice(all.findIndex((l) => l.includes('preseed: successfully loaded preseed file')) + 1);
  const i = lines.findIndex((l) => l.endsWith(`debconf: --> GET ${question}`));
  if (i < 0) return undefined;
  return lines.slice(i + 1, i + 4).map((l) => / debconf: <-- 0 ?(.*)$/.exec(l)?.[1]).find((v) => v !== undefined);
}

/** One way the installer reaches edgeboot: the firmware mode and the lab subnet it boots in. */
interface InstallerCase {
  title: string;
  firmware: Extract<Firmware, 'bios' | 'uefi-native'>;
  subnet: string;
}

const CASES: InstallerCase[] = [
  { title: 'BIOS iPXE', firmware: 'bios', subnet: '10.231.141' },
  { title: "UEFI: OVMF native PXE, Debian's signed GRUB over TFTP", firmware: 'uefi-native', subnet: '10.231.142' },
];

for (const c of CASES) describe(`the real Debian installer accepts the preseed edgeboot renders (${c.title})`, () => {
  const SUBNET = c.subnet;
  const MAC = `52:54:00:d1:00:${randomBytes(1).toString('hex')}`;
  const TAG = `di${randomBytes(3).toString('hex')}`;
  let lab: Lab | undefined;
  let edgeboot: EdgebootRun | undefined;
  let dnsmasq: Dnsmasq | undefined;
  let peers: ManagedProcess | undefined;
  let guest: ManagedProcess | undefined;
  let serialFile = '';
  let peersFile = '';
  let seconds = 0;
  let failure: unknown;

  const peerLines = async () => (await readFile(peersFile, 'utf8').catch(() => '')).split('\n');
  const syslog = async () => (await peerLines()).filter((l) => l.startsWith('SYSLOG ')).map((l) => l.slice(7));
  const mirrorRequests = async () => (await peerLines()).filter((l) => l.startsWith('MIRROR ')).map((l) => l.slice(7));
  const logs = async (title: string) =>
    describeLogs(
      title,
      {
        'installer syslog': (await syslog()).join('\n'),
        'mirror requests': (await mirrorRequests()).join('\n'),
        'serial console': cleanSerial(await readFile(serialFile, 'utf8').catch(() => '')),
        'edgeboot log': (await edgeboot?.log()) ?? '',
        'dnsmasq log': (await dnsmasq?.log()) ?? '',
      },
      60,
    );
  const ok = async () => {
    if (failure) {
      lab?.keep();
      throw new Error(await logs(`the installer run failed: ${failure instanceof Error ? failure.message : String(failure)}`));
    }
  };

  beforeAll(async () => {
    requireRoot();
    requireTools([...TOOLS, c.firmware === 'bios' ? FIRMWARE.biosRom : FIRMWARE.ovmfCode, `${DI}/linux`, `${DI}/initrd.gz`]);
    // UEFI: Debian's signed shim and GRUB (bookworm), unpacked from their .debs, are edgeboot's loaders.
    const loaders = c.firmware === 'uefi-native' ? await ensureSignedLoaders('bookworm', (line) => console.log(line)) : undefined;
    lab = await createLab({ subnet: SUBNET });
    const ns = lab.ns;
    try {
      peersFile = join(lab.dir, 'peers.log');
      peers = ns.spawn('installer-peers', process.execPath, [join(REPO_ROOT, 'test/e2e/lib/installer-peers.mjs'), ns.serverIp, String(SYSLOG_PORT), String(MIRROR_PORT)], peersFile);
      await waitFor('the syslog listener and mirror', 10_000, async () => (await peerLines()).filter((l) => l.startsWith('peers:')).length === 2);

      // The installer's own kernel and initrd stand in the image slot of the node's OS.
      const bootRoot = join(lab.dir, 'boot');
      const image = join(bootRoot, 'images/debian/amd64/generic/bookworm/stable');
      await mkdir(image, { recursive: true });
      await copyFile(`${DI}/linux`, join(image, 'kernel'));
      await copyFile(`${DI}/initrd.gz`, join(image, 'initrd'));

      let templateDirs: string[] | undefined;
      const planted = process.env.EDGEBOOT_E2E_DI_PRESEED;
      if (planted) {
        const dir = join(lab.dir, 'templates');
        await mkdir(join(dir, 'preseed'), { recursive: true });
        await copyFile(planted, join(dir, 'preseed/install_debian.eta'));
        templateDirs = [dir];
        console.log(`installer e2e (${c.title}): preseed template replaced by ${planted}`);
      }
      edgeboot = await startEdgeboot({
        ns,
        dir: lab.dir,
        bootRoot,
        templateDirs,
        ...(loaders ? { tftpPort: 69, extraConfig: { loader_dirs: loaders.loaderDirs, dhcp: { lease_intake: false } } } : {}),
        inventory: {
          config: {
            debian_archive: `http://${ns.serverIp}:${MIRROR_PORT}/debian`,
            metadata_url: `http://${ns.serverIp}:5240/MAAS/metadata/`,
            // Cluster-wide: every boot of this rack talks on the serial console, in plain text.
            kernel_opts: 'console=ttyS0,115200 DEBIAN_FRONTEND=text',
          },
          boot_selections: [{ os: 'debian', release: 'bookworm', arches: ['amd64'] }],
          nodes: [
            {
              system_id: TAG,
              hostname: HOST,
              macs: [MAC],
              arch: 'amd64/generic',
              status: 'deploying',
              osystem: 'debian',
              release: 'bookworm',
              // The node's own options: where the installer sends its syslog, and debconf's answers in it.
              kernel_opts: `log_host=${ns.serverIp} log_port=${SYSLOG_PORT} DEBCONF_DEBUG=5`,
              token: { consumer_key: `ck-${TAG}`, token_key: `tk-${TAG}`, token_secret: `ts-${TAG}` },
            },
          ],
        },
      });
      // d-i stops before the preseed without a DNS server from DHCP (nothing needs to answer on it).
      dnsmasq = await startDnsmasq({
        ns,
        dir: lab.dir,
        // BIOS: iPXE gets the script URL; UEFI: OVMF's PXE stack gets GRUB's file name (never a URL, which d-i would take for a preseed).
        ...(loaders ? {} : { ipxeBootUrl: edgeboot.bootIpxeUrl }),
        hosts: [{ mac: MAC, ip: `${SUBNET}.60` }],
        extraArgs: [`--dhcp-option=option:dns-server,${ns.serverIp}`, ...(loaders ? ['--dhcp-boot=grubx64.efi'] : [])],
      });

      serialFile = join(lab.dir, 'serial-di.log');
      const args = await qemuArgs({ ns, dir: lab.dir, firmware: c.firmware, mac: MAC, memoryMb: 1024 });
      guest = ns.spawn('qemu-di', 'timeout', ['--kill-after=5', String(LIMIT_SECONDS), 'qemu-system-x86_64', ...args], serialFile);
      const started = Date.now();
      // Done when d-i asks the mirror, or reports a preseed problem, or qemu ends.
      await waitFor('the installer to reach the mirror step (or fail)', (LIMIT_SECONDS + 10) * 1000, async () => {
        if (guest!.hasExited()) return true;
        if ((await mirrorRequests()).some((r) => r.includes('/Release'))) return true;
        return (await syslog()).some((l) => PRESEED_ERROR.test(l));
      }, 1000);
      seconds = (Date.now() - started) / 1000;
      // A moment for the syslog lines that follow the request.
      await new Promise((r) => setTimeout(r, 3000));
      const lines = await syslog();
      console.log(`installer e2e (${c.title}): stopped after ${seconds.toFixed(1)} s; ${lines.length} syslog lines; the preseed and mirror steps:`);
      for (const l of lines.filter((x) => /preseed:|GET (debian-installer\/locale|mirror\/)|choose-mirror/i.test(x)).slice(0, 30)) console.log(`  ${l.replace(/(\/answers\/[^/]+\/)[^/\s]+/g, '$1…')}`);
    } catch (err) {
      failure = err;
    }
  }, (LIMIT_SECONDS + 120) * 1000);

  afterAll(async () => {
    await guest?.stop(1_000);
    await peers?.stop(1_000);
    const problems = (await lab?.teardown()) ?? [];
    for (const p of problems) console.log(`teardown: ${p}`);
  }, 60_000);

  it("loads the preseed from the node's signed answer URL", async () => {
    await ok();
    const lines = await syslog();
    const loaded = lines.find((l) => l.includes('preseed: successfully loaded preseed file from'));
    expect(loaded, await logs('no "successfully loaded preseed file" line')).toBeDefined();
    expect(loaded).toMatch(new RegExp(`from http://${SUBNET.replace(/\./g, '\\.')}\\.1:5248/answers/${MAC.replace(/:/g, '-')}/[A-Za-z0-9_.~-]+/preseed`));
    expect((await edgeboot!.log()).match(new RegExp(`"route":"answers".*"mac":"${MAC}"`))).not.toBeNull();
  });

  it('reports no error about the preconfiguration file', async () => {
    await ok();
    const bad = (await syslog()).filter((l) => PRESEED_ERROR.test(l));
    expect(bad, await logs('the installer complained about the preseed')).toEqual([]);
  });

  it('applies the preseeded locale and mirror: d-i asks the stand-in mirror for the preseeded suite', async () => {
    await ok();
    const lines = await syslog();
    const requests = await mirrorRequests();
    expect(requests.some((r) => r.startsWith('GET /debian/dists/bookworm/Release')), await logs('the mirror was never asked')).toBe(true);
    expect(lines.some((l) => /choose-mirror.*dists\/bookworm\/Release/.test(l))).toBe(true);
    // What debconf answered the installer's own components after the preseed was loaded.
    expect(answered(lines, 'debian-installer/locale'), await logs('no answer for the locale')).toBe('en_US.UTF-8');
    expect(answered(lines, 'mirror/http/hostname')).toBe(`${SUBNET}.1:${MIRROR_PORT}`);
    expect(answered(lines, 'mirror/http/directory')).toBe('/debian');
    expect(answered(lines, 'mirror/suite')).toBe('bookworm');
    console.log(`installer e2e (${c.title}): ${requests.length} mirror request(s), first ${requests[0]}; ${seconds.toFixed(1)} s to the mirror step`);
  });

  it('the token never reaches the edgeboot log', async () => {
    await ok();
    const log = await edgeboot!.log();
    expect(log).not.toContain(`ts-${TAG}`);
    expect(log).not.toContain(`tk-${TAG}`);
  });
});
