import { describe, expect, it } from 'vitest';
import { CapabilitySigner, sameIpv6Host } from '../../../src/core/capability.js';
import { parseMac } from '../../../src/core/mac.js';

const mac = parseMac('52:54:00:00:00:01');
const key = Buffer.alloc(32, 9);

function signer(nowMs: number, bindIp = true) {
  return new CapabilitySigner({ key, ttlSeconds: 7200, bindIp, now: () => nowMs });
}

describe('CapabilitySigner', () => {
  const t0 = 1_700_000_000_000;
  const token = signer(t0).sign(mac, '10.0.0.5');

  it('accepts its own token from the bound IP', () => {
    expect(signer(t0 + 1000).verify(mac, token, '10.0.0.5')).toBeUndefined();
  });

  it('accepts the IPv4-mapped form of the bound IP', () => {
    expect(signer(t0).verify(mac, token, '::ffff:10.0.0.5')).toBeUndefined();
  });

  it('refuses another IP', () => {
    expect(signer(t0).verify(mac, token, '10.0.0.6')).toBe('wrong-ip');
  });

  it('accepts an IP the DHCP hook leased to the same MAC', () => {
    expect(signer(t0).verify(mac, token, '10.0.0.77', ['10.0.0.77'])).toBeUndefined();
  });

  it('refuses it after expiry', () => {
    expect(signer(t0 + 7201_000).verify(mac, token, '10.0.0.5')).toBe('expired');
  });

  it('refuses the token for another MAC', () => {
    expect(signer(t0).verify(parseMac('52:54:00:00:00:02'), token, '10.0.0.5')).toBe('bad-signature');
  });

  it('refuses a token signed with another key', () => {
    const other = new CapabilitySigner({ key: Buffer.alloc(32, 1), ttlSeconds: 7200, bindIp: true, now: () => t0 });
    expect(signer(t0).verify(mac, other.sign(mac, '10.0.0.5'), '10.0.0.5')).toBe('bad-signature');
  });

  it('refuses a token whose expiry was edited', () => {
    const [, ip, sig] = token.split('.');
    const forged = `${(Math.floor(t0 / 1000) + 999_999).toString(36)}.${ip}.${sig}`;
    expect(signer(t0).verify(mac, forged, '10.0.0.5')).toBe('bad-signature');
  });

  it('refuses a token whose bound IP was edited', () => {
    const [exp, , sig] = token.split('.');
    const forged = `${exp}.${Buffer.from('10.0.0.6').toString('base64url')}.${sig}`;
    expect(signer(t0).verify(mac, forged, '10.0.0.6')).toBe('bad-signature');
  });

  it('refuses a token spelled differently in base64url padding bits (same bytes, not the issued URL)', () => {
    const [exp, ip, sig] = token.split('.') as [string, string, string];
    // The last character of a 32-byte (43 characters) and of an 8-byte ('10.0.0.5', 11 characters) base64url
    // value carries two padding bits: flipping the lowest one keeps the decoded bytes.
    const b64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const twin = (s: string) => s.slice(0, -1) + b64[b64.indexOf(s.at(-1)!) ^ 1]!;
    expect(Buffer.from(twin(sig), 'base64url').equals(Buffer.from(sig, 'base64url'))).toBe(true);
    expect(signer(t0).verify(mac, `${exp}.${ip}.${twin(sig)}`, '10.0.0.5')).toBe('bad-signature');
    expect(Buffer.from(twin(ip), 'base64url').equals(Buffer.from(ip, 'base64url'))).toBe(true);
    expect(signer(t0).verify(mac, `${exp}.${twin(ip)}.${sig}`, '10.0.0.5')).toBe('malformed');
  });

  it('refuses garbage', () => {
    for (const g of ['', 'a.b', 'x'.repeat(500), '../../etc', `${token}x`]) {
      expect(signer(t0).verify(mac, g, '10.0.0.5')).toMatch(/malformed|bad-signature/);
    }
  });

  it('relaxed binding accepts any IP until expiry', () => {
    const relaxed = signer(t0, false);
    const t = relaxed.sign(mac, '10.0.0.5');
    expect(relaxed.verify(mac, t, '192.0.2.1')).toBeUndefined();
    expect(signer(t0 + 7201_000, false).verify(mac, t, '192.0.2.1')).toBe('expired');
  });

  it('a relaxed token is refused once binding is back on', () => {
    const t = signer(t0, false).sign(mac, '10.0.0.5');
    expect(signer(t0).verify(mac, t, '10.0.0.5')).toBe('wrong-ip');
  });

  it('refuses a key shorter than 32 bytes', () => {
    expect(() => new CapabilitySigner({ key: Buffer.alloc(8), ttlSeconds: 1, bindIp: true })).toThrow(/32 bytes/);
  });
});

describe('capability binding on IPv6', () => {
  const signer = new CapabilitySigner({ key, ttlSeconds: 600, bindIp: true, now: () => 1_700_000_000_000 });
  const node = parseMac('52:54:00:12:34:56');
  const cap = signer.sign(node, 'fd80:21::100');

  it("accepts the node's SLAAC address (EUI-64 of its MAC) in the same /64 without asking the neighbour table", () => {
    expect(signer.verify(node, cap, 'fd80:21::5054:ff:fe12:3456')).toBeUndefined();
    expect(sameIpv6Host(node, 'fd80:21::100', 'fd80:21::5054:ff:fe12:3456', undefined)).toBe(true);
  });

  it('accepts any address of the /64 the neighbour table maps to the node MAC, and refuses it for another MAC', () => {
    expect(signer.verify(node, cap, 'fd80:21::9c3e:41d2:77aa:1b05')).toBe('wrong-ip');
    expect(signer.verify(node, cap, 'fd80:21::9c3e:41d2:77aa:1b05', [], node)).toBeUndefined();
    expect(signer.verify(node, cap, 'fd80:21::9c3e:41d2:77aa:1b05', [], parseMac('52:54:00:12:34:57'))).toBe('wrong-ip');
  });

  it("refuses the node's own interface identifier or neighbour entry outside the bound /64", () => {
    expect(signer.verify(node, cap, 'fd80:22::5054:ff:fe12:3456')).toBe('wrong-ip');
    expect(signer.verify(node, cap, 'fd80:22::1', [], node)).toBe('wrong-ip');
  });

  it('never relaxes an IPv4 binding', () => {
    const v4 = signer.sign(node, '10.0.0.5');
    expect(signer.verify(node, v4, '10.0.0.6', [], node)).toBe('wrong-ip');
    expect(sameIpv6Host(node, '10.0.0.5', '10.0.0.6', node)).toBe(false);
  });
});
