/**
 * Prometheus metrics helpers shared by the agent and the reconciler (prom-client). Each process part builds
 * its own Registry (several agents may run in one process: tests, the demo), never prom-client's global one.
 *
 * Hot paths keep plain numbers; `collected` and `BucketCounts` turn them into series only when scraped, so
 * counting a request costs an increment, never a label lookup or an allocation.
 */
import { Registry, type Metric } from "prom-client";

/** Content-Type of the Prometheus text exposition format 0.0.4. */
export const METRICS_CONTENT_TYPE = Registry.PROMETHEUS_CONTENT_TYPE;

export type Labels = Record<string, string | number>;

export interface Sample {
  labels?: Labels;
  value: number;
  /** For histogram parts: name_bucket, name_sum, name_count. */
  metricName?: string;
}

/** Registers a series whose samples are computed at scrape time. Non-finite values are written as 0. */
export function collected(registry: Registry, name: string, type: "counter" | "gauge" | "histogram", help: string, samples: () => Sample[]): void {
  const metric = {
    name,
    help,
    type,
    aggregator: "sum",
    collect: () => {},
    get: async () => ({
      name, help, type, aggregator: "sum",
      values: samples().map((s) => ({ ...s, labels: s.labels ?? {}, value: Number.isFinite(s.value) ? s.value : 0 })),
    }),
  };
  registry.registerMetric(metric as unknown as Metric);
}

/**
 * A histogram kept as plain numbers: `observe` is a few comparisons and two additions. `bounds` are the
 * upper bounds in seconds (ascending); the +Inf bucket is implied.
 */
export class BucketCounts {
  /** Observations per bucket (not cumulative); the last slot is +Inf. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(readonly bounds: readonly number[]) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(v: number): void {
    const b = this.bounds;
    let i = 0;
    while (i < b.length && v > b[i]!) i++;
    this.counts[i]!++;
    this.sum += v;
    this.count++;
  }

  /** The cumulative _bucket, _sum and _count samples of this histogram under `labels`. */
  samples(name: string, labels: Labels = {}): Sample[] {
    const out: Sample[] = [];
    let acc = 0;
    for (let i = 0; i < this.counts.length; i++) {
      acc += this.counts[i]!;
      out.push({ metricName: `${name}_bucket`, labels: { ...labels, le: i < this.bounds.length ? this.bounds[i]! : "+Inf" }, value: acc });
    }
    out.push({ metricName: `${name}_sum`, labels, value: this.sum }, { metricName: `${name}_count`, labels, value: this.count });
    return out;
  }
}

/** Buckets for request and probe latencies, in seconds. */
export const LATENCY_BUCKETS_SECONDS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;
/** Buckets for slow operations (pulls, reconcile passes, handoffs), in seconds. */
export const SLOW_BUCKETS_SECONDS = [0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300] as const;

export { Registry };
