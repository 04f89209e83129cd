import { EdgebootError } from '../core/errors.js';

// DHCPv6 messages (RFC 8415 §8, §21) as far as netboot needs them: the options a boot reply carries
// (59 boot file URL, 16 vendor class, 15 user class, 61 client arch) read and written byte-exact, so a
// generated configuration can be checked against what a real server puts on the wire.

/** DHCPv6 message types used here (RFC 8415 §7.3). */
export const DHCP6_MSG = { solicit: 1, advertise: 2, request: 3, reply: 7, informationRequest: 11 } as const;

/** Option codes used here. */
export const DHCP6_OPT = {
  clientId: 1,
  serverId: 2,
  iaNa: 3,
  oro: 6,
  elapsed: 8,
  statusCode: 13,
  userClass: 15,
  vendorClass: 16,
  bootfileUrl: 59,
  bootfileParam: 60,
  clientArch: 61,
  nii: 62,
} as const;

/** One option as it stands in the message. */
export interface Dhcp6Option {
  code: number;
  data: Buffer;
}

/** A DHCPv6 client/server message: type, transaction id and options in wire order. */
export interface Dhcp6Message {
  type: number;
  transactionId: number;
  options: Dhcp6Option[];
}

/** Parse a client/server DHCPv6 message; a short or overrunning message is one E_DHCP_PACKET sentence. */
export function parseDhcp6(buf: Buffer): Dhcp6Message {
  if (buf.length < 4) throw new EdgebootError('E_DHCP_PACKET', `a DHCPv6 message needs at least 4 bytes, got ${buf.length}`);
  const type = buf[0]!;
  if (type === 12 || type === 13) throw new EdgebootError('E_DHCP_PACKET', 'relay messages (types 12, 13) are not client/server messages');
  return { type, transactionId: buf.readUIntBE(1, 3), options: parseDhcp6Options(buf.subarray(4)) };
}

/** Parse a run of options (a message body, or the inside of IA_NA). */
export function parseDhcp6Options(buf: Buffer): Dhcp6Option[] {
  const out: Dhcp6Option[] = [];
  let at = 0;
  while (at < buf.length) {
    if (at + 4 > buf.length) throw new EdgebootError('E_DHCP_PACKET', `a DHCPv6 option header at byte ${at} runs past the end`);
    const code = buf.readUInt16BE(at);
    const len = buf.readUInt16BE(at + 2);
    if (at + 4 + len > buf.length) throw new EdgebootError('E_DHCP_PACKET', `DHCPv6 option ${code} claims ${len} bytes but only ${buf.length - at - 4} remain`);
    out.push({ code, data: Buffer.from(buf.subarray(at + 4, at + 4 + len)) });
    at += 4 + len;
  }
  return out;
}

/** Serialise a message (options in the given order). */
export function encodeDhcp6(m: Dhcp6Message): Buffer {
  const head = Buffer.alloc(4);
  head[0] = m.type;
  head.writeUIntBE(m.transactionId & 0xffffff, 1, 3);
  return Buffer.concat([head, ...m.options.map(encodeOption)]);
}

/** One option's bytes (code, length, data). */
export function encodeOption(o: Dhcp6Option): Buffer {
  const h = Buffer.alloc(4);
  h.writeUInt16BE(o.code, 0);
  h.writeUInt16BE(o.data.length, 2);
  return Buffer.concat([h, o.data]);
}

/** Vendor class data in RFC 8415 §21.16 form: enterprise number, then length-prefixed opaque strings. */
export function vendorClassData(enterprise: number, classes: string[]): Buffer {
  const e = Buffer.alloc(4);
  e.writeUInt32BE(enterprise, 0);
  return Buffer.concat([e, ...classes.map(lengthPrefixed)]);
}

/** User class data (RFC 8415 §21.15): length-prefixed opaque strings. */
export function userClassData(classes: string[]): Buffer {
  return Buffer.concat(classes.map(lengthPrefixed));
}

function lengthPrefixed(s: string): Buffer {
  const b = Buffer.from(s, 'latin1');
  const l = Buffer.alloc(2);
  l.writeUInt16BE(b.length, 0);
  return Buffer.concat([l, b]);
}

/** The first option with `code`, if any. */
export function findOption(m: Dhcp6Message, code: number): Dhcp6Option | undefined {
  return m.options.find((o) => o.code === code);
}

/** Option 59's URL (RFC 5970 §3.1: a UTF-8 string, not NUL-terminated). */
export function bootfileUrl(m: Dhcp6Message): string | undefined {
  const o = findOption(m, DHCP6_OPT.bootfileUrl);
  return o ? o.data.toString('utf8') : undefined;
}

/**
 * Whether a reply's option 16 marks it as an offer for `vendor` the way EDK2 tests it (HttpBootDxe for
 * "HTTPClient", UefiPxeBcDxe for "PXEClient"): the class string must stand at byte 6 of the option data,
 * after a 4-byte enterprise number and a 2-byte length (RFC 8415 §21.16); PXEv6 also wants enterprise 343.
 * A bare length-prefixed string (dnsmasq's `option6:16,HTTPClient`) puts "Client" there and is not one.
 */
export function edk2AcceptsVendorClass(m: Dhcp6Message, vendor: 'HTTPClient' | 'PXEClient'): boolean {
  const o = findOption(m, DHCP6_OPT.vendorClass);
  if (!o || o.data.length < 6 + vendor.length) return false;
  if (o.data.subarray(6, 6 + vendor.length).toString('latin1') !== vendor) return false;
  return vendor === 'HTTPClient' || o.data.readUInt32BE(0) === 343;
}
