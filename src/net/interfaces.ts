import { networkInterfaces } from 'node:os';
import si from 'systeminformation';
import { hasZoneId, isIpv6, isLinkLocal6, normaliseIp, sameSubnet, sameSubnet6 } from '../core/ip.js';

/** One address on one local interface. */
export interface LocalAddress {
  iface: string;
  address: string;
  family: 'IPv4' | 'IPv6';
  prefix: number;
  internal: boolean;
  mac: string;
}

/** What discovery found: every address, plus link facts systeminformation adds. */
export interface InterfaceReport {
  addresses: LocalAddress[];
  links: Array<{ iface: string; operstate: string; speed: number | null; mtu: number | null; type: string; virtual: boolean }>;
}

/** Every address of every interface (os.networkInterfaces keeps them all; systeminformation only one each). */
export function listAddresses(): LocalAddress[] {
  const out: LocalAddress[] = [];
  for (const [iface, addrs] of Object.entries(networkInterfaces())) {
    for (const a of addrs ?? []) {
      const prefix = a.cidr ? Number(a.cidr.split('/')[1]) : 0;
      out.push({ iface, address: a.address, family: a.family as 'IPv4' | 'IPv6', prefix, internal: a.internal, mac: a.mac });
    }
  }
  return out;
}

/** Full discovery with link state, speed and MTU; spawns processes, so call at start and on change only. */
export async function discoverInterfaces(): Promise<InterfaceReport> {
  const links = await si.networkInterfaces();
  const list = Array.isArray(links) ? links : [links];
  return {
    addresses: listAddresses(),
    links: list.map((l) => ({
      iface: l.iface,
      operstate: l.operstate,
      speed: l.speed,
      mtu: l.mtu ?? null,
      type: l.type,
      virtual: l.virtual,
    })),
  };
}

/**
 * The local address that faces `clientIp`, of the client's family: the one on the client's subnet, else the
 * first non-internal address. Never 0.0.0.0; loopback only for a loopback client. For an IPv6 client a
 * global or unique-local address is preferred to a link-local one, which would need a zone id to be used.
 */
export function addressFacing(clientIp: string, addresses: LocalAddress[]): string | undefined {
  const ip = normaliseIp(clientIp);
  if (isIpv6(ip)) {
    const v6 = addresses.filter((a) => a.family === 'IPv6' && !isLinkLocal6(a.address) && !hasZoneId(a.address));
    if (ip === '::1') return v6.find((a) => a.internal)?.address;
    const onLink6 = v6.find((a) => !a.internal && sameSubnet6(a.address, ip, a.prefix));
    if (onLink6) return onLink6.address;
    return v6.find((a) => !a.internal)?.address;
  }
  const v4 = addresses.filter((a) => a.family === 'IPv4');
  const onLink = v4.find((a) => sameSubnet(a.address, ip, a.prefix));
  if (onLink) return onLink.address;
  return v4.find((a) => !a.internal)?.address;
}
