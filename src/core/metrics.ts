import * as prom from 'prom-client';

// The metric types are prom-client's (the library Node exporters use); this module only keeps the
// appliance's call shape — `inc(labels, by)`, `observe(value, labels)`, gauges read at scrape time — and
// hands prom-client label sets with their keys sorted, so every series keeps the exposition it always had.

/** Label values of one series. */
export type Labels = Record<string, string>;

function sorted(labels: Labels): Labels {
  const out: Labels = {};
  for (const k of Object.keys(labels).sort()) out[k] = labels[k]!;
  return out;
}

/** A monotonically increasing count per label set. */
export class Counter {
  constructor(readonly inner: prom.Counter<string>) {}
  inc(labels: Labels = {}, by = 1): void {
    this.inner.inc(sorted(labels), by);
  }
}

/** A value that goes up and down, or is read from a callback at scrape time. */
export class Gauge {
  constructor(readonly inner: prom.Gauge<string>) {}
  set(value: number, labels: Labels = {}): void {
    this.inner.set(sorted(labels), value);
  }
  inc(labels: Labels = {}, by = 1): void {
    this.inner.inc(sorted(labels), by);
  }
  dec(labels: Labels = {}, by = 1): void {
    this.inner.dec(sorted(labels), by);
  }
}

/** Cumulative-bucket histogram per label set. */
export class Histogram {
  constructor(readonly inner: prom.Histogram<string>) {}
  observe(value: number, labels: Labels = {}): void {
    this.inner.observe(sorted(labels), value);
  }
}

/** All metrics of the appliance in one prom-client registry, exposed in Prometheus text format 0.0.4. */
export class MetricsRegistry {
  /** The prom-client registry (main.ts adds the standard process_* and nodejs_* series to it). */
  readonly prom = new prom.Registry();

  /** A counter; `labelNames` lists every label its series carry. */
  counter(name: string, help: string, labelNames: readonly string[] = []): Counter {
    return new Counter(new prom.Counter({ name, help, labelNames: [...labelNames].sort(), registers: [this.prom] }));
  }

  /** A gauge; with `collect` it is read at scrape time, and `undefined` leaves it without a sample. */
  gauge(name: string, help: string, collect?: () => number | undefined): Gauge {
    const g = new prom.Gauge({
      name,
      help,
      registers: [this.prom],
      ...(collect && {
        collect(this: prom.Gauge) {
          const v = collect();
          if (v === undefined) this.remove();
          else this.set(v);
        },
      }),
    });
    return new Gauge(g);
  }

  /** A histogram with the given upper bucket bounds; `labelNames` lists every label its series carry. */
  histogram(name: string, help: string, buckets: number[], labelNames: readonly string[] = []): Histogram {
    return new Histogram(new prom.Histogram({ name, help, buckets, labelNames: [...labelNames].sort(), registers: [this.prom] }));
  }

  /** The whole registry as Prometheus text. */
  expose(): Promise<string> {
    return this.prom.metrics();
  }
}
