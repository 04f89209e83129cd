import { discoverInterfaces } from '../net/interfaces.js';

/** `edgeboot interfaces`: every address with link facts, as a table or JSON. */
export async function runInterfaces(json: boolean): Promise<number> {
  const report = await discoverInterfaces();
  if (json) {
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    return 0;
  }
  const link = new Map(report.links.map((l) => [l.iface, l]));
  const rows = report.addresses.map((a) => {
    const l = link.get(a.iface);
    return [a.iface, `${a.address}/${a.prefix}`, a.family, a.mac, l?.operstate ?? '?', l?.mtu ? String(l.mtu) : '?', a.internal ? 'loopback' : ''];
  });
  const head = ['IFACE', 'ADDRESS', 'FAMILY', 'MAC', 'STATE', 'MTU', ''];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  for (const r of [head, ...rows]) process.stdout.write(`${r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()}\n`);
  return 0;
}
