import { execFile } from 'node:child_process';
import { isIpv4, sameSubnet } from '../core/ip.js';
import type { LocalAddress } from '../net/interfaces.js';
import { type RouteToAddress, parseRouteGet } from '../net/route-source.js';

/** Asks the kernel how an IPv4 address is reached; resolves undefined when there is no route. */
export type RouteLookup = (address: string) => Promise<RouteToAddress | undefined>;

/** `ip -4 route get ADDR` without blocking the event loop (the proxy answers while it waits). */
export const kernelRoute: RouteLookup = (address) =>
  new Promise((resolve) => {
    if (!isIpv4(address)) {
      resolve(undefined);
      return;
    }
    execFile('ip', ['-4', 'route', 'get', address], { encoding: 'utf8', timeout: 5000 }, (err, stdout) => {
      // "Network is unreachable" exits non-zero: no route.
      resolve(err ? undefined : parseRouteGet(stdout));
    });
  });

/**
 * The local IPv4 address that faces `peer` (a relay's giaddr or a client's unicast source): the address on
 * the peer's own link if there is one, else the source address the routing table uses towards it — the same
 * rule as `dhcp-config --subnet` — so a relayed client is told the address it can actually reach. Undefined
 * when neither exists (then nobody should be answered with a guess).
 */
export async function addressTowards(peer: string, addresses: LocalAddress[], route: RouteLookup): Promise<string | undefined> {
  const v4 = addresses.filter((a) => a.family === 'IPv4' && !a.internal);
  const onLink = v4.find((a) => sameSubnet(a.address, peer, a.prefix));
  if (onLink) return onLink.address;
  const r = await route(peer);
  return r?.src;
}

/**
 * Remember lookups for `ttlMs` (at most `max` peers): a relay forwards every retry of every client, and one
 * `ip` process per datagram would let a burst of relayed DISCOVERs fork without bound.
 */
export function cachedRoute(lookup: RouteLookup, ttlMs = 30_000, max = 1024): RouteLookup {
  const seen = new Map<string, { at: number; route: Promise<RouteToAddress | undefined> }>();
  return (address) => {
    const now = Date.now();
    const hit = seen.get(address);
    if (hit && now - hit.at < ttlMs) return hit.route;
    if (seen.size >= max) seen.clear();
    const route = lookup(address);
    seen.set(address, { at: now, route });
    return route;
  };
}
