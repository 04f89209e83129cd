import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BootArtefacts, ensureBootArtefacts, stageImage } from './lib/artefacts.js';
import { dnsmasqArgs } from './lib/dnsmasq.js';
import { type EdgebootRun, startEdgeboot, deployingDebianInventory } from './lib/edgeboot.js';
import { type Lab, createLab } from './lib/lab.js';
import { uniqueNetnsName } from './lib/netns.js';
import { FIRMWARE, IPXE_LOADERS, REPO_ROOT, edgebootCli } from './lib/paths.js';
import { requireRoot, requireTools, run, startProcess } from './lib/process.js';
import { type GuestRun, bootGuest } from './lib/qemu.js';
import { type GuestReport, describeLogs, parseGuestReport } from './lib/serial-log.js';
import { waitFor } from './lib/wait.js';

// Issue 4: a BIOS guest whose NIC firmware is plain PXE first gets undionly.kpxe by TFTP from
// edgeboot, chainloads it, and the chainloaded iPXE gets boot.ipxe over HTTP instead of looping.
// qemu's NIC ROMs are iPXE themselves (option 77 "iPXE", option 175), so a DHCP relay between the
// guest and dnsmasq (lib/dhcp-relay.mjs) strips those two options from each client's messages until
// its first DHCPACK: the ROM's exchange looks like Intel/Broadcom PXE firmware; the chainloaded
// undionly.kpxe's and the kernel's exchanges pass unchanged. dnsmasq sits in a second namespace on
// 10.231.92.0/24, hears only the relay, and is configured with the generated snippet plus a range.
//
//   guest ── tap0/br0 10.231.91.1 (edgeboot: HTTP 5248, TFTP 69; relay on UDP 67)
//                     veth 10.231.92.1 ── 10.231.92.2 (dnsmasq, DHCP for 10.231.91.0/24 via giaddr)

const BOOT_LIMIT_SECONDS = 150;
const GUEST_SUBNET = '10.231.91';
const SERVER_SUBNET = '10.231.92';
const RELAY = join(REPO_ROOT, 'test/e2e/lib/dhcp-relay.mjs');

let artefacts: BootArtefacts;

beforeAll(async () => {
  requireRoot();
  requireTools(['qemu-system-x86_64', 'dnsmasq', 'busybox', 'cpio', 'curl', 'ip', 'timeout', IPXE_LOADERS.undionly, ...Object.values(FIRMWARE)]);
  artefacts = await ensureBootArtefacts((line) => console.log(line));
}, 600_000);

/** The JSON lines of a log that parse, skipping anything else. */
function jsonLines(text: string): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      out.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      // not a log entry
    }
  }
  return out;
}

/** A second namespace joined to the lab's by a veth pair: lab side `<server>.1`, far side `<server>.2` named br0. */
async function createServerSide(lab: Lab): Promise<string> {
  const ns = uniqueNetnsName('ebfs');
  const veth = `v${ns}`.slice(0, 15);
  await run('ip', ['netns', 'add', ns]);
  lab.defer(async () => {
    await run('ip', ['netns', 'del', ns], { allowFailure: true });
  });
  const ipn = (...args: string[]) => run('ip', ['-n', ns, ...args]);
  await ipn('link', 'set', 'lo', 'up');
  // Named br0 so the lab's dnsmasq arguments (`--interface=br0`) apply unchanged.
  await ipn('link', 'add', 'br0', 'type', 'veth', 'peer', 'name', veth, 'netns', lab.ns.name);
  await ipn('addr', 'add', `${SERVER_SUBNET}.2/24`, 'dev', 'br0');
  await ipn('link', 'set', 'br0', 'up');
  // dnsmasq answers the relay at giaddr, on the guests' subnet.
  await ipn('route', 'add', `${GUEST_SUBNET}.0/24`, 'via', `${SERVER_SUBNET}.1`);
  await lab.ns.exec('ip', ['addr', 'add', `${SERVER_SUBNET}.1/24`, 'dev', veth]);
  await lab.ns.exec('ip', ['link', 'set', veth, 'up']);
  return ns;
}

describe('a plain-PXE first stage: undionly.kpxe by TFTP, then boot.ipxe over HTTP', () => {
  const mac = `52:54:00:91:00:${randomBytes(1).toString('hex')}`;
  const hostname = 'dhcp-firststage-bios';
  const ip = `${GUEST_SUBNET}.50`;
  let lab: Lab;
  let edgeboot: EdgebootRun;
  let guest: GuestRun | undefined;
  let report: GuestReport = { ok: false };
  let dnsmasqLog: () => Promise<string> = async () => '';
  let relayLog: () => Promise<string> = async () => '';

  beforeAll(async () => {
    lab = await createLab({ subnet: GUEST_SUBNET });
    const bootRoot = join(lab.dir, 'boot');
    await stageImage(bootRoot, { os: 'debian', release: 'trixie' }, artefacts);
    edgeboot = await startEdgeboot({ ns: lab.ns, dir: lab.dir, bootRoot, tftpPort: 69, inventory: deployingDebianInventory(mac, hostname, 'first') });

    // dnsmasq's configuration: the generated snippet, a range and the fixed lease (lib/dnsmasq.ts), nothing else.
    const gen = spawnSync('node', [edgebootCli(), 'dhcp-config', '--server', 'dnsmasq', '--server-address', lab.ns.serverIp, '--no-hook', '--config', edgeboot.configFile], {
      encoding: 'utf8',
    });
    if (gen.status !== 0) throw new Error(`dhcp-config failed: ${gen.stderr}`);
    const conf = join(lab.dir, 'generated-dnsmasq.conf');
    await writeFile(conf, gen.stdout);
    const serverNs = await createServerSide(lab);
    const dLog = join(lab.dir, 'dnsmasq.log');
    dnsmasqLog = () => readFile(dLog, 'utf8').catch(() => '');
    const dnsmasq = startProcess('dnsmasq', 'ip', ['netns', 'exec', serverNs, 'dnsmasq', ...dnsmasqArgs({ ns: lab.ns, dir: lab.dir, hosts: [{ mac, ip }], extraArgs: [`--conf-file=${conf}`] })], {
      logFile: dLog,
    });
    lab.defer(() => dnsmasq.stop(2_000));
    await waitFor('dnsmasq', 10_000, async () => /DHCP, IP range/.test(await dnsmasqLog()));

    const rLog = join(lab.dir, 'relay.log');
    relayLog = () => readFile(rLog, 'utf8').catch(() => '');
    lab.ns.spawn('dhcp-relay', process.execPath, [RELAY, lab.ns.serverIp, `${GUEST_SUBNET}.255`, `${SERVER_SUBNET}.2`, '--strip-first-stage'], rLog);
    await waitFor('the DHCP relay', 10_000, async () => /relay listening/.test(await relayLog()));

    guest = await bootGuest({ ns: lab.ns, dir: lab.dir, firmware: 'bios', mac, timeoutSeconds: BOOT_LIMIT_SECONDS });
    report = parseGuestReport(guest.serial);
    console.log(`first-stage/bios: boot to power-off ${guest.seconds.toFixed(1)} s, result "${report.result ?? 'none'}"`);
  }, (BOOT_LIMIT_SECONDS + 120) * 1000);

  afterAll(async () => {
    for (const p of (await lab?.teardown()) ?? []) console.log(`teardown: ${p}`);
  }, 60_000);

  const failure = async (what: string) => {
    lab.keep();
    return describeLogs(what, {
      'serial console': guest?.serial ?? '',
      'edgeboot log': await edgeboot.log(),
      'relay log': await relayLog(),
      'dnsmasq log': await dnsmasqLog(),
    });
  };

  const tftpTransfers = async () => jsonLines(await edgeboot.log()).filter((e) => e.msg === 'tftp transfer');

  it('the ROM\'s DHCP reached dnsmasq without iPXE\'s marks and was offered undionly.kpxe from edgeboot', async () => {
    const entries = jsonLines(await relayLog());
    const firstAck = entries.find((e) => e.firstStageDone === true);
    if (!firstAck) throw new Error(await failure('the relay saw no first-stage DHCPACK'));
    expect([firstAck.file, firstAck.siaddr]).toEqual(['undionly.kpxe', lab.ns.serverIp]);
    const firstStage = entries.slice(0, entries.indexOf(firstAck)).filter((e) => e.dir === 'to-server');
    expect(firstStage.length).toBeGreaterThan(0);
    expect(firstStage.every((e) => e.userClass === null)).toBe(true);
  });

  it('fetches undionly.kpxe by TFTP exactly once', async () => {
    const transfers = await tftpTransfers();
    const loader = transfers.filter((e) => String(e.file).replace(/^\//, '') === 'undionly.kpxe');
    if (loader.length !== 1) throw new Error(await failure(`undionly.kpxe was fetched ${loader.length} times by TFTP`));
    console.log(`tftp: ${JSON.stringify(loader[0])}`);
    expect(loader[0]!.outcome).toBe('ok');
    // Nothing else goes by TFTP: the kernel and initrd come over HTTP after boot.ipxe.
    expect(transfers.length).toBe(1);
  });

  it('the chainloaded iPXE is sent to boot.ipxe over HTTP, once', async () => {
    const entries = jsonLines(await edgeboot.log()).filter((e) => e.route === 'boot.ipxe');
    if (entries.length !== 1) throw new Error(await failure(`boot.ipxe was fetched ${entries.length} times`));
    console.log(`http: ${JSON.stringify(entries[0])}`);
    const acks = jsonLines(await relayLog()).filter((e) => e.dir === 'to-client' && e.type === 'ack');
    // The relay's log can show one ACK twice in a row (seen since the lab bridge got a veth port); what counts
    // is the sequence of file names the client was given: the first stage's, then the chainloaded iPXE's.
    const files = acks.map((e) => e.file).filter((f, i, all) => i === 0 || f !== all[i - 1]);
    expect(files[0]).toBe('undionly.kpxe');
    expect(files[1]).toBe(edgeboot.bootIpxeUrl);
  });

  it('boots to this node\'s installer answer file', async () => {
    if (!report.ok) throw new Error(await failure(`no answer file: result "${report.result ?? 'none'}"`));
    expect(report.url?.startsWith(`${edgeboot.baseUrl}/answers/`)).toBe(true);
    expect(report.answer).toContain(hostname);
  });
});
