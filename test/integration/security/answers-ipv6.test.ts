import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeApplianceDir } from '../../support/appliance.js';
import { deployingNodes } from '../../support/drill.js';

// Answer-file URLs on an IPv6 link, with the appliance and two hosts in namespaces of their own on one bridge.
// The node fetches its script from the address DHCPv6 would give iPXE, then its answer file from its SLAAC
// address (EUI-64 of its MAC) and from a privacy-style address: both accepted. Another host in the same /64,
// with another MAC, presenting the node's URL is refused, even from an address whose interface identifier is
// not its own.

const cli = resolve(import.meta.dirname, '../../../dist/src/cli/edgeboot.js');
const tag = randomBytes(2).toString('hex');
const ns = { lan: `eb6lan-${tag}`, srv: `eb6srv-${tag}`, node: `eb6node-${tag}`, other: `eb6oth-${tag}` };
const NODE_MAC = '52:54:00:15:6a:01';
const OTHER_MAC = '52:54:00:15:6a:02';
const PREFIX = 'fd80:2a:15:6';
const SERVER = `${PREFIX}::1`;
const NODE_DHCP = `${PREFIX}::100`;
const NODE_SLAAC = `${PREFIX}:5054:ff:fe15:6a01`;
const NODE_PRIVACY = `${PREFIX}:9c3e:41d2:77aa:1b05`;
const OTHER_ADDR = `${PREFIX}::200`;
// The other host also claims an address with the node's SLAAC pattern in a different /64: prefix still checked.
const OTHER_FOREIGN = 'fd80:2a:15:7:5054:ff:fe15:6a01';

let server: ChildProcess | undefined;
let dir = '';

function sh(args: string[]): { status: number | null; out: string; err: string } {
  const r = spawnSync(args[0]!, args.slice(1), { encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, out: r.stdout, err: r.stderr };
}

function must(args: string[]): void {
  const r = sh(args);
  if (r.status !== 0) throw new Error(`${args.join(' ')}: ${r.err}`);
}

/** curl from namespace `where`, source address `from`; returns status and body. */
function curlFrom(where: string, from: string, url: string): { status: number; body: string } {
  const r = sh(['ip', 'netns', 'exec', where, 'curl', '-sg', '--max-time', '10', '--interface', from, '-w', '\n%{http_code}', url]);
  const lines = r.out.split('\n');
  return { status: Number(lines.pop()), body: lines.join('\n') };
}

function plug(host: string, mac: string, port: string, addrs: string[]): void {
  const link = 'eth0';
  must(['ip', '-n', ns.lan, 'link', 'add', port, 'type', 'veth', 'peer', 'name', link, 'netns', host]);
  must(['ip', '-n', ns.lan, 'link', 'set', port, 'master', 'br0', 'up']);
  must(['ip', '-n', host, 'link', 'set', link, 'address', mac, 'up']);
  must(['ip', '-n', host, 'link', 'set', 'lo', 'up']);
  // nodad: the addresses are usable at once instead of after duplicate address detection.
  for (const a of addrs) must(['ip', '-n', host, 'addr', 'add', a, 'dev', link, 'nodad']);
}

beforeAll(async () => {
  for (const n of Object.values(ns)) must(['ip', 'netns', 'add', n]);
  must(['ip', '-n', ns.lan, 'link', 'add', 'br0', 'type', 'bridge']);
  must(['ip', '-n', ns.lan, 'link', 'set', 'br0', 'up']);
  plug(ns.srv, '52:54:00:15:6a:fe', 'p-srv', [`${SERVER}/64`]);
  plug(ns.node, NODE_MAC, 'p-node', [`${NODE_DHCP}/64`, `${NODE_SLAAC}/64`, `${NODE_PRIVACY}/64`]);
  plug(ns.other, OTHER_MAC, 'p-other', [`${OTHER_ADDR}/64`, `${OTHER_FOREIGN}/64`]);
  // The foreign /64 is reachable only through the link, as if routed by the other host itself.
  must(['ip', '-n', ns.srv, 'route', 'add', 'fd80:2a:15:7::/64', 'dev', 'eth0']);
  const nodes = deployingNodes([{ mac: NODE_MAC, ip: NODE_DHCP } as never], { osystem: 'debian', release: 'bookworm' });
  const d = writeApplianceDir('edgeboot-v6ans-', { nodes, config: { metadata_url: 'http://region.test:5240/MAAS/metadata/' } }, {
    http: { port: 5248, listen: '::' },
    tftp: { enabled: false },
  });
  dir = d.dir;
  server = spawn('ip', ['netns', 'exec', ns.srv, process.execPath, cli, 'serve', '-c', d.configPath], { stdio: ['ignore', 'ignore', 'pipe'] });
  const until = Date.now() + 20_000;
  while (Date.now() < until) {
    if (curlFrom(ns.node, NODE_DHCP, `http://[${SERVER}]:5248/healthz`).status === 200) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error('the appliance did not answer on IPv6 within 20 s');
}, 40_000);

afterAll(() => {
  if (server?.pid) {
    try {
      process.kill(server.pid, 'SIGTERM');
    } catch {
      /* already gone */
    }
  }
  for (const n of Object.values(ns)) sh(['ip', 'netns', 'del', n]);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('security: answer-file URLs on IPv6', () => {
  let answer = '';

  it('the node script names the appliance by its bracketed IPv6 address and carries a signed answer URL', () => {
    const res = curlFrom(ns.node, NODE_DHCP, `http://[${SERVER}]:5248/ipxe/node/${NODE_MAC.replace(/:/g, '-')}`);
    expect(res.status).toBe(200);
    expect(res.body).toContain(`http://[${SERVER}]:5248/`);
    expect(res.body).not.toMatch(new RegExp(`http://${SERVER.replace(/:/g, ':')}:`));
    const m = /url=(http:\/\/\[[^\]]+\]:5248\/answers\/\S+\/preseed)/.exec(res.body);
    expect(m, res.body).toBeTruthy();
    answer = m![1]!;
  });

  it('is accepted from the address it was issued to', () => {
    expect(curlFrom(ns.node, NODE_DHCP, answer).status).toBe(200);
  });

  it("is accepted from the node's SLAAC address (the MAC's EUI-64 in the same /64)", () => {
    expect(curlFrom(ns.node, NODE_SLAAC, answer).status).toBe(200);
  });

  it("is accepted from the node's privacy address (the neighbour table maps it to the node's MAC)", () => {
    expect(curlFrom(ns.node, NODE_PRIVACY, answer).status).toBe(200);
  });

  it('is refused from another host in the same /64, in one sentence', () => {
    const res = curlFrom(ns.other, OTHER_ADDR, answer);
    expect(res.status).toBe(403);
    expect(res.body).toMatch(/issued to another IP address/);
  });

  it("is refused from another host using the node's interface identifier in another /64", () => {
    expect(curlFrom(ns.other, OTHER_FOREIGN, answer).status).toBe(403);
  });
});
