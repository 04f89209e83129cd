import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BootArtefacts, ensureBootArtefacts, stageImage } from './lib/artefacts.js';
import { dnsmasqArgs } from './lib/dnsmasq.js';
import { type EdgebootRun, deployingDebianInventory, startEdgeboot } from './lib/edgeboot.js';
import { type Lab, createLab } from './lib/lab.js';
import { type Netns, createNetns } from './lib/netns.js';
import { FIRMWARE, edgebootCli } from './lib/paths.js';
import { requireRoot, requireTools, run } from './lib/process.js';
import { type GuestRun, bootGuest } from './lib/qemu.js';
import { type GuestReport, describeLogs, parseGuestReport } from './lib/serial-log.js';
import { waitFor } from './lib/wait.js';

// Issue 15: a guest on a subnet edgeboot has no interface on, behind a router that relays DHCP.
//
//   edge namespace (the lab's): br0 10.231.160.1 — edgeboot (HTTP 5248) and the site's dnsmasq
//        │ veth (bridge port)        route 10.231.161.0/24 via 10.231.160.254
//   router namespace: 10.231.160.254 ── forwarding ── br0 10.231.161.1 + tap0 (the guest, BIOS iPXE ROM)
//                     dnsmasq --dhcp-relay=10.231.161.1,10.231.160.1 (no DHCP service of its own)
//
// The site server's boot options come from `edgeboot dhcp-config --subnet 10.231.161.0/24`, run in the edge
// namespace where the routing table names 10.231.160.1 as the address that reaches the remote subnet.

const BOOT_LIMIT_SECONDS = 180;
const EDGE_SUBNET = '10.231.160';
const REMOTE_SUBNET = '10.231.161';
const ROUTER_EDGE_IP = `${EDGE_SUBNET}.254`;

let artefacts: BootArtefacts;

beforeAll(async () => {
  requireRoot();
  requireTools(['qemu-system-x86_64', 'dnsmasq', 'busybox', 'cpio', 'curl', 'ip', 'timeout', ...Object.values(FIRMWARE)]);
  artefacts = await ensureBootArtefacts((line) => console.log(line));
}, 600_000);

/** The router namespace: br0/tap0 on the remote subnet, a veth leg bridged into the edge namespace's br0, forwarding on. */
async function createRouter(lab: Lab): Promise<Netns> {
  const router = await createNetns({ subnet: REMOTE_SUBNET });
  lab.defer(() => router.teardown());
  const leg = `r${router.name}`.slice(0, 15);
  await run('ip', ['-n', router.name, 'link', 'add', 'up0', 'type', 'veth', 'peer', 'name', leg, 'netns', lab.ns.name]);
  await run('ip', ['-n', router.name, 'addr', 'add', `${ROUTER_EDGE_IP}/24`, 'dev', 'up0']);
  await run('ip', ['-n', router.name, 'link', 'set', 'up0', 'up']);
  await router.exec('sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
  await lab.ns.exec('ip', ['link', 'set', leg, 'master', 'br0']);
  await lab.ns.exec('ip', ['link', 'set', leg, 'up']);
  await lab.ns.exec('ip', ['route', 'add', `${REMOTE_SUBNET}.0/24`, 'via', ROUTER_EDGE_IP]);
  return router;
}

/** dnsmasq as a pure DHCP relay on the router's br0, forwarding to every server in `servers`; returns its log reader. */
async function startRelay(router: Netns, dir: string, servers: string[]): Promise<() => Promise<string>> {
  const rLog = join(dir, 'relay.log');
  const log = () => readFile(rLog, 'utf8').catch(() => '');
  router.spawn(
    'dnsmasq-relay',
    'dnsmasq',
    [
      '--keep-in-foreground',
      '--port=0',
      '--conf-file=/dev/null',
      '--no-resolv',
      '--no-hosts',
      '--interface=br0',
      '--bind-interfaces',
      ...servers.map((server) => `--dhcp-relay=${router.serverIp},${server}`),
      `--dhcp-leasefile=${join(dir, 'relay.leases')}`,
      `--pid-file=${join(dir, 'relay.pid')}`,
      '--log-dhcp',
      '--log-facility=-',
      '--user=root',
      '--group=root',
    ],
    rLog,
  );
  await waitFor('dnsmasq relay', 10_000, async () => /DHCP relay/i.test(await log()));
  return log;
}

describe('a guest on a relayed subnet, site DHCP configured by dhcp-config --subnet', () => {
  const mac = `52:54:00:a1:61:${randomBytes(1).toString('hex')}`;
  const hostname = 'relay-bios';
  const ip = `${REMOTE_SUBNET}.50`;
  let lab: Lab;
  let router: Netns;
  let edgeboot: EdgebootRun;
  let guest: GuestRun | undefined;
  let report: GuestReport = { ok: false };
  let generated = '';
  let generatorNote = '';
  let dnsmasqLog: () => Promise<string> = async () => '';
  let relayLog: () => Promise<string> = async () => '';

  beforeAll(async () => {
    lab = await createLab({ subnet: EDGE_SUBNET });
    router = await createRouter(lab);
    const bootRoot = join(lab.dir, 'boot');
    await stageImage(bootRoot, { os: 'debian', release: 'trixie' }, artefacts);
    edgeboot = await startEdgeboot({ ns: lab.ns, dir: lab.dir, bootRoot, inventory: deployingDebianInventory(mac, hostname, 'relay') });

    const gen = await lab.ns.exec(
      process.execPath,
      [edgebootCli(), 'dhcp-config', '--server', 'dnsmasq', '--subnet', `${REMOTE_SUBNET}.0/24`, '--no-hook', '--config', edgeboot.configFile],
      { allowFailure: true },
    );
    if (gen.code !== 0) throw new Error(`dhcp-config --subnet failed: ${gen.stderr}`);
    generated = gen.stdout;
    generatorNote = gen.stderr;
    const conf = join(lab.dir, 'generated-dnsmasq.conf');
    await writeFile(conf, generated);

    // The site server: the generated snippet, a range and a fixed lease on the remote subnet, listening on br0.
    const site = { ...lab.ns, subnet: REMOTE_SUBNET };
    const dLog = join(lab.dir, 'dnsmasq.log');
    dnsmasqLog = () => readFile(dLog, 'utf8').catch(() => '');
    lab.ns.spawn('dnsmasq', 'dnsmasq', dnsmasqArgs({ ns: site, dir: lab.dir, hosts: [{ mac, ip }], extraArgs: [`--conf-file=${conf}`] }), dLog);
    await waitFor('site dnsmasq', 10_000, async () => /DHCP, IP range/.test(await dnsmasqLog()));

    relayLog = await startRelay(router, lab.dir, [lab.ns.serverIp]);

    guest = await bootGuest({ ns: router, dir: lab.dir, firmware: 'bios', mac, timeoutSeconds: BOOT_LIMIT_SECONDS });
    report = parseGuestReport(guest.serial);
    console.log(`relay/bios: boot to power-off ${guest.seconds.toFixed(1)} s, result "${report.result ?? 'none'}"`);
  }, (BOOT_LIMIT_SECONDS + 180) * 1000);

  afterAll(async () => {
    for (const p of (await lab?.teardown()) ?? []) console.log(`teardown: ${p}`);
  }, 60_000);

  const failure = async (what: string) => {
    lab.keep();
    return describeLogs(what, {
      'generated config': generated,
      'serial console': guest?.serial ?? '',
      'edgeboot log': await edgeboot.log(),
      'relay log': await relayLog(),
      'site dnsmasq log': await dnsmasqLog(),
    });
  };

  it('dhcp-config --subnet names the edgeboot address that routes to the remote subnet', () => {
    expect(generatorNote).toContain(`${REMOTE_SUBNET}.0/24 is relayed`);
    expect(generated).toContain(`http://${lab.ns.serverIp}:5248/boot.ipxe`);
  });

  it('the site server leased the guest its fixed address through the relay', async () => {
    const log = await dnsmasqLog();
    if (!new RegExp(`DHCPACK\\(br0\\) ${ip.replace(/\./g, '\\.')} ${mac}`).test(log)) throw new Error(await failure('no relayed DHCPACK for the guest'));
    // br0 carries 10.231.160.1 only: dnsmasq picks the remote range because the request came with giaddr.
    expect(log).toContain(`available DHCP range: ${REMOTE_SUBNET}.100 -- ${REMOTE_SUBNET}.199`);
  });

  it('boots to this node\'s answer file from the remote subnet', async () => {
    if (!report.ok) throw new Error(await failure(`no answer file: result "${report.result ?? 'none'}"`));
    expect(report.url?.startsWith(`${edgeboot.baseUrl}/answers/`)).toBe(true);
    expect(report.answer).toContain(hostname);
    const fetched = (await edgeboot.log()).split('\n').filter((l) => l.includes('"route":"answers') || l.includes('/answers/'));
    expect(fetched.join('\n')).toContain(ip);
  });
});

// The second case: the site's DHCP server (its own namespace, 10.231.160.2) gives addresses only, no boot
// options; the relay forwards to it and to edgeboot, whose proxyDHCP answers the relayed DISCOVER at giaddr
// and the ROM's unicast proxy REQUEST on port 4011, both from the address that routes to the remote subnet.
describe('a guest on a relayed subnet, addresses from a plain site server, boot options from proxyDHCP', () => {
  const mac = `52:54:00:a1:62:${randomBytes(1).toString('hex')}`;
  const hostname = 'relay-proxy-bios';
  const ip = `${REMOTE_SUBNET}.51`;
  const siteIp = `${EDGE_SUBNET}.2`;
  let lab: Lab;
  let router: Netns;
  let edgeboot: EdgebootRun;
  let guest: GuestRun | undefined;
  let report: GuestReport = { ok: false };
  let siteLog: () => Promise<string> = async () => '';
  let relayLog: () => Promise<string> = async () => '';

  beforeAll(async () => {
    lab = await createLab({ subnet: EDGE_SUBNET });
    router = await createRouter(lab);
    const bootRoot = join(lab.dir, 'boot');
    await stageImage(bootRoot, { os: 'debian', release: 'trixie' }, artefacts);
    edgeboot = await startEdgeboot({
      ns: lab.ns,
      dir: lab.dir,
      bootRoot,
      inventory: deployingDebianInventory(mac, hostname, 'relayproxy'),
      extraConfig: { dhcp: { proxy: true, lease_intake: false } },
    });

    // The site server's namespace: one veth leg bridged into the edge br0, a route back to the remote subnet.
    const site = await createNetns({ subnet: EDGE_SUBNET });
    lab.defer(() => site.teardown());
    const leg = `s${site.name}`.slice(0, 15);
    await run('ip', ['-n', site.name, 'link', 'add', 'up0', 'type', 'veth', 'peer', 'name', leg, 'netns', lab.ns.name]);
    await run('ip', ['-n', site.name, 'addr', 'add', `${siteIp}/24`, 'dev', 'up0']);
    await run('ip', ['-n', site.name, 'link', 'set', 'up0', 'up']);
    await run('ip', ['-n', site.name, 'route', 'add', `${REMOTE_SUBNET}.0/24`, 'via', ROUTER_EDGE_IP]);
    await lab.ns.exec('ip', ['link', 'set', leg, 'master', 'br0']);
    await lab.ns.exec('ip', ['link', 'set', leg, 'up']);
    const sLog = join(lab.dir, 'site-dnsmasq.log');
    siteLog = () => readFile(sLog, 'utf8').catch(() => '');
    const args = dnsmasqArgs({ ns: { ...site, subnet: REMOTE_SUBNET }, dir: lab.dir, hosts: [{ mac, ip }] }).map((a) => (a === '--interface=br0' ? '--interface=up0' : a));
    site.spawn('site-dnsmasq', 'dnsmasq', args, sLog);
    await waitFor('site dnsmasq', 10_000, async () => /DHCP, IP range/.test(await siteLog()));

    relayLog = await startRelay(router, lab.dir, [siteIp, lab.ns.serverIp]);

    guest = await bootGuest({ ns: router, dir: lab.dir, firmware: 'bios', mac, timeoutSeconds: BOOT_LIMIT_SECONDS });
    report = parseGuestReport(guest.serial);
    console.log(`relay-proxy/bios: boot to power-off ${guest.seconds.toFixed(1)} s, result "${report.result ?? 'none'}"`);
  }, (BOOT_LIMIT_SECONDS + 180) * 1000);

  afterAll(async () => {
    for (const p of (await lab?.teardown()) ?? []) console.log(`teardown: ${p}`);
  }, 60_000);

  const failure = async (what: string) => {
    lab.keep();
    return describeLogs(what, {
      'serial console': guest?.serial ?? '',
      'edgeboot log': await edgeboot.log(),
      'relay log': await relayLog(),
      'site dnsmasq log': await siteLog(),
    });
  };

  it('the site server sent no boot options', async () => {
    const log = await siteLog();
    if (!log.includes(`DHCPACK(up0) ${ip} ${mac}`)) throw new Error(await failure('the site server acked no relayed lease for the guest'));
    expect(log).not.toMatch(/sent size: +\d+ option: 67 |next server: 10\.231\.160\.1\b/);
  });

  it('proxyDHCP answered the relayed DISCOVER at giaddr with the routed address', async () => {
    const answered = (await edgeboot.log()).split('\n').filter((l) => l.includes('proxyDHCP answered'));
    const relayed = answered.filter((l) => l.includes(`"giaddr":"${router.serverIp}"`));
    if (!relayed.length) throw new Error(await failure('proxyDHCP answered no relayed request'));
    console.log(`proxyDHCP: ${relayed[0]}`);
    expect(relayed[0]).toContain(`"via":"${lab.ns.serverIp}"`);
    expect(relayed[0]).toContain(`"file":"${edgeboot.bootIpxeUrl}"`);
  });

  it('boots to this node\'s answer file from the remote subnet', async () => {
    if (!report.ok) throw new Error(await failure(`no answer file: result "${report.result ?? 'none'}"`));
    expect(report.url?.startsWith(`${edgeboot.baseUrl}/answers/`)).toBe(true);
    expect(report.answer).toContain(hostname);
  });
});
