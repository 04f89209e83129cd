import { EdgebootError } from '../core/errors.js';
import { ipv4ToNumber, isIpv4 } from '../core/ip.js';
import { type ClientFacts, isIpxe } from './client-facts.js';

/** Which BIOS loader is handed out over TFTP. */
export type BiosLoader = 'undionly.kpxe' | 'pxelinux.0';
/** Which x86-64 UEFI iPXE build is handed out. */
export type UefiLoader = 'snponly.efi' | 'ipxe.efi';

/** Everything a boot plan is made from: edgeboot's address on the clients' subnet and the loader choices. */
export interface PlanInput {
  /** next-server / siaddr: edgeboot's address facing the clients. */
  serverAddress: string;
  httpPort: number;
  bios: BiosLoader;
  uefi: UefiLoader;
  /** The arm64 UEFI loader's file name, when one is installed. */
  arm64Loader?: string;
  /** Serve shim (which then loads GRUB) to UEFI clients instead of iPXE. */
  secureBoot: boolean;
  /** Whether a loader file is installed; rules for missing arm64 files are left out. Default: everything is. */
  installed?: (name: string) => boolean;
}

/** How a rule recognises its clients. */
export type RuleMatch = { kind: 'ipxe' } | { kind: 'arch'; arches: number[] };

/** One line of the boot decision: which clients get which file. */
export interface BootRule {
  /** Short stable name, used for tags and class names (`ipxe`, `bios`, `efi-x64`, `http-x64`, …). */
  name: string;
  match: RuleMatch;
  /** A TFTP file name, or an absolute `http://` URL for iPXE and UEFI HTTP boot clients. */
  filename: string;
  /** UEFI HTTP boot: the reply must carry option 60 `HTTPClient` (UEFI 2.5 §24.7.2.1). */
  httpClient: boolean;
}

/** The whole boot decision, shared by the three config generators and the proxyDHCP responder. */
export interface BootPlan {
  serverAddress: string;
  httpPort: number;
  httpBase: string;
  /** Rules in priority order; their matches never overlap (iPXE clients are excluded from arch rules). */
  rules: BootRule[];
  /** Sentences for the operator: architectures left without a loader, and why. */
  notes: string[];
}

/** x86-64 UEFI (7 EFI BC, 9 EFI x86-64) and its HTTP boot code 16 (RFC 4578 §2.1, UEFI 2.5 §24.7). */
export const X64_PXE_ARCHES = [7, 9];
/** UEFI HTTP boot on x86-64. */
export const X64_HTTP_ARCHES = [16];
/** arm64 UEFI over PXE (11) and HTTP boot (19). */
export const ARM64_PXE_ARCHES = [11];
export const ARM64_HTTP_ARCHES = [19];

/** Reject addresses a client could never reach edgeboot at: unspecified, loopback, broadcast, multicast. */
export function checkServerAddress(address: string): string {
  if (!isIpv4(address)) throw new EdgebootError('E_DHCP', `next-server must be an IPv4 address; "${address}" is not one`);
  const n = ipv4ToNumber(address);
  const first = n >>> 24;
  if (n === 0) throw new EdgebootError('E_DHCP', 'next-server 0.0.0.0 would send clients nowhere; pick the interface or subnet that faces them');
  if (first === 127) throw new EdgebootError('E_DHCP', `next-server ${address} is a loopback address that no client can reach`);
  if (first >= 224) throw new EdgebootError('E_DHCP', `next-server ${address} is a multicast or broadcast address`);
  return address;
}

/** Build the boot plan: iPXE clients go to the HTTP entry script, everyone else to a loader for its architecture. */
export function planBoot(input: PlanInput): BootPlan {
  const server = checkServerAddress(input.serverAddress);
  const httpBase = `http://${server}:${input.httpPort}`;
  const installed = input.installed ?? (() => true);
  const x64 = input.secureBoot ? 'shimx64.efi' : input.uefi;
  const rules: BootRule[] = [
    // A chainloaded iPXE asks again; sending it to the HTTP script instead of TFTP breaks the loop.
    { name: 'ipxe', match: { kind: 'ipxe' }, filename: `${httpBase}/boot.ipxe`, httpClient: false },
    { name: 'bios', match: { kind: 'arch', arches: [0] }, filename: input.bios, httpClient: false },
    { name: 'efi-x64', match: { kind: 'arch', arches: X64_PXE_ARCHES }, filename: x64, httpClient: false },
    { name: 'http-x64', match: { kind: 'arch', arches: X64_HTTP_ARCHES }, filename: `${httpBase}/${x64}`, httpClient: true },
  ];
  const notes: string[] = [
    'Client architectures 6 and 15 (32-bit x86 UEFI) and 10 and 18 (32-bit ARM UEFI) get no boot file: no loader for them is packaged.',
  ];
  const arm64 = input.secureBoot ? 'shimaa64.efi' : input.arm64Loader;
  if (arm64 && installed(arm64)) {
    rules.push(
      { name: 'efi-arm64', match: { kind: 'arch', arches: ARM64_PXE_ARCHES }, filename: arm64, httpClient: false },
      { name: 'http-arm64', match: { kind: 'arch', arches: ARM64_HTTP_ARCHES }, filename: `${httpBase}/${arm64}`, httpClient: true },
    );
  } else {
    const why = arm64 ? `${arm64} is not installed (run "edgeboot loaders fetch --arch arm64")` : 'no arm64 loader is configured (dhcp.arm64_loader)';
    notes.push(`Client architectures 11 and 19 (arm64 UEFI) get no boot file: ${why}.`);
  }
  if (input.secureBoot) notes.push('Secure Boot: UEFI clients get shim, which loads grubx64.efi / grubaa64.efi from the same server.');
  for (const r of rules) {
    if (r.match.kind === 'arch' && !r.filename.startsWith('http') && !installed(r.filename)) {
      notes.push(`${r.filename} (for the ${r.name} rule) is not installed in boot_root or the loader directories.`);
    }
  }
  return { serverAddress: server, httpPort: input.httpPort, httpBase, rules, notes };
}

/** The rule that answers a client: iPXE first, then the first of its option 93 values that has a rule. */
export function chooseRule(plan: BootPlan, facts: ClientFacts): BootRule | undefined {
  if (isIpxe(facts)) return plan.rules.find((r) => r.match.kind === 'ipxe');
  for (const arch of facts.arches) {
    const hit = plan.rules.find((r) => r.match.kind === 'arch' && r.match.arches.includes(arch));
    if (hit) return hit;
  }
  return undefined;
}

/** All arch codes a plan has a rule for. */
export function plannedArches(plan: BootPlan): number[] {
  return plan.rules.flatMap((r) => (r.match.kind === 'arch' ? r.match.arches : []));
}
