import { execFile } from 'node:child_process';
import { isIpv6 } from '../core/ip.js';
import { type MacAddress, tryParseMac } from '../core/mac.js';

// The kernel's IPv6 neighbour table: which link-layer address holds an on-link IPv6 address. Node has no
// netlink binding, so `ip -6 neigh` is asked; only the answer-file route asks, and only when a URL is
// presented from an address other than the one it was issued to (an installer's SLAAC or privacy address),
// about once per install — the short cache keeps a retrying installer from spawning one process per try.

const CACHE_MS = 2_000;
const cache = new Map<string, { at: number; mac: MacAddress | undefined }>();

/** Parse one `ip -6 neigh show to <addr>` answer: the lladdr of a usable entry, none for FAILED/INCOMPLETE. */
export function parseNeighbourLine(text: string): MacAddress | undefined {
  for (const line of text.split('\n')) {
    const m = /\blladdr\s+([0-9a-f:]{17})\b/i.exec(line);
    if (!m || /\b(FAILED|INCOMPLETE)\b/.test(line)) continue;
    return tryParseMac(m[1]!);
  }
  return undefined;
}

/** The MAC this host's neighbour table holds for IPv6 address `ip`, or undefined (unknown, off-link, lookup failed). */
export function neighbourMac(ip: string): Promise<MacAddress | undefined> {
  if (!isIpv6(ip)) return Promise.resolve(undefined);
  const hit = cache.get(ip);
  if (hit && Date.now() - hit.at < CACHE_MS) return Promise.resolve(hit.mac);
  return new Promise((resolve) => {
    execFile('ip', ['-6', 'neigh', 'show', 'to', ip], { timeout: 1_000 }, (err, stdout) => {
      const mac = err ? undefined : parseNeighbourLine(String(stdout));
      if (cache.size > 10_000) cache.clear();
      cache.set(ip, { at: Date.now(), mac });
      resolve(mac);
    });
  });
}
