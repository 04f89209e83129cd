import type { CounterSeries, MetricsRegistry } from '../core/metrics.js';
import { loaderChain } from './loader-chain.js';
import type { BootTimeline } from './timeline.js';

/** Boot metrics fed by the timeline: boots by purpose/outcome, DHCP→answer time, bytes by class, stuck nodes. */
export function attachTimelineMetrics(timeline: BootTimeline, registry: MetricsRegistry): void {
  const boots = registry.counter('edgeboot_boots_total', 'Boot scripts served, by purpose and outcome.', ['purpose', 'outcome']);
  const toAnswer = registry.histogram('edgeboot_boot_to_answer_seconds', 'Time from the first DHCP lease (or first fetch) of a boot to its answer file.', [
    5, 10, 20, 30, 60, 120, 300, 600,
  ]);
  const bytes = registry.counter('edgeboot_served_bytes_total', 'Bytes served, by protocol and file class.', ['proto', 'class']);
  const chains = registry.counter('edgeboot_boot_chains_total', 'Boots that reached their kernel, by the loader chain they took, e.g. shim > grub > grub config > kernel.', ['chain']);
  const missing = registry.counter('edgeboot_files_not_found_total', 'Requests for files that do not exist (expected probes excluded), by protocol and file class.', ['proto', 'class']);
  const refused = registry.counter('edgeboot_boot_answers_refused_total', 'Answer files refused during boots, by reason.', ['reason']);
  // Kept incrementally by the timeline: a scrape costs the MACs whose diagnosis may have changed, not all of them.
  registry.gauge('edgeboot_stuck_nodes', 'Nodes whose boot is flagged stuck.', () => timeline.stuckMacs().size);
  registry.gauge('edgeboot_timeline_nodes', 'MACs with a boot timeline in memory.', () => timeline.size);
  // A script event's detail is "<purpose> <kind>/<template>": few distinct values, each bound to its two series
  // once, so a served script costs a map lookup rather than a split and a label sort, hash and check.
  const bootSeries = new Map<string, { ok: CounterSeries; error: CounterSeries }>();
  const bootsFor = (detail: string) => {
    let s = bootSeries.get(detail);
    if (!s) {
      // Bounded: a flood of distinct details (it cannot come from a client, but still) just rebinds.
      if (bootSeries.size >= 1024) bootSeries.clear();
      const purpose = detail.split(' ')[0] ?? 'unknown';
      s = { ok: boots.series({ purpose, outcome: 'ok' }), error: boots.series({ purpose, outcome: 'error' }) };
      bootSeries.set(detail, s);
    }
    return s;
  };
  timeline.onEvent((mac, e) => {
    if (e.bytes && (e.via === 'tftp' || e.via === 'http')) bytes.inc({ proto: e.via, class: e.stage }, e.bytes);
    if (e.stage === 'script') {
      const s = bootsFor(e.detail);
      (e.outcome === 'ok' ? s.ok : s.error).inc();
    }
    if (e.stage === 'kernel' && e.outcome === 'ok') chains.inc({ chain: loaderChain(timeline.events(mac)).join(' > ') });
    if (e.outcome === 'not found') missing.inc({ proto: e.via, class: e.stage });
    if (e.stage === 'answer-refused') refused.inc({ reason: e.outcome });
    if (e.stage === 'answer' && e.outcome === 'ok') {
      // The event just recorded is the last one; events() returns copies, so compare by position.
      const events = timeline.events(mac).filter((x) => e.at - x.at <= timeline.limits.bootWindowMs);
      const before = events.slice(0, -1);
      const start = before.find((x) => x.stage === 'dhcp') ?? before[0];
      // Only the first answer file of a boot counts (cloud-init fetches user-data, meta-data, vendor-data).
      const earlier = start !== undefined && before.some((x) => x.stage === 'answer' && x.at >= start.at);
      if (start && !earlier) toAnswer.observe((e.at - start.at) / 1000);
    }
  });
}
