import { describe, expect, it } from 'vitest';
import { BufferPool } from '../../../src/http/buffer-pool.js';

describe('BufferPool', () => {
  it('hands out large buffers up to the budget, then small ones', () => {
    const pool = new BufferPool({ size: 1024, smallSize: 128, budget: 3 * 1024 });
    const got = Array.from({ length: 5 }, () => pool.take());
    expect(got.map((b) => b.length)).toEqual([1024, 1024, 1024, 128, 128]);
    expect(pool.largeBytesOut).toBe(3 * 1024);
  });

  it('a large buffer given back (or dropped) frees its share of the budget; a small one does not', () => {
    const pool = new BufferPool({ size: 1024, smallSize: 128, budget: 2 * 1024 });
    const [a, b] = [pool.take(), pool.take()];
    const small = pool.take();
    expect(small.length).toBe(128);
    pool.give(small);
    expect(pool.take().length).toBe(128);
    pool.give(a!);
    const again = pool.take();
    expect(again).toBe(a); // reused, not reallocated
    pool.drop(b!);
    pool.drop(b!); // twice is harmless: it left the budget once
    expect(pool.largeBytesOut).toBe(1024);
    expect(pool.take().length).toBe(1024);
    expect(pool.take().length).toBe(128);
  });

  it('a dropped buffer is never handed out again (an aborted stream may still be sending it)', () => {
    const pool = new BufferPool({ size: 1024, budget: 1024 });
    const a = pool.take();
    pool.drop(a);
    expect(pool.take()).not.toBe(a);
    expect(pool.idle).toBe(0);
  });

  it('keeps at most `keep` idle buffers of each size', () => {
    const pool = new BufferPool({ size: 1024, smallSize: 128, budget: 8 * 1024, keep: 2 });
    const all = Array.from({ length: 10 }, () => pool.take());
    for (const b of all) pool.give(b);
    expect(pool.idle).toBe(4);
  });
});
