/**
 * DHCPv4 option codes edgeboot reads or writes (RFC 2132, RFC 3004, RFC 4578, RFC 3396, iPXE's 175).
 */
export const Opt = {
  pad: 0,
  subnetMask: 1,
  router: 3,
  hostName: 12,
  vendorSpecific: 43,
  requestedIp: 50,
  leaseTime: 51,
  overload: 52,
  messageType: 53,
  serverId: 54,
  parameterList: 55,
  maxMessageSize: 57,
  vendorClass: 60,
  clientId: 61,
  tftpServerName: 66,
  bootfileName: 67,
  userClass: 77,
  clientArch: 93,
  clientNdi: 94,
  clientUuid: 97,
  ipxeEncap: 175,
  end: 255,
} as const;

/** DHCP message types, option 53 (RFC 2132 §9.6). */
export const MessageType = {
  discover: 1,
  offer: 2,
  request: 3,
  decline: 4,
  ack: 5,
  nak: 6,
  release: 7,
  inform: 8,
} as const;

/** The name of a message type number, for logs (`type-N` for unknown values). */
export function messageTypeName(type: number | undefined): string {
  const hit = Object.entries(MessageType).find(([, v]) => v === type);
  return hit ? hit[0] : `type-${type ?? 'none'}`;
}

/** PXE vendor options carried inside option 43 when option 60 is `PXEClient` (PXE 2.1 §2.4, Table 2-1). */
export const PxeOpt = {
  discoveryControl: 6,
  bootItem: 71,
} as const;

/** PXE_DISCOVERY_CONTROL bit 3: use the boot file named in this packet, skip boot-server discovery (PXE 2.1 §2.4). */
export const PXE_USE_BOOTFILE = 0x08;

/** What a client architecture (option 93) boots, as edgeboot groups them. */
export type ArchFamily = 'bios' | 'efi-ia32' | 'efi-x64' | 'efi-arm32' | 'efi-arm64';

/** One client-system-architecture value: its IANA name, its family, and whether it is UEFI HTTP boot. */
export interface ArchInfo {
  code: number;
  name: string;
  family: ArchFamily;
  http: boolean;
}

/**
 * The Processor Architecture Types registry (RFC 4578 §2.1, IANA "Processor Architecture Types",
 * HTTP-boot codes 15–19 from UEFI 2.5 §24.7). Codes 1–5, 8, 12–14, 17 name machines edgeboot
 * has no loader for, so they are left out and such clients get no boot file from the rules.
 */
export const ARCHES: readonly ArchInfo[] = [
  { code: 0, name: 'bios', family: 'bios', http: false },
  { code: 6, name: 'efi-ia32', family: 'efi-ia32', http: false },
  { code: 7, name: 'efi-bc', family: 'efi-x64', http: false },
  { code: 9, name: 'efi-x64', family: 'efi-x64', http: false },
  { code: 10, name: 'efi-arm32', family: 'efi-arm32', http: false },
  { code: 11, name: 'efi-arm64', family: 'efi-arm64', http: false },
  { code: 15, name: 'http-ia32', family: 'efi-ia32', http: true },
  { code: 16, name: 'http-x64', family: 'efi-x64', http: true },
  { code: 18, name: 'http-arm32', family: 'efi-arm32', http: true },
  { code: 19, name: 'http-arm64', family: 'efi-arm64', http: true },
];

/** The registry entry for an option 93 value, if edgeboot knows it. */
export function archInfo(code: number | undefined): ArchInfo | undefined {
  return code === undefined ? undefined : ARCHES.find((a) => a.code === code);
}

/** A short, stable name for an option 93 value (`bios`, `efi-x64`, … or `arch-N`), as recorded on leases. */
export function archName(code: number | undefined): string | undefined {
  if (code === undefined) return undefined;
  return archInfo(code)?.name ?? `arch-${code}`;
}
