import { describe, expect, it } from 'vitest';
import { RTO, RtoEstimator } from '../../../src/tftp/rto.js';

describe('retransmission timeout (RFC 6298 §2, §5.5)', () => {
  it('starts at the initial value', () => {
    expect(new RtoEstimator().ms).toBe(RTO.initialMs);
  });

  it('a client timeout below the initial value caps it (RFC 2349 §2)', () => {
    expect(new RtoEstimator(300).ms).toBe(300);
  });

  it('fast round trips bring it down to the floor, not below', () => {
    const r = new RtoEstimator();
    for (let i = 0; i < 20; i++) r.sample(0.2);
    expect(r.ms).toBe(RTO.minMs);
  });

  it('slow, jittery round trips raise it', () => {
    const r = new RtoEstimator();
    for (const s of [300, 900, 200, 1200]) r.sample(s);
    expect(r.ms).toBeGreaterThan(1000);
  });

  it('each timeout doubles it up to the maximum', () => {
    const r = new RtoEstimator();
    const seen: number[] = [];
    for (let i = 0; i < 5; i++) {
      r.backoff();
      seen.push(r.ms);
    }
    expect(seen).toEqual([1000, 2000, 4000, 4000, 4000]);
  });

  it('a floor raises the timeout until a sample, never past the client’s timeout', () => {
    const r = new RtoEstimator();
    r.atLeast(RTO.oackMs);
    expect(r.ms).toBe(RTO.oackMs);
    r.sample(1);
    expect(r.ms).toBe(RTO.minMs);
    const capped = new RtoEstimator(800);
    capped.atLeast(RTO.oackMs);
    expect(capped.ms).toBe(800);
  });

  it('backoff never passes the client’s timeout', () => {
    const r = new RtoEstimator(1000);
    r.backoff();
    r.backoff();
    expect(r.ms).toBe(1000);
  });
});
