/** Batch latencies kept for the percentiles: enough for a stable p99, small enough to sort on every stats read. */
export const LATENCY_WINDOW = 1024;

/** The last LATENCY_WINDOW latencies in a ring; percentiles are computed on demand (stats reads are rare). */
export class LatencyWindow {
  private readonly values = new Float64Array(LATENCY_WINDOW);
  private count = 0;
  private next = 0;

  add(ms: number): void {
    this.values[this.next] = ms;
    this.next = (this.next + 1) % LATENCY_WINDOW;
    if (this.count < LATENCY_WINDOW) this.count++;
  }

  /** Nearest-rank percentiles; 0 when nothing was recorded yet. */
  percentiles(): { p50: number; p99: number } {
    if (this.count === 0) return { p50: 0, p99: 0 };
    const sorted = this.values.slice(0, this.count).sort();
    const at = (q: number): number => sorted[Math.min(this.count - 1, Math.ceil(q * this.count) - 1)]!;
    return { p50: at(0.5), p99: at(0.99) };
  }
}
