import { EdgebootError } from '../core/errors.js';
import { Opt } from './dhcp-options.js';

/** The fixed BOOTP header is 236 bytes, followed by the 4-byte magic cookie (RFC 2131 §2, Figure 1). */
export const HEADER_LENGTH = 236;
/** 99.130.83.99 (RFC 2131 §3, RFC 2132 §2). */
export const MAGIC_COOKIE = 0x63825363;
/** BOOTP messages are padded to at least 300 bytes; some relays drop shorter ones (RFC 1542 §2.1). */
export const MIN_PACKET_LENGTH = 300;
/** The largest packet edgeboot accepts or builds: a full Ethernet frame's payload. */
export const MAX_PACKET_LENGTH = 1500;

/**
 * A decoded DHCPv4/BOOTP message. Options keep the order they arrived in; repeated codes are
 * concatenated (RFC 3396 §5); options carried in sname/file (RFC 2132 §9.3) are merged in.
 */
export interface DhcpPacket {
  op: number;
  htype: number;
  hlen: number;
  hops: number;
  xid: number;
  secs: number;
  flags: number;
  ciaddr: string;
  yiaddr: string;
  siaddr: string;
  giaddr: string;
  /** All 16 bytes of the chaddr field; the hardware address is the first `hlen`. */
  chaddr: Buffer;
  /** Server host name (empty when the field carries options, RFC 2132 §9.3). */
  sname: string;
  /** Boot file name (empty when the field carries options). */
  file: string;
  options: Map<number, Buffer>;
}

/** The broadcast bit of the flags field (RFC 2131 §2, Figure 2). */
export const FLAG_BROADCAST = 0x8000;

function fail(message: string): never {
  throw new EdgebootError('E_DHCP_PACKET', message);
}

function ipAt(buf: Buffer, at: number): string {
  return `${buf[at]}.${buf[at + 1]}.${buf[at + 2]}.${buf[at + 3]}`;
}

function cString(buf: Buffer): string {
  const nul = buf.indexOf(0);
  return buf.subarray(0, nul === -1 ? buf.length : nul).toString('latin1');
}

/** Parse one option area into `into`, concatenating repeated codes (RFC 3396 §5). */
function readOptions(area: Buffer, where: string, into: Map<number, Buffer>): void {
  let i = 0;
  while (i < area.length) {
    const code = area[i]!;
    if (code === Opt.end) return;
    if (code === Opt.pad) {
      i++;
      continue;
    }
    if (i + 1 >= area.length) fail(`option ${code} in the ${where} has no length byte`);
    const len = area[i + 1]!;
    if (i + 2 + len > area.length) fail(`option ${code} in the ${where} claims ${len} bytes but only ${area.length - i - 2} remain`);
    const data = Buffer.from(area.subarray(i + 2, i + 2 + len));
    const prev = into.get(code);
    into.set(code, prev ? Buffer.concat([prev, data]) : data);
    i += 2 + len;
  }
}

/**
 * Decode a DHCPv4 message (RFC 2131 §2–3, options RFC 2132, overload RFC 2132 §9.3). Never reads
 * past `buf`; a short, cookie-less or malformed message throws `E_DHCP_PACKET`.
 */
export function decodeDhcp(buf: Buffer): DhcpPacket {
  if (!Buffer.isBuffer(buf)) fail('a DHCP message must be bytes');
  if (buf.length < HEADER_LENGTH + 4) fail(`a DHCP message is at least ${HEADER_LENGTH + 4} bytes; got ${buf.length}`);
  if (buf.readUInt32BE(HEADER_LENGTH) !== MAGIC_COOKIE) fail('the DHCP magic cookie (99.130.83.99) is missing');
  const hlen = buf[2]!;
  if (hlen > 16) fail(`hardware address length ${hlen} exceeds the 16-byte chaddr field`);
  const options = new Map<number, Buffer>();
  readOptions(buf.subarray(HEADER_LENGTH + 4), 'options field', options);
  const overload = options.get(Opt.overload)?.[0] ?? 0;
  const fileArea = buf.subarray(108, 236);
  const snameArea = buf.subarray(44, 108);
  // RFC 2132 §9.3: the options field first, then `file`, then `sname`.
  if (overload & 1) readOptions(fileArea, 'file field', options);
  if (overload & 2) readOptions(snameArea, 'sname field', options);
  // The overload flag describes this encoding only; re-encoding writes every option into the options field.
  options.delete(Opt.overload);
  return {
    op: buf[0]!,
    htype: buf[1]!,
    hlen,
    hops: buf[3]!,
    xid: buf.readUInt32BE(4),
    secs: buf.readUInt16BE(8),
    flags: buf.readUInt16BE(10),
    ciaddr: ipAt(buf, 12),
    yiaddr: ipAt(buf, 16),
    siaddr: ipAt(buf, 20),
    giaddr: ipAt(buf, 24),
    chaddr: Buffer.from(buf.subarray(28, 44)),
    sname: overload & 2 ? '' : cString(snameArea),
    file: overload & 1 ? '' : cString(fileArea),
    options,
  };
}

function writeIp(buf: Buffer, at: number, ip: string, field: string): void {
  const parts = ip.split('.');
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) fail(`${field} "${ip}" is not an IPv4 address`);
  parts.forEach((p, k) => {
    buf[at + k] = Number(p);
  });
}

function writeField(buf: Buffer, at: number, size: number, text: string, field: string): void {
  const bytes = Buffer.from(text, 'latin1');
  // The field must keep its terminating NUL.
  if (bytes.length >= size) fail(`${field} is ${bytes.length} bytes; the field holds ${size - 1}`);
  bytes.copy(buf, at);
}

/**
 * Encode a DHCPv4 message. Options longer than 255 bytes are split into consecutive instances
 * (RFC 3396 §5); the result is padded to 300 bytes (RFC 1542 §2.1). Throws `E_DHCP_PACKET` when
 * a field does not fit.
 */
export function encodeDhcp(p: DhcpPacket): Buffer {
  const head = Buffer.alloc(HEADER_LENGTH + 4);
  head[0] = p.op;
  head[1] = p.htype;
  head[2] = p.hlen;
  head[3] = p.hops;
  head.writeUInt32BE(p.xid >>> 0, 4);
  head.writeUInt16BE(p.secs & 0xffff, 8);
  head.writeUInt16BE(p.flags & 0xffff, 10);
  writeIp(head, 12, p.ciaddr, 'ciaddr');
  writeIp(head, 16, p.yiaddr, 'yiaddr');
  writeIp(head, 20, p.siaddr, 'siaddr');
  writeIp(head, 24, p.giaddr, 'giaddr');
  if (p.chaddr.length > 16) fail('chaddr is longer than 16 bytes');
  p.chaddr.copy(head, 28);
  writeField(head, 44, 64, p.sname, 'sname');
  writeField(head, 108, 128, p.file, 'file');
  head.writeUInt32BE(MAGIC_COOKIE, HEADER_LENGTH);
  const parts: Buffer[] = [head];
  for (const [code, data] of p.options) {
    if (code === Opt.pad || code === Opt.end || code < 0 || code > 255) fail(`option code ${code} cannot carry data`);
    if (code === Opt.overload) fail('option 52 (overload) is not written by edgeboot; leave sname/file empty instead');
    let at = 0;
    do {
      const chunk = data.subarray(at, at + 255);
      parts.push(Buffer.from([code, chunk.length]), chunk);
      at += 255;
    } while (at < data.length);
  }
  parts.push(Buffer.from([Opt.end]));
  let out = Buffer.concat(parts);
  if (out.length < MIN_PACKET_LENGTH) out = Buffer.concat([out, Buffer.alloc(MIN_PACKET_LENGTH - out.length)]);
  if (out.length > MAX_PACKET_LENGTH) fail(`the encoded message is ${out.length} bytes; at most ${MAX_PACKET_LENGTH} fit one frame`);
  return out;
}

/** The client hardware address as `aa:bb:…` text (the first `hlen` bytes of chaddr). */
export function hardwareAddress(p: DhcpPacket): string {
  return [...p.chaddr.subarray(0, p.hlen)].map((b) => b.toString(16).padStart(2, '0')).join(':');
}
