import { EdgebootError } from '../core/errors.js';
import { ipv4ToNumber, isIpv4, sameSubnet } from '../core/ip.js';
import type { LocalAddress } from '../net/interfaces.js';
import type { RouteToAddress } from '../net/route-source.js';
import { checkServerAddress } from './boot-plan.js';

/** How the operator pointed at the clients' network. */
export interface NextServerQuery {
  /** `--server-address` or a configured `server_address` other than `auto`. */
  explicit?: string;
  /** `--interface IF`. */
  iface?: string;
  /** `--subnet CIDR`. */
  subnet?: string;
}

/** Parse `a.b.c.d/n` (IPv4 CIDR). */
export function parseCidr(cidr: string): { network: string; prefix: number } {
  const m = /^(\d+\.\d+\.\d+\.\d+)\/(\d{1,2})$/.exec(cidr.trim());
  if (!m || !isIpv4(m[1]!) || Number(m[2]) > 32) throw new EdgebootError('E_DHCP', `"${cidr}" is not an IPv4 CIDR like 10.0.0.0/24`);
  return { network: m[1]!, prefix: Number(m[2]) };
}

/** The address a route lookup for a subnet asks about: its first host (the network itself for /31 and /32). */
export function subnetProbe(cidr: string): string {
  const { network, prefix } = parseCidr(cidr);
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  const base = (ipv4ToNumber(network) & mask) >>> 0;
  const n = prefix >= 31 ? base : base + 1;
  return [24, 16, 8, 0].map((s) => (n >>> s) & 255).join('.');
}

function describe(list: LocalAddress[]): string {
  return list.map((a) => `${a.iface} ${a.address}/${a.prefix}`).join(', ') || 'none';
}

/**
 * edgeboot's address as clients on the chosen network see it: explicit, else the IPv4 address on the
 * interface, else the local address inside the subnet, else (a relayed subnet, with no local address in it) the
 * source address of the route to it, else the only non-loopback IPv4 address.
 * Never 0.0.0.0 or loopback; an ambiguous or empty choice is an error that lists the candidates.
 */
export function chooseNextServer(q: NextServerQuery, addresses: LocalAddress[], route?: (address: string) => RouteToAddress | undefined): string {
  if (q.explicit) return checkServerAddress(q.explicit);
  const v4 = addresses.filter((a) => a.family === 'IPv4' && !a.internal);
  let pool = v4;
  if (q.iface) {
    pool = pool.filter((a) => a.iface === q.iface);
    if (!pool.length) throw new EdgebootError('E_DHCP', `interface ${q.iface} has no non-loopback IPv4 address; candidates: ${describe(v4)}`);
  }
  if (q.subnet) {
    const { network, prefix } = parseCidr(q.subnet);
    pool = pool.filter((a) => sameSubnet(a.address, network, prefix));
    if (!pool.length && route) {
      // The relay case: clients behind a DHCP relay reach edgeboot at the address its route to them leaves from.
      const r = route(subnetProbe(q.subnet));
      const local = r && v4.find((a) => a.address === r.src);
      if (local) pool = [local];
      else throw new EdgebootError('E_DHCP', `no local IPv4 address lies in ${q.subnet} and no route leads there from one (${r ? `route source ${r.src}` : 'no route'}); candidates: ${describe(v4)}`);
    }
    if (!pool.length) throw new EdgebootError('E_DHCP', `no local IPv4 address lies in ${q.subnet}; candidates: ${describe(v4)}`);
  }
  if (pool.length > 1) {
    throw new EdgebootError('E_DHCP', `several addresses could face the clients (${describe(pool)}); pick one with --interface or --subnet`);
  }
  if (!pool.length) throw new EdgebootError('E_DHCP', 'no non-loopback IPv4 address is configured; pass --server-address');
  return checkServerAddress(pool[0]!.address);
}
