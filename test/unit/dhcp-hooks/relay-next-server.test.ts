import { describe, expect, it } from 'vitest';
import { chooseNextServer, subnetProbe } from '../../../src/dhcp-hooks/next-server.js';
import type { LocalAddress } from '../../../src/net/interfaces.js';
import { parseRouteGet } from '../../../src/net/route-source.js';

// `dhcp-config --subnet` for a relayed subnet: no local address lies in it, so the route to it names edgeboot's address.

const ADDRS: LocalAddress[] = [
  { iface: 'lo', address: '127.0.0.1', family: 'IPv4', prefix: 8, internal: true } as LocalAddress,
  { iface: 'br0', address: '10.8.0.1', family: 'IPv4', prefix: 24, internal: false } as LocalAddress,
  { iface: 'mgmt', address: '192.168.5.2', family: 'IPv4', prefix: 24, internal: false } as LocalAddress,
];

describe('relayed subnets', () => {
  it('parses ip route get', () => {
    expect(parseRouteGet('10.9.0.1 via 10.8.0.254 dev br0 src 10.8.0.1 uid 0 \n    cache \n')).toEqual({ src: '10.8.0.1', dev: 'br0', via: '10.8.0.254' });
    expect(parseRouteGet('10.8.0.7 dev br0 src 10.8.0.1 uid 0\n')).toEqual({ src: '10.8.0.1', dev: 'br0' });
    expect(parseRouteGet('RTNETLINK answers: Network is unreachable')).toBeUndefined();
  });

  it.each([
    ['10.9.0.0/24', '10.9.0.1'],
    ['10.9.0.77/24', '10.9.0.1'],
    ['10.9.0.4/31', '10.9.0.4'],
    ['10.9.0.9/32', '10.9.0.9'],
  ])('probes %s at %s', (cidr, probe) => {
    expect(subnetProbe(cidr)).toBe(probe);
  });

  it('names the address the route to a relayed subnet leaves from', () => {
    const asked: string[] = [];
    const route = (a: string) => (asked.push(a), { src: '10.8.0.1', dev: 'br0', via: '10.8.0.254' });
    expect(chooseNextServer({ subnet: '10.9.0.0/24' }, ADDRS, route)).toBe('10.8.0.1');
    expect(asked).toEqual(['10.9.0.1']);
  });

  it('prefers a local address in the subnet and asks no route then', () => {
    const route = () => {
      throw new Error('route asked');
    };
    expect(chooseNextServer({ subnet: '192.168.5.0/24' }, ADDRS, route)).toBe('192.168.5.2');
  });

  it('refuses a subnet with no route, in one sentence naming the candidates', () => {
    expect(() => chooseNextServer({ subnet: '10.9.0.0/24' }, ADDRS, () => undefined)).toThrow(/no local IPv4 address lies in 10\.9\.0\.0\/24 and no route leads there from one \(no route\); candidates: br0 10\.8\.0\.1\/24, mgmt 192\.168\.5\.2\/24/);
  });

  it('refuses a route whose source is not one of ours (or loopback)', () => {
    expect(() => chooseNextServer({ subnet: '10.9.0.0/24' }, ADDRS, () => ({ src: '127.0.0.1' }))).toThrow(/route source 127\.0\.0\.1/);
  });
});
