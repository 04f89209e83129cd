import type { CounterSeries, HistogramSeries, MetricsRegistry } from '../core/metrics.js';

/** HTTP-side metrics, registered once. */
export function httpMetrics(registry: MetricsRegistry) {
  const render = registry.histogram('edgeboot_render_seconds', 'Template render latency by kind.', [
    0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1,
  ], ['kind']);
  const renderTimers = new Map<string, HistogramSeries>();
  return {
    render,
    /** Observe one render's seconds through a series bound once per kind. */
    observeRender(kind: string, seconds: number): void {
      let t = renderTimers.get(kind);
      if (!t) renderTimers.set(kind, (t = render.series({ kind })));
      t.observe(seconds);
    },
    requests: registry.counter('edgeboot_http_requests_total', 'HTTP requests by route and status.', ['route', 'status']),
    latency: registry.histogram('edgeboot_http_request_seconds', 'HTTP request latency by route.', [
      0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30,
    ], ['route']),
    renderFailures: registry.counter('edgeboot_render_failures_total', 'Renders that failed, by kind.', ['kind']),
    answersRefused: registry.counter('edgeboot_answers_refused_total', 'Answer-file requests refused, by reason.', ['reason']),
    streamsBusy: registry.counter('edgeboot_http_streams_refused_total', 'File streams refused because the stream limit was reached.'),
  };
}

/** The HTTP metric set. */
export type HttpMetrics = ReturnType<typeof httpMetrics>;

/**
 * Count a finished request and observe its latency through series bound once per (route, status): the same
 * series as `requests.inc` / `latency.observe`, without sorting, hashing and validating labels per request.
 * The counters are kept per route in an array indexed by status, so the per-request key is two lookups, no string.
 */
export function requestRecorder(m: HttpMetrics): (route: string, status: number, seconds: number) => void {
  const perRoute = new Map<string, { timer: HistogramSeries; byStatus: CounterSeries[] }>();
  return (route, status, seconds) => {
    let r = perRoute.get(route);
    if (!r) perRoute.set(route, (r = { timer: m.latency.series({ route }), byStatus: [] }));
    const c = (r.byStatus[status] ??= m.requests.series({ route, status: String(status) }));
    c.inc();
    r.timer.observe(seconds);
  };
}
