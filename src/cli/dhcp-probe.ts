import { EdgebootError } from '../core/errors.js';
import { probeDhcp } from '../dhcp-hooks/dhcp-probe.js';
import { listAddresses } from '../net/interfaces.js';

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

function intOption(v: unknown, name: string, min: number, max: number): number | undefined {
  const s = str(v);
  if (s === undefined) return undefined;
  const n = Number(s);
  if (!Number.isInteger(n) || n < min || n > max) throw new EdgebootError('E_DHCP', `--${name} must be a whole number from ${min} to ${max}`);
  return n;
}

/**
 * `edgeboot dhcp-probe --interface IF`: broadcast a PXE DISCOVER and list every server that offers,
 * with its next-server and file name. Exit 0 with one offer, 3 with none, 4 with more than one.
 */
export async function runDhcpProbe(v: Record<string, unknown>): Promise<number> {
  const iface = str(v.interface);
  if (!iface) throw new EdgebootError('E_DHCP', '--interface is required: the probe broadcasts out of one interface');
  const seconds = intOption(v.timeout, 'timeout', 1, 60) ?? 5;
  const offers = await probeDhcp({ iface, addresses: listAddresses(), mac: str(v.mac), arch: intOption(v.arch, 'arch', 0, 65535), timeoutMs: seconds * 1000 });
  offers.sort((a, b) => a.server.localeCompare(b.server) || Number(a.proxy) - Number(b.proxy));
  if (v.json) {
    process.stdout.write(`${JSON.stringify(offers, null, 2)}\n`);
  } else if (offers.length === 0) {
    process.stdout.write(`No DHCP server answered on ${iface} within ${seconds} s.\n`);
  } else {
    const head = ['SERVER', 'KIND', 'OFFERED', 'NEXT-SERVER', 'FILENAME'];
    const rows = offers.map((o) => [o.server, o.proxy ? 'proxyDHCP' : 'DHCP', o.offeredIp, o.nextServer, o.filename || '-']);
    const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
    for (const r of [head, ...rows]) process.stdout.write(`${r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()}\n`);
    const full = offers.filter((o) => !o.proxy);
    if (full.length > 1) process.stdout.write(`Warning: ${full.length} DHCP servers hand out addresses on ${iface}; clients may boot from either.\n`);
  }
  if (offers.length === 0) return 3;
  return offers.length > 1 ? 4 : 0;
}
