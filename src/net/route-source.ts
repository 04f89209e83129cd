import { execFileSync } from 'node:child_process';
import { isIpv4 } from '../core/ip.js';

/** How this host reaches a remote address, as the kernel's routing table says. */
export interface RouteToAddress {
  /** The local source address packets to the destination leave with. */
  src: string;
  dev?: string;
  /** The next hop, when the destination is not on a link of this host. */
  via?: string;
}

/** Parse one line of `ip -4 route get ADDR` (e.g. `10.9.0.5 via 10.8.0.254 dev br0 src 10.8.0.1 uid 0`). */
export function parseRouteGet(text: string): RouteToAddress | undefined {
  const src = /\bsrc (\S+)/.exec(text)?.[1];
  if (!src || !isIpv4(src)) return undefined;
  const dev = /\bdev (\S+)/.exec(text)?.[1];
  const via = /\bvia (\S+)/.exec(text)?.[1];
  return { src, ...(dev ? { dev } : {}), ...(via ? { via } : {}) };
}

/** Ask the kernel (`ip -4 route get`) how `address` is reached; undefined when there is no route. */
export function routeTo(address: string): RouteToAddress | undefined {
  if (!isIpv4(address)) return undefined;
  try {
    return parseRouteGet(execFileSync('ip', ['-4', 'route', 'get', address], { encoding: 'utf8', timeout: 5000, stdio: ['ignore', 'pipe', 'ignore'] }));
  } catch {
    // "Network is unreachable" exits non-zero: no route.
    return undefined;
  }
}
