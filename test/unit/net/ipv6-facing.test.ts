import { describe, expect, it } from 'vitest';
import { addressFacing, type LocalAddress } from '../../../src/net/interfaces.js';
import { parseNeighbourLine } from '../../../src/net/neighbours.js';

const a = (iface: string, address: string, prefix: number, internal = false): LocalAddress => ({
  iface,
  address,
  family: address.includes(':') ? 'IPv6' : 'IPv4',
  prefix,
  internal,
  mac: '52:54:00:00:00:aa',
});

// A multi-homed appliance: two IPv6 networks, link-locals on both, IPv4 beside them.
const host = [
  a('lo', '127.0.0.1', 8, true),
  a('lo', '::1', 128, true),
  a('eth0', '10.1.0.1', 24),
  a('eth0', 'fe80::5054:ff:fe00:aa', 64),
  a('eth0', 'fd80:21::1', 64),
  a('eth1', 'fe80::5054:ff:fe00:bb', 64),
  a('eth1', 'fd80:22::1', 64),
];

describe('the address that faces an IPv6 client', () => {
  it('is the one on the client prefix, on a multi-homed host', () => {
    expect(addressFacing('fd80:21::5054:ff:fe12:3456', host)).toBe('fd80:21::1');
    expect(addressFacing('fd80:22::77', host)).toBe('fd80:22::1');
  });

  it('is never a link-local address, even for a link-local client', () => {
    expect(addressFacing('fe80::5054:ff:fe12:3456', host)).toBe('fd80:21::1');
  });

  it('is ::1 for a loopback client and IPv4 for an IPv4 client', () => {
    expect(addressFacing('::1', host)).toBe('::1');
    expect(addressFacing('::ffff:10.1.0.50', host)).toBe('10.1.0.1');
    expect(addressFacing('10.1.0.50', host)).toBe('10.1.0.1');
  });

  it('is undefined when the host has no usable IPv6 address', () => {
    expect(addressFacing('fd80:21::5', [a('eth0', '10.1.0.1', 24), a('eth0', 'fe80::1', 64)])).toBeUndefined();
  });
});

describe('neighbour table lines', () => {
  it('reads the link-layer address of a usable entry', () => {
    expect(parseNeighbourLine('fd80:21::9c3e dev eth0 lladdr 52:54:00:12:34:56 REACHABLE\n')).toBe('52:54:00:12:34:56');
    expect(parseNeighbourLine('fd80:21::9c3e dev eth0 lladdr 52:54:00:12:34:56 router STALE\n')).toBe('52:54:00:12:34:56');
  });

  it('gives nothing for failed, incomplete or empty entries', () => {
    expect(parseNeighbourLine('fd80:21::9c3e dev eth0 FAILED\n')).toBeUndefined();
    expect(parseNeighbourLine('fd80:21::9c3e dev eth0 lladdr 52:54:00:12:34:56 INCOMPLETE\n')).toBeUndefined();
    expect(parseNeighbourLine('')).toBeUndefined();
  });
});
