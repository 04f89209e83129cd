import { describe, expect, it } from 'vitest';
import { EdgebootError } from '../../../src/core/errors.js';
import { eui64FromMac, hasZoneId, httpBase, interfaceId6, ipv6ToBigInt, isLinkLocal6, sameSubnet6, urlHost } from '../../../src/core/ip.js';

describe('URL hosts', () => {
  it('brackets IPv6 literals and leaves IPv4 alone', () => {
    expect(urlHost('10.0.0.1')).toBe('10.0.0.1');
    expect(urlHost('fd80:21::1')).toBe('[fd80:21::1]');
    expect(urlHost('::1')).toBe('[::1]');
    expect(httpBase('fd80:21::1', 5248)).toBe('http://[fd80:21::1]:5248');
    expect(httpBase('192.0.2.7', 80)).toBe('http://192.0.2.7:80');
  });

  it('refuses a zone id in one sentence', () => {
    expect(hasZoneId('fe80::1%eth0')).toBe(true);
    expect(hasZoneId('fd80::1')).toBe(false);
    expect(() => urlHost('fe80::1%eth0')).toThrow(EdgebootError);
    expect(() => urlHost('fe80::1%eth0')).toThrow(/^the address fe80::1%eth0 carries a zone id \(after %\), which no client can use; give a global or unique-local address$/);
  });
});

describe('IPv6 arithmetic', () => {
  it('parses compressed, full and IPv4-tailed forms to the same number', () => {
    expect(ipv6ToBigInt('fd80:21::1')).toBe(ipv6ToBigInt('fd80:0021:0000:0000:0000:0000:0000:0001'));
    expect(ipv6ToBigInt('::ffff:10.0.0.1')).toBe(0xffff0a000001n);
    expect(ipv6ToBigInt('::')).toBe(0n);
    expect(ipv6ToBigInt('10.0.0.1')).toBeUndefined();
  });

  it('compares prefixes', () => {
    expect(sameSubnet6('fd80:21::1', 'fd80:21::5054:ff:fe12:3456', 64)).toBe(true);
    expect(sameSubnet6('fd80:21::1', 'fd80:21:0:1::1', 64)).toBe(false);
    expect(sameSubnet6('fd80:21::1', 'fd80:21:0:1::1', 48)).toBe(true);
    expect(sameSubnet6('10.0.0.1', 'fd80::1', 0)).toBe(false);
  });

  it('knows link-local addresses', () => {
    expect(isLinkLocal6('fe80::5054:ff:fe12:3456')).toBe(true);
    expect(isLinkLocal6('febf::1')).toBe(true);
    expect(isLinkLocal6('fec0::1')).toBe(false);
    expect(isLinkLocal6('fd80::1')).toBe(false);
  });

  it('derives the modified EUI-64 interface identifier SLAAC uses (RFC 4291 §2.5.1)', () => {
    // The kernel's own SLAAC address for 52:54:00:12:34:56 ends 5054:ff:fe12:3456.
    expect(eui64FromMac('52:54:00:12:34:56')).toBe(interfaceId6('fd80:21::5054:ff:fe12:3456'));
    expect(eui64FromMac('00:16:3e:00:00:01')).toBe(interfaceId6('fe80::216:3eff:fe00:1'));
  });
});
