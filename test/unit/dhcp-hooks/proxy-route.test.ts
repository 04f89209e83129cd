import { describe, expect, it } from 'vitest';
import { addressTowards, cachedRoute } from '../../../src/dhcp-hooks/proxy-route.js';
import type { LocalAddress } from '../../../src/net/interfaces.js';

const LOCAL: LocalAddress[] = [
  { iface: 'lo', address: '127.0.0.1', family: 'IPv4', prefix: 8, internal: true, mac: '00:00:00:00:00:00' },
  { iface: 'eth0', address: '192.0.2.10', family: 'IPv4', prefix: 24, internal: false, mac: '52:54:00:00:00:01' },
  { iface: 'br0', address: '10.231.160.1', family: 'IPv4', prefix: 24, internal: false, mac: '52:54:00:00:00:02' },
];

describe('addressTowards', () => {
  it('prefers the address on the peer’s own link without asking the routing table', async () => {
    const asked: string[] = [];
    expect(await addressTowards('10.231.160.77', LOCAL, async (a) => (asked.push(a), undefined))).toBe('10.231.160.1');
    expect(asked).toEqual([]);
  });

  it('takes the routing table’s source for a relay on a remote subnet, not the first interface', async () => {
    const route = async (a: string) => (a === '10.231.161.1' ? { src: '10.231.160.1', via: '10.231.160.254', dev: 'br0' } : undefined);
    expect(await addressTowards('10.231.161.1', LOCAL, route)).toBe('10.231.160.1');
  });

  it('gives nothing when no route exists (no guess)', async () => {
    expect(await addressTowards('198.51.100.1', LOCAL, async () => undefined)).toBeUndefined();
  });
});

describe('cachedRoute', () => {
  it('asks once per peer within the time to live, and again after it', async () => {
    let calls = 0;
    const lookup = cachedRoute(async () => (calls++, { src: '10.0.0.1' }), 50);
    await lookup('10.0.0.9');
    await lookup('10.0.0.9');
    expect(calls).toBe(1);
    await new Promise((r) => setTimeout(r, 60));
    await lookup('10.0.0.9');
    expect(calls).toBe(2);
  });
});
