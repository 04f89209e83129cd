/**
 * Run a storm of simulated machines against one boot stack and summarise it: completions, failures by
 * stage, per-node time percentiles, throughput and retry counts.
 */
import { type BootResult, type BootTarget, bootMachine, type Machine, STAGES, type Stage } from './storm-machine.js';

/** `n` machines, each with its own loopback source address (127.1.x.y) and a MAC derived from its index. */
export function machinesFor(n: number, prefix = '127.1'): Machine[] {
  return Array.from({ length: n }, (_, i) => {
    const hi = (i >> 8) & 0xff;
    const lo = i & 0xff;
    const h = (v: number) => v.toString(16).padStart(2, '0');
    return { mac: `52:54:01:00:${h(hi)}:${h(lo)}`, ip: `${prefix}.${Math.floor(i / 250)}.${(i % 250) + 1}` };
  });
}

/** What a storm amounted to. */
export interface StormSummary {
  machines: number;
  completed: number;
  failures: Record<Stage, number>;
  p50ms: number;
  p99ms: number;
  maxMs: number;
  wallMs: number;
  bytes: number;
  /** Aggregate payload throughput, MB/s (10^6 bytes). */
  mbps: number;
  http503: number;
  tftpBusy: number;
  transport: number;
  tftpRetransmits: number;
  /** p50 and p99 of each stage's own time (ms), over the machines that passed it. */
  stages: Record<Stage, { p50: number; p99: number }>;
  /** A few failure messages, for the log. */
  errors: string[];
}

/** The value at quantile `q` (nearest rank) of an ascending array. */
export function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

/** Summarise machine results of a storm that took `wallMs`. */
export function summarise(results: BootResult[], wallMs: number): StormSummary {
  const done = results.filter((r) => r.ok).map((r) => r.ms).sort((a, b) => a - b);
  const failures = Object.fromEntries(STAGES.map((s) => [s, 0])) as Record<Stage, number>;
  for (const r of results) if (!r.ok) failures[r.failedStage ?? 'tftp']++;
  const sum = (f: (r: BootResult) => number) => results.reduce((n, r) => n + f(r), 0);
  const bytes = sum((r) => r.bytes);
  return {
    machines: results.length,
    completed: done.length,
    failures,
    p50ms: quantile(done, 0.5),
    p99ms: quantile(done, 0.99),
    maxMs: done[done.length - 1] ?? Number.NaN,
    wallMs,
    bytes,
    mbps: bytes / 1e6 / (wallMs / 1000),
    http503: sum((r) => r.retries.http503),
    tftpBusy: sum((r) => r.retries.tftpBusy),
    transport: sum((r) => r.retries.transport),
    tftpRetransmits: sum((r) => r.retries.tftpRetransmits),
    stages: Object.fromEntries(
      STAGES.map((st) => {
        const xs = results.map((r) => r.stageMs[st]).filter((v): v is number => v !== undefined).sort((a, b) => a - b);
        return [st, { p50: quantile(xs, 0.5), p99: quantile(xs, 0.99) }];
      }),
    ) as Record<Stage, { p50: number; p99: number }>,
    errors: [...new Set(results.filter((r) => !r.ok).map((r) => `${r.failedStage}: ${r.error}`))].slice(0, 5),
  };
}

/** Power on every machine within `rampMs` (a rack after a power cut: all in the same second) and wait for all. */
export async function runStorm(machines: Machine[], target: BootTarget | ((m: Machine) => BootTarget), rampMs = 1000): Promise<{ results: BootResult[]; summary: StormSummary }> {
  const t0 = performance.now();
  const results = await Promise.all(
    machines.map(async (m) => {
      await new Promise((r) => setTimeout(r, Math.random() * rampMs));
      return bootMachine(m, typeof target === 'function' ? target(m) : target);
    }),
  );
  return { results, summary: summarise(results, performance.now() - t0) };
}

/** Failures by stage as `tftp=0 entry=0 …`, only non-zero stages (or "none"). */
export function failureLine(f: Record<Stage, number>): string {
  const parts = STAGES.filter((s) => f[s] > 0).map((s) => `${s}=${f[s]}`);
  return parts.length > 0 ? parts.join(' ') : 'none';
}
