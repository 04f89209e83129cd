import { describe, expect, it } from 'vitest';
import { backoffMs, classifyNetworkError, classifyStatus } from '../../../../src/sync/region/region-error.js';

describe('region failure classification', () => {
  it.each([
    ['DEPTH_ZERO_SELF_SIGNED_CERT', 'tls'],
    ['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'tls'],
    ['ERR_TLS_CERT_ALTNAME_INVALID', 'tls'],
    ['ERR_SSL_WRONG_VERSION_NUMBER', 'tls'],
    ['CERT_HAS_EXPIRED', 'tls'],
    ['ECONNREFUSED', 'unreachable'],
    ['ECONNRESET', 'unreachable'],
    ['ENOTFOUND', 'unreachable'],
    ['ETIMEDOUT', 'unreachable'],
  ])('%s is %s', (code, want) => {
    expect(classifyNetworkError(Object.assign(new Error('x'), { code }))).toBe(want);
  });

  it.each([
    [200, undefined],
    [304, undefined],
    [401, 'unauthorized'],
    [403, 'unauthorized'],
    [404, 'unknown-cluster'],
    [500, 'http'],
    [502, 'http'],
  ])('HTTP %i is %s', (status, want) => {
    expect(classifyStatus(status)).toBe(want);
  });
});

describe('backoffMs', () => {
  it('grows exponentially and stays within [ceiling/2, ceiling]', () => {
    for (let attempt = 0; attempt < 8; attempt++) {
      const ceiling = Math.min(30_000, 500 * 2 ** attempt);
      expect(backoffMs(attempt, { random: () => 0 })).toBe(ceiling / 2);
      expect(backoffMs(attempt, { random: () => 0.999999 })).toBeLessThanOrEqual(ceiling);
    }
  });

  it('never exceeds the configured maximum', () => {
    expect(backoffMs(50, { maxMs: 1000, random: () => 1 })).toBe(1000);
  });

  it('spreads retries of many racks (jitter)', () => {
    const values = new Set(Array.from({ length: 50 }, () => backoffMs(5)));
    expect(values.size).toBeGreaterThan(10);
  });
});
