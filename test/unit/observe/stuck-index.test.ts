import { describe, expect, it } from 'vitest';
import type { MacAddress } from '../../../src/core/mac.js';
import { parseMac } from '../../../src/core/mac.js';
import { BootTimeline, STAGES, diagnose, type Stage } from '../../../src/observe/timeline.js';

/** A small deterministic PRNG, so a red run can be replayed. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const DETAILS = ['undionly.kpxe', 'snponly.efi', 'install ipxe/install', 'commission', 'kernel', 'preseed'];

/** The full recount the index replaces: diagnose every MAC, count every latest stage. */
function recount(t: BootTimeline, now: number) {
  const stuck = new Map<MacAddress, string>();
  const stages = new Map<Stage, number>();
  for (const mac of t.macs()) {
    const events = t.events(mac);
    const f = diagnose(events, now, t.limits);
    if (f) stuck.set(mac, f.kind);
    const last = events.at(-1)!.stage;
    stages.set(last, (stages.get(last) ?? 0) + 1);
  }
  return { stuck, stages };
}

describe('incremental stuck set and stage counts', () => {
  for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
    it(`equal a full recount after a random event sequence (seed ${seed})`, () => {
      const r = rng(seed);
      const t = new BootTimeline({ maxNodes: 40, perNode: 6, bootWindowMs: 5_000, kernelDeadlineMs: 2_000 });
      const macs = Array.from({ length: 60 }, (_, i) => parseMac((0x525400aa0000 + i).toString(16).padStart(12, '0')));
      let now = 1_000_000;
      for (let step = 0; step < 3000; step++) {
        now += Math.floor(r() * 400);
        const mac = macs[Math.floor(r() * macs.length)]!;
        const stage = STAGES[Math.floor(r() * 9)]!;
        t.record(mac, {
          at: now,
          stage,
          via: 'tftp',
          detail: DETAILS[Math.floor(r() * DETAILS.length)]!,
          outcome: r() < 0.9 ? 'ok' : 'not found',
        });
        if (step % 37 === 0) {
          // Query at a later instant too: deadlines and the boot window pass with no event.
          const at = now + Math.floor(r() * 8_000);
          const want = recount(t, at);
          const got = t.stuckMacs(at);
          expect(new Map([...got].map(([m, f]) => [m, f.kind]))).toEqual(want.stuck);
          expect(new Map(t.stageCounts())).toEqual(want.stages);
          now = at;
        }
      }
      const end = now + 20_000;
      expect(t.stuckMacs(end).size).toBe(recount(t, end).stuck.size);
    });
  }

  it('flags a boot script whose kernel never came once the deadline passes, and clears it when the window closes', () => {
    const t = new BootTimeline({ bootWindowMs: 10_000, kernelDeadlineMs: 3_000 });
    const mac = parseMac('52:54:00:aa:bb:01');
    t.record(mac, { at: 1000, stage: 'script', via: 'http', detail: 'install ipxe/install', outcome: 'ok' });
    expect(t.stuckMacs(3500).size).toBe(0);
    expect(t.stuckMacs(4001).get(mac)?.kind).toBe('no-kernel');
    expect(t.stuckMacs(11_001).size).toBe(0);
  });
});
