import type { BootPlan } from './boot-plan.js';

/** Options shared by the three generators. */
export interface GenerateOptions {
  /** Absolute path of the lease hook executable; omit to leave the hook unwired. */
  hookPath?: string;
  /** Leading hook arguments (`--socket=…`, `--secret-file=…`); only ISC's execute() can pass arguments. */
  hookArgs?: string[];
  /** Header comment lines (without the comment marker). */
  header?: string[];
}

/** The dnsmasq tag set for clients whose option 93 is `code`; the lease hook reads it back from DNSMASQ_TAGS. */
export function dnsmasqArchTag(code: number): string {
  return `edgeboot-arch-${code}`;
}

/** The tag of clients that are already iPXE. */
export const DNSMASQ_IPXE_TAG = 'edgeboot-ipxe';

/** The tag of UEFI HTTP Boot firmware (option 60 `HTTPClient…`): the only non-iPXE clients that may get a URL. */
export const DNSMASQ_HTTPCLIENT_TAG = 'edgeboot-httpclient';

/**
 * dnsmasq lines (dnsmasq(8): dhcp-match, dhcp-userclass, dhcp-boot, dhcp-option-force, dhcp-script)
 * for a plan. Every arch rule excludes iPXE clients, so no two dhcp-boot lines can match one client.
 */
export function generateDnsmasq(plan: BootPlan, o: GenerateOptions = {}): string {
  const lines: string[] = [...(o.header ?? []).map((h) => `# ${h}`)];
  for (const n of plan.notes) lines.push(`# ${n}`);
  lines.push(
    '',
    '# Clients that are already iPXE (user class "iPXE", RFC 3004; or iPXE\'s option 175).',
    `dhcp-userclass=set:${DNSMASQ_IPXE_TAG},iPXE`,
    `dhcp-match=set:${DNSMASQ_IPXE_TAG},175`,
    '',
    '# UEFI HTTP Boot firmware (option 60 "HTTPClient…", UEFI 2.5 §24.7.2). Only iPXE and these get a URL:',
    '# d-i and other installers read any boot file name containing "://" as their preseed URL.',
    `dhcp-vendorclass=set:${DNSMASQ_HTTPCLIENT_TAG},HTTPClient`,
    '',
    '# Client system architecture, option 93 (RFC 4578 §2.1).',
  );
  const arches = [...new Set(plan.rules.flatMap((r) => (r.match.kind === 'arch' ? r.match.arches : [])))];
  for (const a of arches) lines.push(`dhcp-match=set:${dnsmasqArchTag(a)},option:client-arch,${a}`);
  lines.push('');
  for (const r of plan.rules) {
    if (r.match.kind === 'ipxe') {
      lines.push(`# ${r.name}: the HTTP entry script, so a chainloaded iPXE never loops back to TFTP.`);
      lines.push(`dhcp-boot=tag:${DNSMASQ_IPXE_TAG},${r.filename},,${plan.serverAddress}`);
      continue;
    }
    lines.push(`# ${r.name}: option 93 = ${r.match.arches.join(' or ')}${r.httpClient ? ' (UEFI HTTP boot)' : ''}.`);
    for (const a of r.match.arches) {
      const tags = `tag:!${DNSMASQ_IPXE_TAG},tag:${dnsmasqArchTag(a)}${r.httpClient ? `,tag:${DNSMASQ_HTTPCLIENT_TAG}` : ''}`;
      lines.push(`dhcp-boot=${tags},${r.filename},,${plan.serverAddress}`);
      // UEFI 2.5 §24.7.2.1: HTTP boot firmware ignores offers whose option 60 is not HTTPClient.
      if (r.httpClient) lines.push(`dhcp-option-force=${tags},option:vendor-class,HTTPClient`);
    }
  }
  if (o.hookPath) {
    lines.push('', '# Lease events go to edgeboot (MAC, IP, arch via the tags above, vendor and user class).', `dhcp-script=${o.hookPath}`);
  }
  return `${lines.join('\n')}\n`;
}
