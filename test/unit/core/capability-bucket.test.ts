import { describe, expect, it } from 'vitest';
import { CapabilitySigner } from '../../../src/core/capability.js';
import { parseMac } from '../../../src/core/mac.js';

const mac = parseMac('52:54:00:00:00:01');
const key = Buffer.alloc(32, 9);
const expiry = (token: string) => Number.parseInt(token.split('.')[0]!, 36);

describe('answer URLs signed once per expiry bucket', () => {
  it('gives one (MAC, IP) the same URL within a bucket and a later one in the next', () => {
    let now = 1_700_000_000_000; // 20 s into its 60 s bucket
    const s = new CapabilitySigner({ key, ttlSeconds: 7200, bindIp: true, now: () => now });
    const a = s.sign(mac, '10.0.0.5');
    now += 39_000;
    expect(s.sign(mac, '10.0.0.5')).toBe(a);
    expect(s.sign(mac, '10.0.0.6')).not.toBe(a);
    now += 1_000;
    expect(expiry(s.sign(mac, '10.0.0.5')) - expiry(a)).toBe(60);
  });

  it('never lets a URL outlive the TTL, and never cuts it by a bucket or more', () => {
    for (const offset of [0, 1, 29, 59, 60, 61, 3599]) {
      const issued = 1_699_999_980 + offset;
      const s = new CapabilitySigner({ key, ttlSeconds: 7200, bindIp: true, now: () => issued * 1000 });
      const life = expiry(s.sign(mac, '10.0.0.5')) - issued;
      expect(life).toBeLessThanOrEqual(7200);
      expect(life).toBeGreaterThan(7200 - 60);
      expect(new CapabilitySigner({ key, ttlSeconds: 7200, bindIp: true, now: () => (issued + life + 1) * 1000 }).verify(mac, s.sign(mac, '10.0.0.5'), '10.0.0.5')).toBe('expired');
    }
  });

  it('keeps second-exact expiry for the shortest lifetime (60 s)', () => {
    const issued = 1_700_000_007;
    const s = new CapabilitySigner({ key, ttlSeconds: 60, bindIp: true, now: () => issued * 1000 });
    expect(expiry(s.sign(mac, '10.0.0.5'))).toBe(issued + 60);
  });
});
