import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProbeOffer } from '../../src/dhcp-hooks/dhcp-probe.js';
import { type DhcpLan, createDhcpLan, startDnsmasqOn } from './dhcp-lab.js';
import { edgebootCli } from './lib/paths.js';
import { requireRoot, requireTools } from './lib/process.js';
import { waitFor } from './lib/wait.js';

// `edgeboot dhcp-probe` on a LAN where two dnsmasq servers (a site's and a rogue one) both answer,
// and on a LAN where edgeboot's proxyDHCP answers beside a dnsmasq that only hands out addresses.

let dir: string;

beforeAll(async () => {
  requireRoot();
  requireTools(['dnsmasq', 'ip']);
  dir = await mkdtemp(join(tmpdir(), 'eb-probe-'));
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function probe(lan: DhcpLan): Promise<{ code: number | null; offers: ProbeOffer[]; table: string }> {
  const cli = edgebootCli();
  const json = await lan.exec(lan.client.ns, 'node', [cli, 'dhcp-probe', '--interface', 'br0', '--timeout', '6', '--json'], true);
  const table = await lan.exec(lan.client.ns, 'node', [cli, 'dhcp-probe', '--interface', 'br0', '--timeout', '6'], true);
  return { code: json.code, offers: JSON.parse(json.stdout) as ProbeOffer[], table: table.stdout };
}

describe('edgeboot dhcp-probe with two DHCP servers on the LAN', () => {
  let lan: DhcpLan;
  let r: Awaited<ReturnType<typeof probe>>;

  beforeAll(async () => {
    lan = await createDhcpLan('10.231.60', 2);
    const [site, rogue] = lan.servers as [(typeof lan.servers)[0], (typeof lan.servers)[0]];
    await startDnsmasqOn(lan, site, dir, `dhcp-boot=undionly.kpxe,,${site.address}\n`);
    await startDnsmasqOn(lan, rogue, dir, 'dhcp-boot=rogue.efi,,10.99.99.99\n');
    r = await probe(lan);
  }, 60_000);

  afterAll(async () => {
    await lan?.teardown();
  });

  it('lists both servers', () => {
    expect(r.offers.map((o) => o.server)).toEqual(['10.231.60.1', '10.231.60.2']);
  });

  it('shows what each offers: next-server and file name', () => {
    expect(r.offers.map((o) => [o.nextServer, o.filename])).toEqual([
      ['10.231.60.1', 'undionly.kpxe'],
      ['10.99.99.99', 'rogue.efi'],
    ]);
  });

  it('shows the addresses offered (both hand out addresses)', () => {
    expect(r.offers.every((o) => !o.proxy && o.offeredIp.startsWith('10.231.60.'))).toBe(true);
  });

  it('exits 4 when several servers answer', () => {
    expect(r.code).toBe(4);
  });

  it('warns in the table that two servers hand out addresses', () => {
    expect(r.table).toContain('Warning: 2 DHCP servers hand out addresses on br0');
  });
});

describe('edgeboot in proxyDHCP mode beside a dnsmasq that gives addresses only', () => {
  let lan: DhcpLan;
  let r: Awaited<ReturnType<typeof probe>>;

  beforeAll(async () => {
    lan = await createDhcpLan('10.231.61', 1);
    const s = lan.servers[0]!;
    // Both on the same host, as a site would run them: proxyDHCP shares UDP 67 with dnsmasq.
    await startDnsmasqOn(lan, s, dir, '');
    const cfg = join(dir, 'proxy.yaml');
    await writeFile(join(dir, 'inventory.yaml'), 'nodes: []\n');
    await writeFile(
      cfg,
      stringify({
        inventory: join(dir, 'inventory.yaml'),
        boot_root: dir,
        answers: { key_file: join(dir, 'key') },
        tftp: { enabled: false },
        http: { port: 5248 },
        dhcp: { proxy: true, lease_intake: false },
      }),
    );
    const log = join(dir, 'edgeboot-proxy.log');
    lan.spawn(s.ns, 'edgeboot', 'node', [edgebootCli(), 'serve', '--config', cfg], log);
    await waitFor('proxyDHCP to listen', 15_000, async () => /proxyDHCP listening/.test(await readFile(log, 'utf8').catch(() => '')));
    r = await probe(lan);
  }, 60_000);

  afterAll(async () => {
    await lan?.teardown();
  });

  it('lists the DHCP server and the proxyDHCP server', () => {
    expect(r.offers.map((o) => [o.server, o.proxy])).toEqual([['10.231.61.1', false], ['10.231.61.1', true]]);
  });

  it('sees the proxy offer no address but a boot file from edgeboot', () => {
    const p = r.offers.find((o) => o.proxy);
    expect([p?.offeredIp, p?.nextServer, p?.filename, p?.vendorClass]).toEqual(['0.0.0.0', '10.231.61.1', 'undionly.kpxe', 'PXEClient']);
  });

  it('sees dnsmasq give an address and no boot file', () => {
    const d = r.offers.find((o) => !o.proxy);
    expect([d?.offeredIp.startsWith('10.231.61.'), d?.filename]).toEqual([true, '']);
  });
});
