import { Histogram } from './promClasses';

/**
 * Bucket upper bounds in seconds for batch latencies (an inference batch, a database transaction): from half a
 * millisecond (a small batch on an idle host) to 10 s (a stalled disk), about 2.5x apart.
 */
export const LATENCY_BUCKETS_S = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * A batch-latency histogram (prom-client, seconds): observed once per batch, never per packet. It is created
 * unregistered, so a component owns it whether or not a Prometheus endpoint runs; the endpoint registers it.
 * The JSON stats line's p50/p99 come from the same buckets, estimated like PromQL's histogram_quantile().
 */
export class LatencyHistogram {
  readonly metric: Histogram;

  constructor(name: string, help: string) {
    this.metric = new Histogram({ name, help, buckets: LATENCY_BUCKETS_S, registers: [] });
  }

  observe(seconds: number): void {
    this.metric.observe(seconds);
  }

  /** Observations so far. */
  async count(): Promise<number> {
    const v = (await this.metric.get()).values.find((x) => x.metricName?.endsWith('_count'));
    return v?.value ?? 0;
  }

  /** p50 and p99 in milliseconds (0 before the first observation). */
  async percentilesMs(): Promise<{ p50: number; p99: number }> {
    const values = (await this.metric.get()).values;
    const buckets: { le: number; count: number }[] = [];
    for (const v of values) {
      if (!v.metricName?.endsWith('_bucket')) continue;
      const le = v.labels.le;
      buckets.push({ le: le === '+Inf' ? Infinity : Number(le), count: v.value });
    }
    buckets.sort((a, b) => a.le - b.le);
    return { p50: quantile(0.5, buckets) * 1000, p99: quantile(0.99, buckets) * 1000 };
  }
}

/**
 * histogram_quantile(): the bucket holding the q-th observation, linearly interpolated inside it; observations
 * above the last finite bound are reported at that bound. Buckets are cumulative and sorted by `le`.
 */
export function quantile(q: number, buckets: readonly { le: number; count: number }[]): number {
  const total = buckets.length > 0 ? buckets[buckets.length - 1]!.count : 0;
  if (total === 0) return 0;
  const rank = q * total;
  let lowerBound = 0;
  let lowerCount = 0;
  for (const b of buckets) {
    if (b.count >= rank) {
      if (b.le === Infinity) return lowerBound;
      const inBucket = b.count - lowerCount;
      return inBucket === 0 ? b.le : lowerBound + ((b.le - lowerBound) * (rank - lowerCount)) / inBucket;
    }
    lowerBound = b.le;
    lowerCount = b.count;
  }
  return lowerBound;
}
