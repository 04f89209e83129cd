import { type MacAddress, tryParseMac } from '../core/mac.js';
import { type SystemUuid, tryParseUuid } from '../core/uuid.js';
import { type DhcpPacket, hardwareAddress } from './dhcp-packet.js';
import { Opt } from './dhcp-options.js';

/** The network interface a PXE client boots through, option 94 (RFC 4578 §2.2). */
export interface ClientNdi {
  type: number;
  major: number;
  minor: number;
}

/** What a DHCP client says about itself, read once from its options. Malformed options read as absent. */
export interface ClientFacts {
  messageType?: number;
  mac?: MacAddress;
  parameterList: number[];
  maxMessageSize?: number;
  vendorClass?: string;
  clientId?: Buffer;
  userClasses: string[];
  /** Every option 93 value, in the client's order of preference (RFC 4578 §2.1). */
  arches: number[];
  ndi?: ClientNdi;
  uuid?: SystemUuid;
  /** The raw option 97 value, echoed back by a proxyDHCP server (PXE 2.1 §2.2.5). */
  uuidRaw?: Buffer;
  /** Option 175 (iPXE's encapsulated options) is present. */
  hasIpxeEncap: boolean;
}

/**
 * Split a user class (option 77). RFC 3004 §3 frames each class with a length byte, but iPXE sends
 * the bare string `iPXE`; when the framing does not account for every byte, the whole value is one class.
 */
export function parseUserClasses(data: Buffer | undefined): string[] {
  if (!data || data.length === 0) return [];
  const out: string[] = [];
  let i = 0;
  while (i < data.length) {
    const len = data[i]!;
    if (len === 0 || i + 1 + len > data.length) return [data.toString('latin1')];
    out.push(data.subarray(i + 1, i + 1 + len).toString('latin1'));
    i += 1 + len;
  }
  return out;
}

/**
 * Option 97: a type byte (0) and a 16-byte GUID whose first three fields are little-endian, as in
 * EFI and SMBIOS 2.6 (RFC 4578 §2.3); returned in the usual big-endian text form.
 */
export function parseClientUuid(data: Buffer | undefined): SystemUuid | undefined {
  if (data?.length !== 17 || data[0] !== 0) return undefined;
  const g = data.subarray(1);
  const hex = (b: Buffer) => b.toString('hex');
  const rev = (b: Buffer) => hex(Buffer.from(b).reverse());
  return tryParseUuid(rev(g.subarray(0, 4)) + rev(g.subarray(4, 6)) + rev(g.subarray(6, 8)) + hex(g.subarray(8)));
}

/** Read the facts edgeboot cares about from a decoded packet (RFC 2132, RFC 3004, RFC 4578). */
export function clientFacts(p: DhcpPacket): ClientFacts {
  const o = p.options;
  const type = o.get(Opt.messageType);
  const max = o.get(Opt.maxMessageSize);
  const arch = o.get(Opt.clientArch);
  const ndi = o.get(Opt.clientNdi);
  const arches: number[] = [];
  if (arch && arch.length % 2 === 0) for (let i = 0; i < arch.length; i += 2) arches.push(arch.readUInt16BE(i));
  const vendor = o.get(Opt.vendorClass);
  const uuidRaw = o.get(Opt.clientUuid);
  return {
    messageType: type?.length === 1 ? type[0] : undefined,
    mac: p.htype === 1 && p.hlen === 6 ? tryParseMac(hardwareAddress(p)) : undefined,
    parameterList: [...(o.get(Opt.parameterList) ?? [])],
    maxMessageSize: max?.length === 2 ? max.readUInt16BE(0) : undefined,
    vendorClass: vendor?.length ? vendor.toString('latin1') : undefined,
    clientId: o.get(Opt.clientId),
    userClasses: parseUserClasses(o.get(Opt.userClass)),
    arches,
    ndi: ndi?.length === 3 ? { type: ndi[0]!, major: ndi[1]!, minor: ndi[2]! } : undefined,
    uuid: parseClientUuid(uuidRaw),
    uuidRaw,
    hasIpxeEncap: o.has(Opt.ipxeEncap),
  };
}

/** The kind of network-boot client, from option 60's prefix (PXE 2.1 §2.2.2, UEFI 2.5 §24.7.2). */
export function bootClientKind(f: ClientFacts): 'pxe' | 'http' | undefined {
  if (f.vendorClass?.startsWith('PXEClient')) return 'pxe';
  if (f.vendorClass?.startsWith('HTTPClient')) return 'http';
  return undefined;
}

/** True for a client already running iPXE: user class `iPXE` or option 175 present. */
export function isIpxe(f: ClientFacts): boolean {
  return f.hasIpxeEncap || f.userClasses.includes('iPXE');
}
