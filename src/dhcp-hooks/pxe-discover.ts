import { randomBytes } from 'node:crypto';
import type { MacAddress } from '../core/mac.js';
import { type DhcpPacket, FLAG_BROADCAST } from './dhcp-packet.js';
import { MessageType, Opt } from './dhcp-options.js';

/** What to put into a PXE DHCPDISCOVER. */
export interface PxeDiscoverInput {
  mac: MacAddress;
  xid: number;
  /** Option 93 value; default 0 (BIOS). */
  arch?: number;
  /** Option 97 GUID bytes (16); random when omitted. */
  guid?: Buffer;
  userClass?: string;
}

/** Option 60 as a PXE 2.1 client writes it: `PXEClient:Arch:xxxxx:UNDI:yyyzzz` (PXE 2.1 §2.2.2). */
export function pxeVendorClass(arch: number): string {
  return `PXEClient:Arch:${String(arch).padStart(5, '0')}:UNDI:002001`;
}

/**
 * A DHCPDISCOVER shaped like a PXE ROM's (PXE 2.1 §2.2.1): broadcast flag, options 53, 55, 57, 60, 93,
 * 94 and 97, so DHCP and proxyDHCP servers treat it as a boot request.
 */
export function buildPxeDiscover(input: PxeDiscoverInput): DhcpPacket {
  const arch = input.arch ?? 0;
  const chaddr = Buffer.alloc(16);
  Buffer.from(input.mac.replace(/:/g, ''), 'hex').copy(chaddr);
  const options = new Map<number, Buffer>();
  options.set(Opt.messageType, Buffer.from([MessageType.discover]));
  options.set(Opt.maxMessageSize, Buffer.from([0x05, 0xc0]));
  options.set(Opt.parameterList, Buffer.from([1, 3, 6, 12, 15, 28, 43, 60, 66, 67, 97, 128, 129, 130, 131, 132, 133, 134, 135, 175]));
  options.set(Opt.vendorClass, Buffer.from(pxeVendorClass(arch)));
  options.set(Opt.clientArch, Buffer.from([arch >> 8, arch & 0xff]));
  options.set(Opt.clientNdi, Buffer.from([1, 2, 1]));
  options.set(Opt.clientUuid, Buffer.concat([Buffer.from([0]), input.guid ?? randomBytes(16)]));
  if (input.userClass) options.set(Opt.userClass, Buffer.from(input.userClass));
  return {
    op: 1,
    htype: 1,
    hlen: 6,
    hops: 0,
    xid: input.xid >>> 0,
    secs: 4,
    flags: FLAG_BROADCAST,
    ciaddr: '0.0.0.0',
    yiaddr: '0.0.0.0',
    siaddr: '0.0.0.0',
    giaddr: '0.0.0.0',
    chaddr,
    sname: '',
    file: '',
    options,
  };
}
