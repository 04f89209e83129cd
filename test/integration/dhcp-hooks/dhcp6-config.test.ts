import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootfileUrl, DHCP6_OPT, edk2AcceptsVendorClass, encodeDhcp6, findOption, parseDhcp6, userClassData, vendorClassData } from '../../../src/dhcp-hooks/dhcp6-packet.js';
import { solicitFrom } from '../../support/dhcp6-client.js';

// `edgeboot dhcp-config` for DHCPv6, run by the real servers: the snippet passes dnsmasq's and kea-dhcp6's own
// checkers, then each server, started with it in a namespace, answers Solicits from UEFI HTTP Boot, PXEv6 and
// iPXE with the boot URL for each and an option 16 that EDK2's own test accepts. The option bytes are compared
// with the golden capture in test/fixtures/dhcp6 (EDGEBOOT_RECAPTURE=1 rewrites it).

const cli = resolve(import.meta.dirname, '../../../dist/src/cli/edgeboot.js');
const fixtures = resolve(import.meta.dirname, '../../fixtures/dhcp6');
const tag = randomBytes(2).toString('hex');
const ns = { srv: `eb6d-s-${tag}`, cli: `eb6d-c-${tag}` };
const PREFIX = 'fd80:2a:16::';
const SERVER = `${PREFIX}1`;
let dir = '';
let cfg = '';
let peer: ChildProcess | undefined;

function sh(args: string[], timeout = 30_000) {
  const r = spawnSync(args[0]!, args.slice(1), { encoding: 'utf8', timeout });
  return { status: r.status, out: r.stdout, err: r.stderr };
}
function must(args: string[]) {
  const r = sh(args);
  if (r.status !== 0) throw new Error(`${args.join(' ')}: ${r.err}`);
  return r.out;
}

/** A Solicit as EDK2 or iPXE sends it: client id, ORO (59, 60, 16), arch (61), IA_NA, and the class options. */
function solicit(o: { vendor?: string; user?: string; arch?: number }): Buffer {
  const options = [
    { code: DHCP6_OPT.clientId, data: Buffer.from('0003000152540016aa01', 'hex') },
    { code: DHCP6_OPT.elapsed, data: Buffer.from('0000', 'hex') },
    { code: DHCP6_OPT.oro, data: Buffer.from('003b003c0010', 'hex') },
    { code: DHCP6_OPT.iaNa, data: Buffer.from('000000010000000000000000', 'hex') },
  ];
  if (o.arch !== undefined) options.push({ code: DHCP6_OPT.clientArch, data: Buffer.from([o.arch >> 8, o.arch & 0xff]) });
  if (o.vendor) options.push({ code: DHCP6_OPT.vendorClass, data: vendorClassData(343, [o.vendor]) });
  if (o.user) options.push({ code: DHCP6_OPT.userClass, data: userClassData([o.user]) });
  return encodeDhcp6({ type: 1, transactionId: 0x4242, options });
}

function ask(o: Parameters<typeof solicit>[0]) {
  return parseDhcp6(solicitFrom(ns.cli, 'eth0', solicit(o)));
}

function generate(server: string): string {
  const r = sh(['ip', 'netns', 'exec', ns.srv, process.execPath, cli, 'dhcp-config', '--server', server, '--subnet', `${PREFIX}/64`, '-c', cfg]);
  expect(r.status, r.err).toBe(0);
  return r.out;
}

/** Compare `bytes` with the golden capture `name` (or record it when asked to). */
function golden(name: string, bytes: Buffer): void {
  const path = join(fixtures, `${name}.hex`);
  if (process.env.EDGEBOOT_RECAPTURE) writeFileSync(path, `${bytes.toString('hex')}\n`);
  expect(bytes.toString('hex')).toBe(readFileSync(path, 'utf8').trim());
}

async function linkLocalReady(where: string): Promise<void> {
  const until = Date.now() + 15_000;
  while (Date.now() < until) {
    const out = must(['ip', '-n', where, '-6', 'addr', 'show', 'dev', 'eth0', 'scope', 'link']);
    if (out.includes('inet6 fe80') && !out.includes('tentative')) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`the link-local address in ${where} stayed tentative for 15 s`);
}

async function stopPeer(): Promise<void> {
  if (!peer?.pid || peer.exitCode !== null) return;
  const gone = new Promise((r) => peer!.once('exit', r));
  process.kill(peer.pid, 'SIGTERM');
  await gone;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'eb-dhcp6-'));
  writeFileSync(join(dir, 'inv.yaml'), 'nodes: []\n');
  cfg = join(dir, 'edgeboot.yaml');
  writeFileSync(cfg, `inventory: ${join(dir, 'inv.yaml')}\nboot_root: ${dir}\nloader_dirs: [${dir}]\n`);
  for (const n of Object.values(ns)) must(['ip', 'netns', 'add', n]);
  must(['ip', '-n', ns.srv, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns.cli]);
  for (const n of Object.values(ns)) must(['ip', '-n', n, 'link', 'set', 'lo', 'up']);
  must(['ip', '-n', ns.srv, 'addr', 'add', `${SERVER}/64`, 'dev', 'eth0', 'nodad']);
  must(['ip', '-n', ns.srv, 'link', 'set', 'eth0', 'up']);
  must(['ip', '-n', ns.cli, 'link', 'set', 'eth0', 'address', '52:54:00:16:aa:01', 'up']);
  // Both link-local addresses must leave duplicate address detection first: the client binds port 546 on its
  // own, and dnsmasq (bind-interfaces) binds the server's when it starts.
  for (const n of Object.values(ns)) await linkLocalReady(n);
}, 30_000);

afterAll(async () => {
  await stopPeer();
  for (const n of Object.values(ns)) sh(['ip', 'netns', 'del', n]);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('dnsmasq runs the DHCPv6 snippet', () => {
  let conf = '';
  beforeAll(async () => {
    const snippet = generate('dnsmasq');
    conf = join(dir, 'dnsmasq6.conf');
    // Test-only lines: no DNS, this namespace's link only.
    writeFileSync(conf, `port=0\ninterface=eth0\nbind-interfaces\n${snippet}`);
    peer = spawn('ip', ['netns', 'exec', ns.srv, 'dnsmasq', '-k', '-d', '-C', conf, `--pid-file=${join(dir, 'dnsmasq.pid')}`, '--log-dhcp'], { stdio: 'ignore' });
    await new Promise((r) => setTimeout(r, 800));
  });
  afterAll(stopPeer);

  it('the snippet passes dnsmasq --test', () => {
    const r = sh(['dnsmasq', '--test', `--conf-file=${conf}`]);
    expect(r.status, r.err).toBe(0);
  });

  it('UEFI HTTP Boot (x86-64) gets the loader URL and an option 16 EDK2 takes as HTTPClient', () => {
    const adv = ask({ vendor: 'HTTPClient:Arch:00016:UNDI:003001', arch: 16 });
    expect(adv.type).toBe(2);
    expect(bootfileUrl(adv)).toBe(`http://[${SERVER}]:5248/snponly.efi`);
    expect(edk2AcceptsVendorClass(adv, 'HTTPClient')).toBe(true);
    golden('dnsmasq-httpclient-option16', findOption(adv, DHCP6_OPT.vendorClass)!.data);
    golden('dnsmasq-httpclient-option59', findOption(adv, DHCP6_OPT.bootfileUrl)!.data);
  });

  it('PXEv6 gets a tftp:// URL to the first loader', () => {
    const adv = ask({ vendor: 'PXEClient:Arch:00007:UNDI:003000', arch: 7 });
    expect(bootfileUrl(adv)).toBe(`tftp://[${SERVER}]/snponly.efi`);
  });

  it('iPXE gets the HTTP entry script and no vendor class', () => {
    const adv = ask({ user: 'iPXE', arch: 16 });
    expect(bootfileUrl(adv)).toBe(`http://[${SERVER}]:5248/boot.ipxe`);
    expect(findOption(adv, DHCP6_OPT.vendorClass)).toBeUndefined();
  });

  it('a client that is neither gets no boot URL', () => {
    expect(bootfileUrl(ask({ arch: 7 }))).toBeUndefined();
  });
});

describe('kea-dhcp6 runs the DHCPv6 fragment', () => {
  let conf = '';
  beforeAll(async () => {
    const text = generate('kea');
    const fragment = JSON.parse(text.replace(/^\/\/.*$/gm, '')) as { Dhcp6: Record<string, unknown> };
    const full = {
      Dhcp6: {
        'interfaces-config': { interfaces: ['eth0'] },
        'lease-database': { type: 'memfile', persist: false },
        // Kea keeps its DUID file here instead of /var/lib/kea.
        'data-directory': dir,
        subnet6: [{ id: 1, subnet: `${PREFIX}/64`, interface: 'eth0', pools: [{ pool: `${PREFIX}1000-${PREFIX}1fff` }] }],
        loggers: [{ name: 'kea-dhcp6', severity: 'WARN', output_options: [{ output: join(dir, 'kea6.log') }] }],
        ...fragment.Dhcp6,
      },
    };
    conf = join(dir, 'kea-dhcp6.conf');
    writeFileSync(conf, JSON.stringify(full, null, 2));
    peer = spawn('ip', ['netns', 'exec', ns.srv, 'env', `KEA_PIDFILE_DIR=${dir}`, `KEA_LOCKFILE_DIR=${dir}`, 'kea-dhcp6', '-c', conf], { stdio: 'ignore' });
    await new Promise((r) => setTimeout(r, 1500));
  });
  afterAll(stopPeer);

  it('the merged config passes kea-dhcp6 -t', () => {
    const r = sh(['env', `KEA_PIDFILE_DIR=${dir}`, `KEA_LOCKFILE_DIR=${dir}`, 'kea-dhcp6', '-t', conf]);
    expect(r.status, r.out + r.err).toBe(0);
  });

  it('UEFI HTTP Boot gets the loader URL and option 16 in the RFC form, enterprise 343', () => {
    const adv = ask({ vendor: 'HTTPClient:Arch:00016:UNDI:003001', arch: 16 });
    expect(bootfileUrl(adv)).toBe(`http://[${SERVER}]:5248/snponly.efi`);
    expect(edk2AcceptsVendorClass(adv, 'HTTPClient')).toBe(true);
    golden('kea-httpclient-option16', findOption(adv, DHCP6_OPT.vendorClass)!.data);
  });

  it('PXEv6 gets a tftp:// URL and no PXEClient option 16 (EDK2 would take it as a binl offer and ask UDP 4011)', () => {
    const adv = ask({ vendor: 'PXEClient:Arch:00007:UNDI:003000', arch: 7 });
    expect(bootfileUrl(adv)).toBe(`tftp://[${SERVER}]/snponly.efi`);
    expect(edk2AcceptsVendorClass(adv, 'PXEClient')).toBe(false);
  });

  it('iPXE gets the HTTP entry script', () => {
    expect(bootfileUrl(ask({ user: 'iPXE', arch: 16 }))).toBe(`http://[${SERVER}]:5248/boot.ipxe`);
  });
});
