import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BootArtefacts, ensureBootArtefacts } from './lib/artefacts.js';
import { type Dnsmasq, startDnsmasq } from './lib/dnsmasq.js';
import { type EdgebootRun, startEdgeboot } from './lib/edgeboot.js';
import { GUEST_INIT, MARKERS } from './lib/guest-init.js';
import { type Lab, createLab } from './lib/lab.js';
import { FIRMWARE, edgebootCli } from './lib/paths.js';
import { type ManagedProcess, requireRoot, requireTools } from './lib/process.js';
import { qemuArgs } from './lib/qemu.js';
import { cleanSerial, describeLogs } from './lib/serial-log.js';
import { waitFor } from './lib/wait.js';

// Enlistment end to end (issue 5): an unknown machine boots the enlistment image; the rack reports it;
// the reference region writes it into its inventory as `new`; the machine reboots into the wait script;
// `edgeboot nodes approve` lets the same qemu run (no power cycle) go on to the commissioning boot.

const SUBNET = '10.231.51';
const LIMIT_SECONDS = 300;
const TOOLS = ['qemu-system-x86_64', 'dnsmasq', 'busybox', 'cpio', 'curl', 'ip', 'timeout', 'gzip', 'apt-get', 'dpkg-deb'];
const MAC = `52:54:00:e5:01:${randomBytes(1).toString('hex')}`;
const CLUSTER_TOKEN = `rack-e2e-${randomBytes(12).toString('hex')}`;
const ADMIN_TOKEN = `admin-e2e-${randomBytes(12).toString('hex')}`;

// The shared guest /init powers off when done; here an enlistment boot reboots instead (as MAAS's
// enlistment does), so the firmware network-boots again within the same qemu run. A discovered node
// has no kernel_opts of its own: the cluster-wide config.kernel_opts (console=ttyS0) is what puts the
// enlistment kernel, and this /init on /dev/console, on the serial port.
const ENLIST_INIT = GUEST_INIT.replace(
  /^\s*poweroff -f$/m,
  `  if grep -q 'edgeboot.purpose=enlist' /proc/cmdline; then echo "${MARKERS.step} rebooting after enlistment"; sync; reboot -f; else poweroff -f; fi`,
);
const CLUSTER_KERNEL_OPTS = 'console=ttyS0,115200';

/** The shared initrd plus a second cpio whose /init replaces the first one (the kernel unpacks both in order). */
async function enlistInitrd(dir: string, a: BootArtefacts): Promise<string> {
  const root = join(dir, 'init-overlay');
  await mkdir(root, { recursive: true });
  await writeFile(join(root, 'init'), ENLIST_INIT, { mode: 0o755 });
  const overlay = join(dir, 'overlay.cpio.gz');
  execFileSync('sh', ['-c', 'echo init | cpio -o -H newc -R 0:0 --quiet | gzip -9 > "$1"', 'sh', overlay], { cwd: root, stdio: 'ignore' });
  const out = join(dir, 'initrd-enlist');
  await writeFile(out, Buffer.concat([await readFile(a.initrd), await readFile(overlay)]));
  return out;
}

describe('enlistment through the reference region, one qemu run', () => {
  let lab: Lab | undefined;
  let region: ManagedProcess | undefined;
  let edgeboot: EdgebootRun | undefined;
  let dnsmasq: Dnsmasq | undefined;
  let guest: ManagedProcess | undefined;
  let regionDir = '';
  let regionUrl = '';
  let serialFile = '';
  let approvedAt = 0;
  let statusBeforeApprove: string | undefined;
  let approveOutput = '';
  let guestExit: number | null = null;
  let failure: unknown;

  const requests = async () =>
    (await edgeboot!.log())
      .split('\n')
      .filter((l) => l.includes('"route":"ipxe-node"') && l.includes(`"mac":"${MAC}"`))
      .map((l) => JSON.parse(l) as { purpose: string; time: string });
  const inventoryNode = async () => {
    const doc = parse(await readFile(join(regionDir, 'inventory.yaml'), 'utf8')) as { nodes?: Array<{ macs: string[]; status: string }> };
    return doc.nodes?.find((n) => n.macs.includes(MAC));
  };
  const logs = async (title: string) =>
    describeLogs(title, {
      'serial console': await readFile(serialFile, 'utf8').catch(() => ''),
      'edgeboot log': (await edgeboot?.log()) ?? '',
      'region log': await readFile(join(regionDir, 'region.log'), 'utf8').catch(() => ''),
      'dnsmasq log': (await dnsmasq?.log()) ?? '',
    });
  const ok = async () => {
    if (failure) {
      lab?.keep();
      throw new Error(await logs(`the enlistment run failed: ${failure instanceof Error ? failure.message : String(failure)}`));
    }
  };

  beforeAll(async () => {
    requireRoot();
    requireTools([...TOOLS, FIRMWARE.biosRom]);
    if (!ENLIST_INIT.includes('rebooting after enlistment')) {
      throw new Error('the shared guest /init changed: its poweroff line is not where this test expects it');
    }
    const cli = edgebootCli();
    const artefacts = await ensureBootArtefacts((line) => console.log(line));
    lab = await createLab({ subnet: SUBNET });
    const ns = lab.ns;
    try {
      regionDir = join(lab.dir, 'region');
      await mkdir(regionDir);
      await writeFile(
        join(regionDir, 'inventory.yaml'),
        stringify({
          config: {
            commissioning_osystem: 'ubuntu',
            commissioning_release: 'noble',
            metadata_url: 'http://region.invalid:5240/MAAS/metadata/',
            kernel_opts: CLUSTER_KERNEL_OPTS,
          },
          boot_selections: [{ os: 'ubuntu', release: 'noble', arches: ['amd64'] }],
          nodes: [],
        }),
      );
      await writeFile(join(regionDir, 'tokens.yaml'), stringify({ clusters: { 'rack-e2e': CLUSTER_TOKEN }, admin: ADMIN_TOKEN }));
      await writeFile(join(regionDir, 'rack.token'), CLUSTER_TOKEN, { mode: 0o600 });
      await writeFile(join(regionDir, 'admin.token'), ADMIN_TOKEN, { mode: 0o600 });
      regionUrl = `http://${ns.serverIp}:5240`;
      region = ns.spawn('region', process.execPath, [cli, 'region', '--inventory', join(regionDir, 'inventory.yaml'), '--tokens', join(regionDir, 'tokens.yaml'), '--listen', `${ns.serverIp}:5240`], join(regionDir, 'region.log'));
      await waitFor('the region /healthz', 30_000, async () => (await ns.exec('curl', ['-fsS', '--max-time', '2', '-o', '/dev/null', `${regionUrl}/healthz`], { allowFailure: true })).code === 0);

      // The enlistment/commissioning image (the commissioning OS) is staged by hand; the region selects it without files.
      const bootRoot = join(lab.dir, 'boot');
      const image = join(bootRoot, 'images/ubuntu/amd64/generic/noble/stable');
      await mkdir(image, { recursive: true });
      await copyFile(artefacts.kernel, join(image, 'kernel'));
      await copyFile(await enlistInitrd(lab.dir, artefacts), join(image, 'initrd'));

      edgeboot = await startEdgeboot({
        ns,
        dir: lab.dir,
        bootRoot,
        inventory: { nodes: [] },
        extraConfig: {
          region: { url: regionUrl, cluster_id: 'rack-e2e', token_file: join(regionDir, 'rack.token'), wait_seconds: 5, backoff_max_seconds: 2 },
          images: { sync: false },
          wait_retry_seconds: 3,
          dhcp: { lease_intake: false },
        },
      });
      dnsmasq = await startDnsmasq({ ns, dir: lab.dir, ipxeBootUrl: edgeboot.bootIpxeUrl, hosts: [{ mac: MAC, ip: `${SUBNET}.60` }] });

      // Like bootGuest, but the guest may reboot: no -no-reboot.
      serialFile = join(lab.dir, 'serial-enlist.log');
      const args = (await qemuArgs({ ns, dir: lab.dir, firmware: 'bios', mac: MAC })).filter((a) => a !== '-no-reboot');
      guest = ns.spawn('qemu-enlist', 'timeout', ['--kill-after=5', String(LIMIT_SECONDS), 'qemu-system-x86_64', ...args], serialFile);
      const started = Date.now();

      await waitFor('the wait script to be served after enlistment', 200_000, async () => {
        if (guest!.hasExited()) throw new Error('qemu exited before the wait script was served');
        return (await requests()).some((r) => r.purpose === 'wait');
      });
      statusBeforeApprove = (await inventoryNode())?.status;
      const approve = await ns.exec(process.execPath, [cli, 'nodes', 'approve', MAC, '--region', regionUrl, '--token-file', join(regionDir, 'admin.token'), '--config', '/nonexistent']);
      approveOutput = approve.stdout;
      approvedAt = Date.now();
      guestExit = await Promise.race([guest.exited, new Promise<null>((r) => setTimeout(() => r(null), (LIMIT_SECONDS + 10) * 1000 - (Date.now() - started)))]);
      console.log(`enlist e2e: approve after ${((approvedAt - started) / 1000).toFixed(1)} s, qemu exit ${guestExit} after ${((Date.now() - started) / 1000).toFixed(1)} s`);
    } catch (err) {
      failure = err;
    }
  }, (LIMIT_SECONDS + 200) * 1000);

  afterAll(async () => {
    await guest?.stop(1_000);
    await region?.stop(2_000);
    const problems = (await lab?.teardown()) ?? [];
    for (const p of problems) console.log(`teardown: ${p}`);
  }, 60_000);

  it('the unknown machine first boots the enlistment path and fetches its user-data', async () => {
    await ok();
    const purposes = (await requests()).map((r) => r.purpose);
    expect(purposes[0]).toBe('enlist');
    expect((await edgeboot!.log()).match(new RegExp(`"route":"answers".*"mac":"${MAC}"`, 'g'))?.length).toBeGreaterThanOrEqual(1);
    const serial = cleanSerial(await readFile(serialFile, 'utf8'));
    expect(serial).toMatch(new RegExp(`${MARKERS.url} .*/answers/.*/user-data`));
    expect(serial).toContain('rebooting after enlistment');
  });

  it("the enlistment kernel's own output is on the serial console: config.kernel_opts reached an unknown machine", async () => {
    await ok();
    const serial = cleanSerial(await readFile(serialFile, 'utf8'));
    const cmdlines = serial.split('\n').filter((l) => /Kernel command line: /.test(l));
    expect(cmdlines.length, 'the kernel printed its command line on ttyS0').toBeGreaterThanOrEqual(1);
    const enlist = cmdlines[0]!;
    expect(enlist).toContain('edgeboot.purpose=enlist');
    expect(enlist).toContain(CLUSTER_KERNEL_OPTS);
    expect(serial).toMatch(/Linux version \d/);
    // The kernel's lines come before the enlistment /init's, in the same boot.
    expect(serial.indexOf(enlist)).toBeLessThan(serial.indexOf('rebooting after enlistment'));
    console.log(`enlist e2e: ${cmdlines.length} kernel command line(s) on the serial console; the first: ${enlist.trim().replace(/(\/answers\/[^/]+\/)[^/\s]+/g, '$1…').slice(0, 240)}`);
  });

  it('the reference region inventory holds the machine as status new (until approved)', async () => {
    await ok();
    const regionLog = await readFile(join(regionDir, 'region.log'), 'utf8');
    expect(regionLog).toContain('discovered machine added to the inventory as new');
    expect(statusBeforeApprove).toBe('new');
    expect((await inventoryNode())?.status).toBe('commissioning');
  });

  it('after rebooting, the machine gets the wait script and keeps asking', async () => {
    await ok();
    const purposes = (await requests()).map((r) => r.purpose);
    const firstWait = purposes.indexOf('wait');
    expect(firstWait).toBeGreaterThan(0);
    expect(purposes.slice(0, firstWait).every((p) => p === 'enlist')).toBe(true);
  });

  it('after `edgeboot nodes approve` the same qemu run moves on to the commissioning boot', async () => {
    await ok();
    expect(approveOutput).toContain('new -> commissioning');
    const reqs = await requests();
    const commission = reqs.findIndex((r) => r.purpose === 'commission');
    expect(commission).toBeGreaterThan(reqs.findIndex((r) => r.purpose === 'wait'));
    expect(Date.parse(reqs[commission]!.time)).toBeGreaterThanOrEqual(approvedAt - 1000);
    const serial = cleanSerial(await readFile(serialFile, 'utf8'));
    const urls = serial.split('\n').filter((l) => l.trim().startsWith(`${MARKERS.url} `));
    expect(urls).toHaveLength(2);
    expect(serial).toMatch(new RegExp(`${MARKERS.result} ok`));
  });

  it('the guest powered off by itself after commissioning (one qemu process, never power-cycled)', async () => {
    await ok();
    expect(guestExit).toBe(0);
  });
});
