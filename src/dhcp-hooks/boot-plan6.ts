import { EdgebootError } from '../core/errors.js';
import { hasZoneId, httpBase, isIpv6, isLinkLocal6, urlHost } from '../core/ip.js';
import type { UefiLoader } from './boot-plan.js';

// The DHCPv6 boot decision (RFC 5970): who gets which boot file URL (option 59). DHCPv6 has no next-server
// and no file field; the URL carries the server. Firmware is told apart by its vendor class (option 16,
// enterprise 343 as EDK2 sends it): "HTTPClient:Arch:000NN…" for UEFI HTTP Boot, "PXEClient:Arch:000NN…"
// for PXEv6; iPXE by its user class (option 15) "iPXE".

/** Everything a DHCPv6 plan is made from. */
export interface Plan6Input {
  /** edgeboot's global or unique-local IPv6 address on the clients' prefix. */
  serverAddress: string;
  httpPort: number;
  uefi: UefiLoader;
  arm64Loader?: string;
  secureBoot: boolean;
  installed?: (name: string) => boolean;
}

/** How a DHCPv6 rule recognises its clients. */
export type Rule6Match = { kind: 'ipxe' } | { kind: 'class'; vendor: 'HTTPClient' | 'PXEClient'; arch: number };

/** One DHCPv6 boot rule. */
export interface Boot6Rule {
  name: string;
  match: Rule6Match;
  /** Option 59: `http://[…]:port/…` for HTTP Boot and iPXE, `tftp://[…]/…` for PXEv6. */
  url: string;
}

/** The DHCPv6 boot decision shared by the dnsmasq and Kea generators. */
export interface BootPlan6 {
  serverAddress: string;
  rules: Boot6Rule[];
  notes: string[];
}

/** EDK2's enterprise number in option 16 (HttpBootDxe, UefiPxeBcDxe). */
export const EDK2_ENTERPRISE = 343;

/** Refuse an IPv6 server address no client could use in a boot URL. */
export function checkServerAddress6(address: string): string {
  if (hasZoneId(address)) throw new EdgebootError('E_DHCP', `the server address ${address} carries a zone id; a boot URL needs a global or unique-local address`);
  if (!isIpv6(address)) throw new EdgebootError('E_DHCP', `"${address}" is not an IPv6 address`);
  if (address === '::' || address === '::1') throw new EdgebootError('E_DHCP', `${address} is not an address a client can reach`);
  if (isLinkLocal6(address)) throw new EdgebootError('E_DHCP', `${address} is link-local: firmware cannot use it in a boot URL without a zone; pick the interface's global or unique-local address`);
  if (address.toLowerCase().startsWith('ff')) throw new EdgebootError('E_DHCP', `${address} is a multicast address`);
  return address;
}

/** Build the DHCPv6 plan: iPXE gets the entry script, firmware a loader URL for its architecture. */
export function planBoot6(input: Plan6Input): BootPlan6 {
  const server = checkServerAddress6(input.serverAddress);
  const http = httpBase(server, input.httpPort);
  const tftp = `tftp://${urlHost(server)}`;
  const installed = input.installed ?? (() => true);
  const x64 = input.secureBoot ? 'shimx64.efi' : input.uefi;
  const rules: Boot6Rule[] = [
    { name: 'ipxe', match: { kind: 'ipxe' }, url: `${http}/boot.ipxe` },
    { name: 'http-x64', match: { kind: 'class', vendor: 'HTTPClient', arch: 16 }, url: `${http}/${x64}` },
    { name: 'pxe6-x64', match: { kind: 'class', vendor: 'PXEClient', arch: 7 }, url: `${tftp}/${x64}` },
    { name: 'pxe6-x64-9', match: { kind: 'class', vendor: 'PXEClient', arch: 9 }, url: `${tftp}/${x64}` },
  ];
  const notes: string[] = [];
  const arm64 = input.secureBoot ? 'shimaa64.efi' : input.arm64Loader;
  if (arm64 && installed(arm64)) {
    rules.push(
      { name: 'http-arm64', match: { kind: 'class', vendor: 'HTTPClient', arch: 19 }, url: `${http}/${arm64}` },
      { name: 'pxe6-arm64', match: { kind: 'class', vendor: 'PXEClient', arch: 11 }, url: `${tftp}/${arm64}` },
    );
  } else {
    notes.push('arm64 UEFI clients (HTTPClient/PXEClient Arch 00019/00011) get no boot file URL: no arm64 loader is installed.');
  }
  return { serverAddress: server, rules, notes };
}

/** The vendor-class prefix a rule matches, as EDK2 spells it (`HTTPClient:Arch:00016`). */
export function classPrefix(m: Extract<Rule6Match, { kind: 'class' }>): string {
  return `${m.vendor}:Arch:${String(m.arch).padStart(5, '0')}`;
}
