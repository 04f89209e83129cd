import { describe, expect, it, vi } from 'vitest';
import { MetricsRegistry } from '../../../src/core/metrics.js';

/** Two registries fed the same observations, one through bound series and one through inc/observe. */
function pair() {
  const viaSeries = new MetricsRegistry();
  const viaCalls = new MetricsRegistry();
  const make = (r: MetricsRegistry) => ({
    c: r.counter('t_requests_total', 'Requests.', ['status', 'route']),
    h: r.histogram('t_seconds', 'Latency.', [0.001, 0.01, 0.1, 1], ['route']),
  });
  return { viaSeries, viaCalls, a: make(viaSeries), b: make(viaCalls) };
}

describe('bound metric series', () => {
  it('expose exactly what the same inc/observe calls expose', async () => {
    const { viaSeries, viaCalls, a, b } = pair();
    // Counted the ordinary way before it is bound: the bound series adds to the same record.
    a.c.inc({ status: '200', route: 'ipxe-node' });
    b.c.inc({ route: 'ipxe-node', status: '200' });
    const ok = a.c.series({ route: 'ipxe-node', status: '200' });
    const missing = a.c.series({ status: '404', route: 'file' });
    const node = a.h.series({ route: 'ipxe-node' });
    const values = [0.0004, 0.002, 0.02, 0.5, 3, 0.001, 0.1, 0];
    for (const v of values) {
      ok.inc();
      node.observe(v);
      b.c.inc({ route: 'ipxe-node', status: '200' });
      b.h.observe(v, { route: 'ipxe-node' });
    }
    missing.inc(3);
    b.c.inc({ route: 'file', status: '404' }, 3);
    // Mixed: the ordinary call on a series that is also bound lands in the same series.
    a.h.observe(0.05, { route: 'ipxe-node' });
    b.h.observe(0.05, { route: 'ipxe-node' });
    const text = await viaSeries.expose();
    expect(text).toBe(await viaCalls.expose());
    expect(text).toContain('t_requests_total{route="ipxe-node",status="200"} 9');
    expect(text).toContain('t_seconds_bucket{le="0.01",route="ipxe-node"} 4');
    expect(text).toContain('t_seconds_count{route="ipxe-node"} 9');
  });

  it('still refuse what prom-client refuses (a negative count, a non-finite observation)', () => {
    const { a } = pair();
    const s = a.c.series({ route: 'x', status: '200' });
    s.inc();
    expect(() => s.inc(-1)).toThrow();
    const h = a.h.series({ route: 'x' });
    h.observe(0.1);
    expect(() => h.observe(Number.NaN)).toThrow();
  });

  it('a series bound but never counted is not exposed', async () => {
    const { viaSeries, a } = pair();
    a.c.series({ route: 'never', status: '200' });
    expect(await viaSeries.expose()).not.toContain('never');
  });

  it('go through prom-client once per series, then add to its record (also a series it already counted)', () => {
    const { a } = pair();
    a.c.inc({ route: 'before', status: '200' });
    const inc = vi.spyOn(a.c.inner, 'inc');
    const observe = vi.spyOn(a.h.inner, 'observe');
    const fresh = a.c.series({ route: 'fresh', status: '200' });
    const known = a.c.series({ status: '200', route: 'before' });
    const h = a.h.series({ route: 'fresh' });
    for (let i = 0; i < 100; i++) {
      fresh.inc();
      known.inc();
      h.observe(0.002);
    }
    expect(inc).toHaveBeenCalledTimes(2);
    expect(observe).toHaveBeenCalledTimes(1);
  });
});
