import type { FlowScorer } from '../anomaly/scorerThread';
import type { Classifier } from '../classify/classifier';
import type { HostProfilesView } from '../hosts/hostProfilesThread';
import type { LatencyHistogram } from '../metrics/latencyHistogram';
import type { ClickHouseStats } from '../sink/clickhouse/clickhouseSink';
import type { Pipeline } from '../pipeline/pipeline';

/** Capture counters as the capture addon reports them. */
export interface CaptureCounters {
  received: number;
  dropped: number;
  ifDropped: number;
  /** Packets the engine handed to the pipeline. */
  delivered: number;
}

/** The stats object logged every N seconds and at exit, and exported to Prometheus. */
export interface StatsReport {
  uptime_s: number;
  packets_received: number;
  kernel_drops: number;
  /**
   * Packets the kernel accepted (and did not drop) that the sensor has not read: waiting in the capture buffer
   * while running; after a stop, the ones that arrived after the last read before capture closed (a stop under
   * load leaves some). packets_received = kernel_drops + packets_unread + frames_decoded; -1 where the engine
   * cannot tell (cap).
   */
  packets_unread: number;
  interface_drops: number;
  frames_decoded: number;
  tcp_packets: number;
  anomalies: Record<string, number>;
  flows_active: number;
  flows_created: number;
  flows_ended: Record<string, number>;
  evictions: number;
  flows_written: number;
  /** Flow records a sink failed to write (disk full, database gone): the daemon stops at the first failure. */
  flows_unwritten: number;
  inference_batches: number;
  /** Batches whose inference failed (their flows were written `classify-error`). */
  inference_errors: number;
  /** Flows answered by the verdict memo without a model row of their own (classify.verdictCache). */
  inference_reused: number;
  /** Flows written without the model (label `unclassified`) because its queue was full: a flood outran inference. */
  inference_skipped: number;
  /** p50/p99 since start, estimated from the Prometheus histogram's buckets (as histogram_quantile() would). */
  inference_latency_ms: { p50: number; p99: number };
  db_write_latency_ms: { p50: number; p99: number } | null;
  /**
   * Records of flows without payload the database did not store because writing was over its share of the time
   * (a flood); they still went to JSON lines. 0 without a database.
   */
  db_rows_shed: number;
  /** The ClickHouse output: spool depth, rows sent, retried attempts, dropped rows (null without one). */
  clickhouse: ClickHouseStats | null;
  /** Flows the anomaly model flagged (0 when it is off). */
  flows_anomalous: number;
  /** Flows written without an anomaly score although scoring is on: its queue was full, or a shutdown ran out of time. */
  flows_unscored: number;
  /**
   * Flows scored before the anomaly model's context hold was over because too many were waiting (more than about
   * 800 flows ending per second with a 5 s hold), and context keys dropped to bound memory: either way those flows'
   * context counters saw less than the model expects (0 without a hold, or when scoring is off).
   */
  anomaly_context_early: number;
  /** Flows that repeated an exchange scored before their longer retry hold was over (more than 1,024 waiting). */
  anomaly_context_retry_early: number;
  anomaly_context_evicted: number;
  /** Hosts with a profile in the open windows. */
  hosts_profiled: number;
  /** Flow sides not profiled because their window already had hosts.maxHosts hosts. */
  hosts_over_cap: number;
  /** Flows that ended in a profile window already closed. */
  hosts_late_flows: number;
  /** Hosts whose behaviour group changed (rows added to host_events). */
  host_events: number;
  rss_bytes: number;
  heap_used_bytes: number;
  /** The model monitor (drift, unknown share, ground truth), when it runs. */
  monitor?: import('../monitor/monitor').MonitorReport;
}

/** Anything with a write-latency histogram (the SQLite sink). */
export interface LatencySource {
  readonly latency: LatencyHistogram;
  readonly shed: number;
}

export async function buildStats(
  startedMs: number,
  pipeline: Pipeline,
  capture: CaptureCounters,
  classifier: Classifier | null,
  db: LatencySource | null,
  unwritten = 0,
  clickhouse: { stats(): ClickHouseStats } | null = null,
  scorer: FlowScorer | null = null,
  hosts: HostProfilesView | null = null,
): Promise<StatsReport> {
  const anomalies: Record<string, number> = {};
  for (const [k, v] of Object.entries(pipeline.anomalies)) if (v > 0) anomalies[k] = v;
  const mem = process.memoryUsage();
  const ended = { ...pipeline.table.stats.ended };
  return {
    uptime_s: Math.round((Date.now() - startedMs) / 1000),
    packets_received: capture.received,
    kernel_drops: capture.dropped,
    packets_unread: capture.received < 0 || capture.dropped < 0 ? -1 : Math.max(0, capture.received - capture.dropped - capture.delivered),
    interface_drops: capture.ifDropped,
    frames_decoded: pipeline.decoder.stats.frames,
    tcp_packets: pipeline.decoder.stats.tcp,
    anomalies,
    flows_active: pipeline.table.size,
    flows_created: pipeline.table.stats.flowsCreated,
    flows_ended: ended,
    evictions: ended.evicted ?? 0,
    flows_written: pipeline.written - unwritten,
    flows_unwritten: unwritten,
    inference_batches: classifier?.stats.batches ?? 0,
    inference_errors: classifier?.stats.errors ?? 0,
    inference_reused: classifier?.stats.reused ?? 0,
    inference_skipped: pipeline.skippedInference,
    inference_latency_ms: classifier !== null ? await classifier.latency.percentilesMs() : { p50: 0, p99: 0 },
    db_write_latency_ms: db !== null ? await db.latency.percentilesMs() : null,
    db_rows_shed: db?.shed ?? 0,
    clickhouse: clickhouse?.stats() ?? null,
    flows_anomalous: scorer?.stats.anomalies ?? 0,
    flows_unscored: pipeline.skippedScoring,
    anomaly_context_early: scorer?.stats.heldEarly ?? 0,
    anomaly_context_retry_early: scorer?.stats.heldEarlyRetry ?? 0,
    anomaly_context_evicted: scorer?.stats.contextEvicted ?? 0,
    hosts_profiled: hosts?.openHosts ?? 0,
    hosts_over_cap: hosts?.stats.hosts_over_cap ?? 0,
    hosts_late_flows: hosts?.stats.hosts_late_flows ?? 0,
    host_events: hosts?.stats.host_events ?? 0,
    rss_bytes: mem.rss,
    heap_used_bytes: mem.heapUsed,
  };
}
