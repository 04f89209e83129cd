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

/** One label set of a counter, bound once: `inc` costs an addition, not a label hash and check. */
export interface CounterSeries {
  inc(by?: number): void;
}

/** One label set of a histogram, bound once: `observe` costs a bucket search, not a label hash and check. */
export interface HistogramSeries {
  observe(value: number): void;
}

/**
 * prom-client's own record of the series whose labels are `labels`, or undefined when this version of
 * prom-client keeps its series some other way; the callers then stay on the public path. A scrape reads these
 * records, so a bound series that adds to one is exposed exactly as if every call had gone through
 * `inc`/`observe`: prom-client's label children hash and validate the labels on every call (≈ 1–2 µs each,
 * several per boot request), this looks once. (prom-client keeps a record for the metric's life; only its
 * `reset()`, which the appliance never calls, would replace it.)
 */
function seriesRecord<T>(metric: object, labels: Labels): T | undefined {
  const map = (metric as { hashMap?: unknown }).hashMap;
  if (!map || typeof map !== 'object') return undefined;
  const keys = Object.keys(labels);
  const same = (l: unknown) =>
    !!l && typeof l === 'object' && Object.keys(l).length === keys.length && keys.every((k) => (l as Labels)[k] === labels[k]);
  return Object.values(map as Record<string, { labels?: unknown }>).find((r) => same(r.labels)) as T | undefined;
}

/** A monotonically increasing count per label set. */
export class Counter {
  constructor(readonly inner: prom.Counter<string>) {}
  inc(labels: Labels = {}, by = 1): void {
    this.inner.inc(sorted(labels), by);
  }

  /** The series for `labels`, for a caller that counts it often: the first `inc` goes through prom-client (and validates). */
  series(labels: Labels = {}): CounterSeries {
    const own = sorted(labels);
    let record: { value: number } | undefined;
    let looked = false;
    return {
      inc: (by = 1) => {
        // A negative or non-finite step takes the public path, which refuses it the way it always did.
        if (record && by >= 0 && by < Infinity) {
          record.value += by;
          return;
        }
        this.inner.inc(own, by);
        if (!looked) {
          looked = true;
          record = seriesRecord(this.inner, own);
        }
      },
    };
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
  constructor(
    readonly inner: prom.Histogram<string>,
    readonly buckets: readonly number[],
  ) {}
  observe(value: number, labels: Labels = {}): void {
    this.inner.observe(sorted(labels), value);
  }

  /** The series for `labels`, for a caller that observes it often: the first `observe` goes through prom-client. */
  series(labels: Labels = {}): HistogramSeries {
    const own = sorted(labels);
    const bounds = this.buckets;
    let record: { bucketValues: Record<number, number>; sum: number; count: number } | undefined;
    let looked = false;
    return {
      observe: (value) => {
        if (record && Number.isFinite(value)) {
          record.sum += value;
          record.count += 1;
          // Like prom-client: the observation counts in the first bucket that holds it (cumulated when scraped).
          for (let i = 0; i < bounds.length; i++) {
            if (value <= bounds[i]!) {
              record.bucketValues[bounds[i]!]! += 1;
              return;
            }
          }
          return;
        }
        this.inner.observe(own, value);
        if (!looked) {
          looked = true;
          record = seriesRecord(this.inner, own);
        }
      },
    };
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
    return new Histogram(new prom.Histogram({ name, help, buckets, labelNames: [...labelNames].sort(), registers: [this.prom] }), buckets);
  }

  /** The whole registry as Prometheus text. */
  expose(): Promise<string> {
    return this.prom.metrics();
  }
}
