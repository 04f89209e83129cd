import { EdgebootError } from '../core/errors.js';
import { eui64FromMac, interfaceId6, isIpv6, isLinkLocal6, sameSubnet6 } from '../core/ip.js';
import type { LocalAddress } from '../net/interfaces.js';
import { checkServerAddress6 } from './boot-plan6.js';

/** Parse an IPv6 prefix (`fd80:21::/64`); one sentence when it is not one. */
export function parseCidr6(cidr: string): { network: string; prefix: number } {
  const [network, len] = cidr.split('/');
  const prefix = Number(len);
  if (!network || !isIpv6(network) || !Number.isInteger(prefix) || prefix < 1 || prefix > 128) {
    throw new EdgebootError('E_DHCP', `"${cidr}" is not an IPv6 prefix such as fd80:21::/64`);
  }
  return { network, prefix };
}

/** True when the user asked for IPv6: an IPv6 --subnet or --server-address. */
export function wantsIpv6(o: { explicit?: string; subnet?: string }): boolean {
  return (o.explicit?.includes(':') ?? false) || (o.subnet?.includes(':') ?? false);
}

/**
 * Most stable first: an address the operator set (a small interface identifier such as ::1), then the
 * kernel's SLAAC address (the MAC's EUI-64), then random privacy addresses, which come and go.
 */
function byStability(a: LocalAddress, b: LocalAddress): number {
  // 0: a hand-set address (::1, ::10:5 — identifier below 2^32); 1: SLAAC (the MAC's EUI-64); 2: anything else.
  const rank = (x: LocalAddress) => {
    const iid = interfaceId6(x.address) ?? 0n;
    if (iid < 0x100000000n) return 0;
    return x.mac && iid === eui64FromMac(x.mac) ? 1 : 2;
  };
  if (rank(a) !== rank(b)) return rank(a) - rank(b);
  const ia = interfaceId6(a.address) ?? 0n;
  const ib = interfaceId6(b.address) ?? 0n;
  return ia < ib ? -1 : ia > ib ? 1 : 0;
}

function usable(a: LocalAddress): boolean {
  return a.family === 'IPv6' && !a.internal && !isLinkLocal6(a.address);
}

/**
 * edgeboot's IPv6 address for DHCPv6 boot URLs: the explicit one, else the global or unique-local address in
 * `subnet`, else the first such address on `iface`. Never link-local; one sentence naming the candidates when
 * none fits.
 */
export function chooseServer6(o: { explicit?: string; iface?: string; subnet?: string }, local: LocalAddress[]): string {
  if (o.explicit) return checkServerAddress6(o.explicit);
  const candidates = local.filter(usable);
  const list = candidates.map((a) => `${a.iface} ${a.address}/${a.prefix}`).join(', ') || 'none';
  if (o.subnet) {
    const { network, prefix } = parseCidr6(o.subnet);
    const hit = candidates.filter((a) => sameSubnet6(a.address, network, prefix)).sort(byStability)[0];
    if (!hit) throw new EdgebootError('E_DHCP', `no global or unique-local IPv6 address of this host lies in ${o.subnet}; candidates: ${list}`);
    return hit.address;
  }
  if (o.iface) {
    const hit = candidates.filter((a) => a.iface === o.iface).sort(byStability)[0];
    if (!hit) throw new EdgebootError('E_DHCP', `${o.iface} has no global or unique-local IPv6 address; candidates: ${list}`);
    return hit.address;
  }
  throw new EdgebootError('E_DHCP', `DHCPv6 needs --subnet, --interface or --server-address to pick the address in the boot URLs; candidates: ${list}`);
}
