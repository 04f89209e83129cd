import { type BootPlan6, classPrefix, EDK2_ENTERPRISE } from './boot-plan6.js';

/** Options of the DHCPv6 generators. */
export interface Generate6Options {
  /** The prefix the clients are on (`fd80:21::/64`); with it, dnsmasq's RA and range lines are suggested. */
  subnet?: string;
  header?: string[];
}

/**
 * dnsmasq lines for DHCPv6 netboot (dnsmasq(8): dhcp-vendorclass with enterprise:, dhcp-userclass,
 * dhcp-option option6:bootfile-url, dhcp-option-force option6:16).
 *
 * Option 16 in the reply: EDK2's HttpBootDxe takes an offer as HTTP Boot only when the option's data holds
 * "HTTPClient" at byte 6 — after a 4-byte enterprise number and a 2-byte length, the RFC 8415 §21.16 form.
 * dnsmasq writes option6:16 values as a list of length-prefixed strings with no enterprise number, so a
 * plain `option6:16,EB,HTTPClient` puts "Client" at byte 6 and OVMF cancels. Two strings, the first of exactly
 * two characters, give the RFC layout: `00 02 'E' 'B'` reads as the enterprise number 0x00024542, then
 * `00 0a "HTTPClient"` is the one vendor-class-data item.
 */
export function generateDnsmasq6(plan: BootPlan6, o: Generate6Options = {}): string {
  const lines: string[] = [...(o.header ?? []).map((h) => `# ${h}`)];
  for (const n of plan.notes) lines.push(`# ${n}`);
  lines.push('');
  if (o.subnet) {
    const base = o.subnet.split('/')[0]!.replace(/::$/, ':');
    lines.push(
      `# Addresses and router advertisements for ${o.subnet}, if this dnsmasq is the site's DHCPv6 server`,
      '# (EDK2 HTTP Boot wants a stateful address: an offer without IA_NA is only a proxy offer; "slaac" also sets the',
      "# prefix's A flag, so an installer's kernel configures itself from the router advertisement).",
      'enable-ra',
      `dhcp-range=${base}:1000,${base}:1fff,slaac,64,12h`,
      '',
    );
  }
  lines.push('# Clients that are already iPXE (DHCPv6 user class "iPXE", RFC 8415 §21.15).', 'dhcp-userclass=set:edgeboot6-ipxe,iPXE', '');
  lines.push(`# UEFI firmware by vendor class (option 16, enterprise ${EDK2_ENTERPRISE} as EDK2 sends it) and architecture.`);
  for (const r of plan.rules) {
    if (r.match.kind === 'class') lines.push(`dhcp-vendorclass=set:edgeboot6-${r.name},enterprise:${EDK2_ENTERPRISE},${classPrefix(r.match)}`);
  }
  lines.push('');
  for (const r of plan.rules) {
    if (r.match.kind === 'ipxe') {
      lines.push('# ipxe: the HTTP entry script, so a chainloaded iPXE never loops back to the loader.');
      lines.push(`dhcp-option=tag:edgeboot6-ipxe,option6:bootfile-url,${r.url}`);
      continue;
    }
    const tags = `tag:!edgeboot6-ipxe,tag:edgeboot6-${r.name}`;
    lines.push(`# ${r.name}: ${classPrefix(r.match)}.`);
    lines.push(`dhcp-option=${tags},option6:bootfile-url,${r.url}`);
    // See the function comment: "EB" makes the RFC layout EDK2 checks (HTTP Boot ignores the enterprise number).
    if (r.match.vendor === 'HTTPClient') lines.push(`dhcp-option-force=${tags},option6:16,EB,HTTPClient`);
  }
  return `${lines.join('\n')}\n`;
}
