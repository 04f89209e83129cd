import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// `edgeboot dhcp-config --subnet <remote>` in a namespace whose only way to the remote subnet is a route through a
// relay router: it names edgeboot's address from the kernel's routing table, and the snippet passes dnsmasq --test.

const cli = resolve(import.meta.dirname, '../../../dist/src/cli/edgeboot.js');
const ns = `eb15relay-${randomBytes(3).toString('hex')}`;
let dir: string;
let cfg: string;

function sh(args: string[]): { status: number | null; out: string; err: string } {
  const r = spawnSync(args[0]!, args.slice(1), { encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, out: r.stdout, err: r.stderr };
}

function inNs(args: string[]) {
  return sh(['ip', 'netns', 'exec', ns, ...args]);
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'eb-relaycfg-'));
  writeFileSync(join(dir, 'inv.yaml'), 'nodes: []\n');
  cfg = join(dir, 'edgeboot.yaml');
  writeFileSync(cfg, `inventory: ${join(dir, 'inv.yaml')}\nboot_root: ${dir}\nloader_dirs: [${dir}]\n`);
  for (const c of [
    ['ip', 'netns', 'add', ns],
    ['ip', '-n', ns, 'link', 'set', 'lo', 'up'],
    ['ip', '-n', ns, 'link', 'add', 'lan0', 'type', 'veth', 'peer', 'name', 'lan0p'],
    ['ip', '-n', ns, 'link', 'set', 'lan0p', 'up'],
    ['ip', '-n', ns, 'addr', 'add', '10.231.152.1/24', 'dev', 'lan0'],
    ['ip', '-n', ns, 'link', 'set', 'lan0', 'up'],
    ['ip', '-n', ns, 'link', 'add', 'mgmt0', 'type', 'veth', 'peer', 'name', 'mgmt0p'],
    ['ip', '-n', ns, 'link', 'set', 'mgmt0p', 'up'],
    ['ip', '-n', ns, 'addr', 'add', '10.231.154.1/24', 'dev', 'mgmt0'],
    ['ip', '-n', ns, 'link', 'set', 'mgmt0', 'up'],
    // veth pairs (the dummy module may be absent) give the links carrier. The remote rack 10.231.153.0/24 sits behind the relay router 10.231.152.254.
    ['ip', '-n', ns, 'route', 'add', '10.231.153.0/24', 'via', '10.231.152.254'],
  ]) {
    const r = sh(c);
    if (r.status !== 0) throw new Error(`${c.join(' ')}: ${r.err}`);
  }
});

afterAll(() => {
  sh(['ip', 'netns', 'del', ns]);
  rmSync(dir, { recursive: true, force: true });
});

describe('dhcp-config --subnet for a relayed subnet', () => {
  it('names the address the route to the remote subnet leaves from, and the snippet passes dnsmasq --test', () => {
    const r = inNs([process.execPath, cli, 'dhcp-config', '--server', 'dnsmasq', '--subnet', '10.231.153.0/24', '--no-hook', '-c', cfg]);
    expect(r.status, r.err).toBe(0);
    expect(r.out).toContain('next-server 10.231.152.1');
    expect(r.out).toContain('10.231.153.0/24 is relayed: edgeboot has no address in it and reaches it from 10.231.152.1 via 10.231.152.254 on lan0');
    expect(r.out).toMatch(/http:\/\/10\.231\.152\.1:5248\/boot\.ipxe/);
    expect(r.err).toContain('(from the routing table)');
    const file = join(dir, 'relay.dnsmasq');
    writeFileSync(file, r.out);
    const t = sh(['dnsmasq', '--test', `--conf-file=${file}`]);
    expect(t.status, t.err).toBe(0);
  });

  it('still picks the local address for a subnet edgeboot is on', () => {
    const r = inNs([process.execPath, cli, 'dhcp-config', '--server', 'kea', '--subnet', '10.231.154.0/24', '--no-hook', '-c', cfg]);
    expect(r.status, r.err).toBe(0);
    expect(r.out).toContain('next-server 10.231.154.1');
    expect(r.out).not.toContain('is relayed');
  });

  it('refuses a subnet no route leads to, in one sentence', () => {
    sh(['ip', '-n', ns, 'route', 'del', 'default']);
    const r = inNs([process.execPath, cli, 'dhcp-config', '--server', 'dnsmasq', '--subnet', '172.31.9.0/24', '--no-hook', '-c', cfg]);
    expect(r.status).toBe(1);
    expect(r.err).toMatch(/^edgeboot: no local IPv4 address lies in 172\.31\.9\.0\/24 and no route leads there from one \(no route\); candidates: /m);
  });
});
