import { isIP } from 'node:net';
import { EdgebootError } from './errors.js';

/** Strip the IPv4-mapped IPv6 prefix Node reports for dual-stack sockets (`::ffff:10.0.0.5`). */
export function normaliseIp(ip: string | undefined): string {
  if (!ip) return '';
  // No colon: IPv4 (every boot request's peer on an IPv4 network), no v4-mapped form to unwrap.
  if (ip.indexOf(':') < 0) return ip.toLowerCase();
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  return m ? m[1]! : ip.toLowerCase();
}

/** IPv4 dotted quad → 32-bit unsigned number. */
export function ipv4ToNumber(ip: string): number {
  const parts = ip.split('.').map(Number);
  return (((parts[0]! << 24) >>> 0) + (parts[1]! << 16) + (parts[2]! << 8) + parts[3]!) >>> 0;
}

/** True when `ip` is a syntactically valid IPv4 address. */
export function isIpv4(ip: string): boolean {
  return isIP(ip) === 4;
}

/** True when `a` and `b` share the first `prefix` bits (IPv4). */
export function sameSubnet(a: string, b: string, prefix: number): boolean {
  if (!isIpv4(a) || !isIpv4(b)) return false;
  if (prefix <= 0) return true;
  const mask = prefix >= 32 ? 0xffffffff : (~((1 << (32 - prefix)) - 1)) >>> 0;
  return ((ipv4ToNumber(a) & mask) >>> 0) === ((ipv4ToNumber(b) & mask) >>> 0);
}

/** True when `ip` is a syntactically valid IPv6 address (a zone id makes it invalid here). */
export function isIpv6(ip: string): boolean {
  return isIP(ip) === 6;
}

/** True when `ip` carries an IPv6 zone id (`fe80::1%eth0`): meaningful only on this host, never in a URL we hand out. */
export function hasZoneId(ip: string): boolean {
  return ip.includes(':') && ip.includes('%');
}

/**
 * The host part of a URL for an address: IPv6 literals in brackets (RFC 3986 §3.2.2), IPv4 as is.
 * Refuses zone ids, which a client elsewhere cannot use.
 */
export function urlHost(ip: string): string {
  if (hasZoneId(ip)) throw new EdgebootError('E_IP', `the address ${ip} carries a zone id (after %), which no client can use; give a global or unique-local address`);
  return isIpv6(ip) ? `[${ip}]` : ip;
}

/** `http://<host>:<port>` for an address, IPv6 bracketed. */
export function httpBase(ip: string, port: number): string {
  return `http://${urlHost(ip)}:${port}`;
}

/** An IPv6 address as a 128-bit number (undefined when not IPv6). */
export function ipv6ToBigInt(ip: string): bigint | undefined {
  if (!isIpv6(ip)) return undefined;
  let text = ip.toLowerCase();
  // An embedded IPv4 tail (::ffff:1.2.3.4) is two more groups.
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const n = ipv4ToNumber(v4[1]!);
    text = `${text.slice(0, -v4[1]!.length)}${(n >>> 16).toString(16)}:${(n & 0xffff).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  return groups.reduce((acc, g) => (acc << 16n) | BigInt(Number.parseInt(g, 16)), 0n);
}

/** True when IPv6 `a` and `b` share the first `prefix` bits. */
export function sameSubnet6(a: string, b: string, prefix: number): boolean {
  const x = ipv6ToBigInt(a);
  const y = ipv6ToBigInt(b);
  if (x === undefined || y === undefined) return false;
  if (prefix <= 0) return true;
  const shift = BigInt(128 - Math.min(prefix, 128));
  return x >> shift === y >> shift;
}

/** True for IPv6 link-local addresses (fe80::/10), which name no place beyond one link. */
export function isLinkLocal6(ip: string): boolean {
  const n = ipv6ToBigInt(ip);
  return n !== undefined && n >> 118n === 0x3fan;
}

/** The modified EUI-64 interface identifier (RFC 4291 §2.5.1) SLAAC derives from a MAC, as a 64-bit number. */
export function eui64FromMac(mac: string): bigint {
  const b = mac.split(/[:-]/).map((x) => Number.parseInt(x, 16));
  const bytes = [b[0]! ^ 0x02, b[1]!, b[2]!, 0xff, 0xfe, b[3]!, b[4]!, b[5]!];
  return bytes.reduce((acc, x) => (acc << 8n) | BigInt(x), 0n);
}

/** The low 64 bits (interface identifier) of an IPv6 address. */
export function interfaceId6(ip: string): bigint | undefined {
  const n = ipv6ToBigInt(ip);
  return n === undefined ? undefined : n & 0xffffffffffffffffn;
}
