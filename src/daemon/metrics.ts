import { createServer } from 'node:http';
import { collectDefaultMetrics, Counter, Gauge, type Metric, Registry } from 'prom-client';
import { ConfigError } from '../config/config';
import type { LatencyHistogram } from '../metrics/latencyHistogram';
import type { ClickHouseStats } from '../sink/clickhouse/clickhouseSink';
import type { StatsReport } from './statsReport';

export interface MetricsServer {
  url: string;
  close(): Promise<void>;
}

/** What the endpoint serves: the stats report read at scrape time, and histograms observed as things happen. */
export interface MetricsSources {
  stats: () => Promise<StatsReport>;
  /** The capture interface: the label of the capture counters. */
  iface: string;
  /** Latency histograms (inference, database writes) that exist in this run. */
  histograms: readonly LatencyHistogram[];
  /** Whether a classifier runs (its counters are served only then). */
  classifying: boolean;
  /** Whether a ClickHouse output runs (its metrics are served only then). */
  clickhouse?: boolean;
  info: { version: string; sensor: string; modelVersion: () => string | null };
  /** Metrics other parts keep (the model monitor's), served on the same page. */
  more?: readonly Metric[];
}

/** Default prom-client metrics left out because they break the exposition conventions promtool checks. */
const PROMTOOL_REJECTS = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

/** The metrics every scrape serves under `sensor_` (README "Prometheus metrics" lists the same set). */
export const SENSOR_METRICS = [
  'sensor_build_info',
  'sensor_model_info',
  'sensor_packets_received_total',
  'sensor_kernel_drops_total',
  'sensor_interface_drops_total',
  'sensor_packets_unread',
  'sensor_frames_decoded_total',
  'sensor_tcp_packets_total',
  'sensor_anomalies_total',
  'sensor_flows_active',
  'sensor_flows_created_total',
  'sensor_flows_ended_total',
  'sensor_evictions_total',
  'sensor_flows_written_total',
  'sensor_flows_unwritten_total',
  'sensor_inference_batches_total',
  'sensor_inference_errors_total',
  'sensor_inference_reused_total',
  'sensor_inference_skipped_total',
  'sensor_inference_batch_duration_seconds',
  'sensor_db_write_duration_seconds',
  'sensor_db_rows_shed_total',
  'sensor_flows_anomalous_total',
  'sensor_flows_unscored_total',
  'sensor_anomaly_context_early_total',
  'sensor_anomaly_context_retry_early_total',
  'sensor_anomaly_context_evicted_total',
  'sensor_hosts_profiled',
  'sensor_hosts_over_cap_total',
  'sensor_hosts_late_flows_total',
  'sensor_host_events_total',
] as const;

/** The ClickHouse output's metrics (README "A fleet of sensors"), served when the sensor has one. */
export const CLICKHOUSE_METRICS = [
  'sensor_clickhouse_queued_rows',
  'sensor_clickhouse_spool_batches',
  'sensor_clickhouse_spool_rows',
  'sensor_clickhouse_spool_bytes',
  'sensor_clickhouse_sent_rows_total',
  'sensor_clickhouse_sent_batches_total',
  'sensor_clickhouse_retried_total',
  'sensor_clickhouse_dropped_rows_total',
  'sensor_clickhouse_dropped_batches_total',
  'sensor_clickhouse_rejected',
] as const;

/**
 * A Prometheus endpoint (GET /metrics) on a local address, by the book: monotonic counts are counters
 * (`_total`), the flow table's size is a gauge, latencies are histograms in seconds, a value the capture cannot
 * tell is left out rather than written as -1, and prom-client's default process_* / nodejs_* metrics come along.
 * Counters and gauges are read from the stats report at scrape time, so nothing is updated per packet.
 */
export async function startMetricsServer(host: string, port: number, src: MetricsSources): Promise<MetricsServer> {
  const metrics = sensorMetrics(src);
  const server = createServer((req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404).end('see /metrics\n');
      return;
    }
    metrics.text().then(
      (text) => res.writeHead(200, { 'Content-Type': metrics.contentType }).end(text),
      (e: Error) => res.writeHead(500).end(e.message),
    );
  });
  await new Promise<void>((resolve, reject) => {
    // A ConfigError: the CLI prints it as one line and exits 2 (the usual cause is a port already taken, e.g. by
    // another sensor@ instance reading the same config file).
    server.once('error', (e) =>
      reject(
        new ConfigError(
          `Cannot start the Prometheus endpoint on ${host}:${port}: ${e.message} (set stats.prometheusPort to a free port; ` +
            'sensor@ instances sharing one config file each need their own: SENSOR_STATS__PROMETHEUS_PORT in /etc/sensor/<interface>.env)',
        ),
      ),
    );
    server.listen(port, host, resolve);
  });
  const address = server.address();
  const bound = address !== null && typeof address === 'object' ? address.port : port;
  return {
    url: `http://${host}:${bound}/metrics`,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/**
 * The sensor's Prometheus exposition, read from the stats report at scrape time (and the histograms as they
 * are). Served by the endpoint above and appended to the HTTP API's /metrics (`--serve`).
 */
export function sensorMetrics(src: MetricsSources): { contentType: string; text(): Promise<string> } {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  // prom-client's defaults include three gauges named like counters, which `promtool check metrics` rejects
  // ("non-counter metrics should not have _total suffix"); their per-type twins (nodejs_active_handles, ...) stay.
  for (const name of PROMTOOL_REJECTS) registry.removeSingleMetric(name);
  let current: StatsReport | null = null;

  // A count the stats report carries; `read` returns it (or a value per label), negative = unknown: left out.
  const counter = (name: string, help: string, labelNames: string[], read: (s: StatsReport) => number | Record<string, number>): void => {
    new Counter({
      name,
      help,
      labelNames,
      registers: [registry],
      collect() {
        this.reset();
        if (current === null) return;
        const v = read(current);
        if (typeof v === 'number') {
          if (v < 0) return;
          if (labelNames.length === 0) this.inc(v);
          else this.inc({ [labelNames[0]!]: src.iface }, v);
          return;
        }
        for (const [k, n] of Object.entries(v)) if (n >= 0) this.inc({ [labelNames[0]!]: k }, n);
      },
    });
  };
  const capture = ['interface'];
  counter('sensor_packets_received_total', 'Packets the kernel handed to the capture (pcap_stats ps_recv)', capture, (s) => s.packets_received);
  counter('sensor_kernel_drops_total', 'Packets the kernel dropped because the capture buffer was full (pcap_stats ps_drop)', capture, (s) => s.kernel_drops);
  counter('sensor_interface_drops_total', 'Packets the interface or driver dropped (pcap_stats ps_ifdrop)', capture, (s) => s.interface_drops);
  counter('sensor_frames_decoded_total', 'Frames the decoder read', [], (s) => s.frames_decoded);
  counter('sensor_tcp_packets_total', 'TCP segments decoded', [], (s) => s.tcp_packets);
  counter('sensor_anomalies_total', 'Packets skipped, by anomaly name (README, src/decode/anomalies.ts)', ['name'], (s) => s.anomalies);
  counter('sensor_flows_created_total', 'Flows opened in the flow table', [], (s) => s.flows_created);
  counter('sensor_flows_ended_total', 'Flows ended, by end reason (an `active` interim record counts here too)', ['reason'], (s) => s.flows_ended);
  counter('sensor_evictions_total', 'Flows written early because the flow table was full', [], (s) => s.evictions);
  counter('sensor_flows_written_total', 'Flow records written to every output', [], (s) => s.flows_written);
  counter('sensor_flows_unwritten_total', 'Flow records an output failed to write (the sensor stops at the first failure)', [], (s) => s.flows_unwritten);
  if (src.classifying) {
    counter('sensor_inference_batches_total', 'Inference batches run', [], (s) => s.inference_batches);
    counter('sensor_inference_errors_total', 'Inference batches that failed (their flows are written classify-error)', [], (s) => s.inference_errors);
    counter('sensor_inference_reused_total', 'Flows answered by the verdict memo: the same sequence as a flow the model answered recently', [], (s) => s.inference_reused);
    counter('sensor_inference_skipped_total', 'Flows written without the model (unclassified) because its queue was full: a flood outran inference', [], (s) => s.inference_skipped);
  }
  counter('sensor_db_rows_shed_total', 'Records of flows without payload SQLite did not store while writes took more than half the time', [], (s) => s.db_rows_shed);
  counter('sensor_flows_anomalous_total', 'Flows the anomaly model flagged', [], (s) => s.flows_anomalous);
  counter('sensor_flows_unscored_total', 'Flows written without an anomaly score because its queue was full or a shutdown ran out of time', [], (s) => s.flows_unscored);
  counter('sensor_anomaly_context_early_total', "Flows scored before the anomaly model's context hold was over because too many were waiting", [], (s) => s.anomaly_context_early);
  counter('sensor_anomaly_context_retry_early_total', "Flows that repeated an exchange scored before the model's longer retry hold was over because too many were waiting", [], (s) => s.anomaly_context_retry_early);
  counter('sensor_anomaly_context_evicted_total', 'Anomaly context keys dropped to keep its memory bounded', [], (s) => s.anomaly_context_evicted);
  counter('sensor_hosts_over_cap_total', 'Flow sides not profiled because their window already had hosts.maxHosts hosts', [], (s) => s.hosts_over_cap);
  counter('sensor_hosts_late_flows_total', 'Flows that ended in a host profile window already closed', [], (s) => s.hosts_late_flows);
  counter('sensor_host_events_total', 'Hosts whose behaviour group changed', [], (s) => s.host_events);
  new Gauge({
    name: 'sensor_hosts_profiled',
    help: 'Hosts with a profile in the open windows',
    registers: [registry],
    collect() {
      if (current !== null) this.set(current.hosts_profiled);
    },
  });
  new Gauge({
    name: 'sensor_packets_unread',
    help: 'Packets the kernel accepted that the sensor has not read (after a stop: left in the capture buffer)',
    labelNames: ['interface'],
    registers: [registry],
    collect() {
      this.reset();
      if (current !== null && current.packets_unread >= 0) this.set({ interface: src.iface }, current.packets_unread);
    },
  });
  if (src.clickhouse === true) {
    const chCounter = (name: string, help: string, read: (c: ClickHouseStats) => number): void =>
      counter(name, help, [], (s) => (s.clickhouse !== null ? read(s.clickhouse) : -1));
    const chGauge = (name: string, help: string, read: (c: ClickHouseStats) => number): void => {
      new Gauge({
        name,
        help,
        registers: [registry],
        collect() {
          if (current !== null && current.clickhouse !== null) this.set(read(current.clickhouse));
        },
      });
    };
    chGauge('sensor_clickhouse_queued_rows', 'Rows waiting in memory for the next ClickHouse insert', (c) => c.queued_rows);
    chGauge('sensor_clickhouse_spool_batches', 'Batches waiting in the ClickHouse spool on disk', (c) => c.spool_batches);
    chGauge('sensor_clickhouse_spool_rows', 'Rows waiting in the ClickHouse spool on disk', (c) => c.spool_rows);
    chGauge('sensor_clickhouse_spool_bytes', 'Bytes of the ClickHouse spool on disk', (c) => c.spool_bytes);
    chCounter('sensor_clickhouse_sent_rows_total', 'Rows ClickHouse accepted', (c) => c.sent_rows);
    chCounter('sensor_clickhouse_sent_batches_total', 'INSERTs ClickHouse accepted', (c) => c.sent_batches);
    chCounter('sensor_clickhouse_retried_total', 'Failed ClickHouse inserts whose rows were spooled to be sent again', (c) => c.retried);
    chCounter('sensor_clickhouse_dropped_rows_total', 'Rows dropped because the ClickHouse spool was full (oldest first)', (c) => c.dropped_rows);
    chCounter('sensor_clickhouse_dropped_batches_total', 'Batches dropped because the ClickHouse spool was full', (c) => c.dropped_batches);
    chGauge('sensor_clickhouse_rejected', '1 while ClickHouse refuses the rows (schema mismatch, login): inserts wait for a reload', (c) => (c.rejected ? 1 : 0));
  }
  new Gauge({
    name: 'sensor_flows_active',
    help: 'Flows in the flow table',
    registers: [registry],
    collect() {
      if (current !== null) this.set(current.flows_active);
    },
  });
  new Gauge({
    name: 'sensor_build_info',
    help: 'The sensor: version and name (value 1)',
    labelNames: ['version', 'sensor'],
    registers: [registry],
    collect() {
      this.reset();
      this.set({ version: src.info.version, sensor: src.info.sensor }, 1);
    },
  });
  new Gauge({
    name: 'sensor_model_info',
    help: 'The model classifying now (value 1; absent without classification)',
    labelNames: ['model_version'],
    registers: [registry],
    collect() {
      this.reset();
      const v = src.info.modelVersion();
      if (v !== null) this.set({ model_version: v }, 1);
    },
  });
  for (const h of src.histograms) registry.registerMetric(h.metric);
  for (const m of src.more ?? []) registry.registerMetric(m);

  return {
    contentType: registry.contentType,
    text: async () => {
      current = await src.stats();
      return registry.metrics();
    },
  };
}
