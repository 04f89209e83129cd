/**
 * Timeline memory bench: 50,000 synthetic MACs × 20 events each (the default bounds), then
 * RSS and heap growth against the documented ceiling. Run with --expose-gc for steady figures.
 *
 * Usage: node --expose-gc dist-bench/bench/timeline.js [--macs 50000] [--events 20]
 */
import { parseArgs } from 'node:util';
import type { MacAddress } from '../src/core/mac.js';
import { parseMac } from '../src/core/mac.js';
import { BootTimeline, STAGES } from '../src/observe/timeline.js';
import { table } from '../test/support/processes.js';

/** Documented ceiling: RSS growth for the default bounds (50,000 MACs × 20 events). */
export const RSS_CEILING_MB = 128;

const { values } = parseArgs({ options: { macs: { type: 'string', default: '50000' }, events: { type: 'string', default: '20' } } });
const macs = Number(values.macs);
const perMac = Number(values.events);
const gc = (globalThis as { gc?: () => void }).gc ?? (() => undefined);

function mb(n: number): string {
  return (n / 1024 / 1024).toFixed(1);
}

gc();
const before = process.memoryUsage();
const timeline = new BootTimeline({ maxNodes: macs, perNode: perMac });
const details = ['undionly.kpxe', 'install ipxe/install', 'images/ubuntu/amd64/generic/noble/stable/kernel', 'preseed'];
const started = performance.now();
const list: MacAddress[] = [];
for (let i = 0; i < macs; i++) list.push(parseMac((0x525400000000 + i).toString(16).padStart(12, '0')));
// Interleave MACs the way a storm does, 2× the ring size so every ring wraps.
for (let round = 0; round < perMac * 2; round++) {
  for (let i = 0; i < macs; i++) {
    timeline.record(list[i]!, {
      at: Date.now(),
      stage: STAGES[round % STAGES.length]!,
      via: 'tftp',
      detail: details[round % details.length]!,
      bytes: 1_048_576,
      ms: 120,
      retransmits: 0,
      outcome: 'ok',
    });
  }
}
const ms = performance.now() - started;
gc();
const after = process.memoryUsage();
const rssGrowth = after.rss - before.rss;
const q0 = performance.now();
let flagged = 0;
for (const m of timeline.macs()) if (timeline.stuck(m)) flagged++;
const scanMs = performance.now() - q0;
console.log(`timeline bench: ${macs} MACs × ${perMac} events kept (${macs * perMac * 2} recorded)`);
console.log(
  table(
    ['measure', 'value'],
    [
      ['record time', `${ms.toFixed(0)} ms (${((macs * perMac * 2) / (ms / 1000) / 1e6).toFixed(2)} M events/s)`],
      ['RSS before / after', `${mb(before.rss)} / ${mb(after.rss)} MiB`],
      ['RSS growth', `${mb(rssGrowth)} MiB (ceiling ${RSS_CEILING_MB} MiB)`],
      ['heap used growth', `${mb(after.heapUsed - before.heapUsed)} MiB`],
      ['stuck scan of all MACs', `${scanMs.toFixed(0)} ms (${flagged} flagged)`],
    ],
  ),
);
if (rssGrowth / 1024 / 1024 > RSS_CEILING_MB) {
  console.error(`RSS growth ${mb(rssGrowth)} MiB is over the ceiling of ${RSS_CEILING_MB} MiB`);
  process.exitCode = 1;
}
