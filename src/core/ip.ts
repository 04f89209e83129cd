import { isIP } from 'node:net';

/** Strip the IPv4-mapped IPv6 prefix Node reports for dual-stack sockets (`::ffff:10.0.0.5`). */
export function normaliseIp(ip: string | undefined): string {
  if (!ip) return '';
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
