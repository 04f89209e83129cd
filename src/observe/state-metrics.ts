import type { MetricsRegistry } from '../core/metrics.js';

/** What the state gauges read at scrape time (the node store and the template store). */
export interface StateSources {
  store: { status(): { nodes: number; ageSeconds?: number } };
  templates: { errors(): readonly unknown[] };
}

/** The gauges of what is in force: nodes loaded, snapshot age, templates failing to compile. */
export function attachStateMetrics(metrics: MetricsRegistry, s: StateSources): void {
  metrics.gauge('edgeboot_nodes_loaded', 'Nodes in the snapshot in force.', () => s.store.status().nodes);
  metrics.gauge('edgeboot_snapshot_age_seconds', 'Seconds since the snapshot in force was loaded.', () => s.store.status().ageSeconds);
  metrics.gauge('edgeboot_template_errors', 'Templates that failed to compile (serving their last good version).', () => s.templates.errors().length);
}
