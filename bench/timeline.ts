/**
 * Timeline memory bench: 50,000 synthetic MACs × 20 events each (the default bounds), then
 * RSS and heap growth against the documented ceiling, and what observing them costs: a `/metrics`
 * scrape (target < 5 ms) and a status page view, paginated with stuck machines first (target < 10 ms),
 * against the full scan they replaced. Run with --expose-gc for steady figures.
 *
 * Usage: node --expose-gc dist-bench/bench/timeline.js [--macs 50000] [--events 20]
 */
import os from 'node:os';
import { parseArgs } from 'node:util';
import type { MacAddress } from '../src/core/mac.js';
import { parseMac } from '../src/core/mac.js';
import { MetricsRegistry } from '../src/core/metrics.js';
import { renderStatusPage } from '../src/http/status-page.js';
import { STATUS_PAGE_ROWS } from '../src/http/status-routes.js';
import { summarise } from '../src/observe/node-summary.js';
import { attachTimelineMetrics } from '../src/observe/timeline-metrics.js';
import { BootTimeline, STAGES } from '../src/observe/timeline.js';
import { table } from '../test/support/processes.js';

/** Documented ceiling: RSS growth for the default bounds (50,000 MACs × 20 events). */
export const RSS_CEILING_MB = 128;
/** Targets of issue 16 at 50,000 MACs. */
export const SCRAPE_TARGET_MS = 5;
export const PAGE_TARGET_MS = 10;

const { values } = parseArgs({ options: { macs: { type: 'string', default: '50000' }, events: { type: 'string', default: '20' } } });
const macs = Number(values.macs);
const perMac = Number(values.events);
const gc = (globalThis as { gc?: () => void }).gc ?? (() => undefined);

function mb(n: number): string {
  return (n / 1024 / 1024).toFixed(1);
}

const loadStart = os.loadavg()[0]!;
gc();
const before = process.memoryUsage();
const timeline = new BootTimeline({ maxNodes: macs, perNode: perMac });
const registry = new MetricsRegistry();
attachTimelineMetrics(timeline, registry);
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
// One machine in a hundred loops on its loader, so the stuck set is not empty.
for (let i = 0; i < macs; i += 100) {
  for (let k = 0; k < 2; k++) timeline.record(list[i]!, { at: Date.now(), stage: 'loader', via: 'tftp', detail: 'undionly.kpxe', outcome: 'ok' });
}
const q0 = performance.now();
let flagged = 0;
for (const m of timeline.macs()) if (timeline.stuck(m)) flagged++;
const scanMs = performance.now() - q0;

/** Median wall and CPU milliseconds of `runs` calls of `fn` (each after an untimed `prepare`), after two warm-ups. */
async function median(runs: number, prepare: () => void, fn: () => unknown): Promise<{ wall: number; cpu: number }> {
  await fn();
  await fn();
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < runs; i++) {
    prepare();
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    await fn();
    wall.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
  }
  const mid = (a: number[]) => a.sort((x, y) => x - y)[Math.floor(a.length / 2)]!;
  return { wall: mid(wall), cpu: mid(cpu) };
}
const source = { nodes: [], byMac: () => undefined };
let pageBytes = 0;
// Each scrape and page view follows a burst of fresh events, as during a storm.
let tick = 0;
const burst = () => {
  for (let k = 0; k < 100; k++) {
    const mac = list[(tick++ * 7919) % macs]!;
    timeline.record(mac, { at: Date.now(), stage: 'kernel', via: 'http', detail: details[2]!, bytes: 1, outcome: 'ok' });
  }
};
const scrape = await median(21, burst, () => registry.expose());
const page = await median(21, burst, () => {
  pageBytes = renderStatusPage(summarise(source, timeline, Date.now(), STATUS_PAGE_ROWS, 0), { version: 'bench' }, timeline.stageCounts()).length;
});
const stuckNow = timeline.stuckMacs().size;
const scrapeMs = scrape.wall;
const pageMs = page.wall;
console.log(`load average (1 min) at start ${loadStart.toFixed(2)}, at end ${os.loadavg()[0]!.toFixed(2)}`);
console.log(`timeline bench: ${macs} MACs × ${perMac} events kept (${macs * perMac * 2} recorded)`);
console.log(
  table(
    ['measure', 'value'],
    [
      ['record time', `${ms.toFixed(0)} ms (${((macs * perMac * 2) / (ms / 1000) / 1e6).toFixed(2)} M events/s)`],
      ['RSS before / after', `${mb(before.rss)} / ${mb(after.rss)} MiB`],
      ['RSS growth', `${mb(rssGrowth)} MiB (ceiling ${RSS_CEILING_MB} MiB)`],
      ['heap used growth', `${mb(after.heapUsed - before.heapUsed)} MiB`],
      ['full stuck scan of all MACs (what a scrape did before)', `${scanMs.toFixed(0)} ms (${flagged} flagged)`],
      ['/metrics scrape after 100 new events, median of 21', `${scrapeMs.toFixed(2)} ms wall, ${scrape.cpu.toFixed(2)} ms CPU (target < ${SCRAPE_TARGET_MS} ms; ${stuckNow} stuck)`],
      [`GET / page 1 (${STATUS_PAGE_ROWS} rows, stuck first), median of 21`, `${pageMs.toFixed(2)} ms wall, ${page.cpu.toFixed(2)} ms CPU (target < ${PAGE_TARGET_MS} ms; ${(pageBytes / 1024).toFixed(0)} KiB)`],
    ],
  ),
);
if (rssGrowth / 1024 / 1024 > RSS_CEILING_MB) {
  console.error(`RSS growth ${mb(rssGrowth)} MiB is over the ceiling of ${RSS_CEILING_MB} MiB`);
  process.exitCode = 1;
}
if (scrapeMs > SCRAPE_TARGET_MS || pageMs > PAGE_TARGET_MS) {
  console.error(`scrape ${scrapeMs.toFixed(2)} ms or page ${pageMs.toFixed(2)} ms is over its target`);
  process.exitCode = 1;
}
