import { createServer } from 'node:http';
import { Gauge, Registry } from 'prom-client';
import { ConfigError } from '../config/config';
import type { ClickHouseStats } from '../sink/clickhouse/clickhouseSink';
import type { StatsReport } from './statsReport';

export interface MetricsServer {
  url: string;
  close(): Promise<void>;
}

/**
 * A Prometheus endpoint (GET /metrics) on a local address. Values are read from the stats report at scrape
 * time, so nothing is updated per packet.
 */
export async function startMetricsServer(host: string, port: number, stats: () => StatsReport): Promise<MetricsServer> {
  const metrics = sensorMetrics(stats);
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
    // A ConfigError: the CLI prints it as one line and exits 2 (the usual cause is a port already taken).
    server.once('error', (e) =>
      reject(new ConfigError(`Cannot start the Prometheus endpoint on ${host}:${port}: ${e.message} (set stats.prometheusPort to a free port)`)),
    );
    server.listen(port, host, resolve);
  });
  return {
    url: `http://${host}:${port}/metrics`,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/**
 * The sensor's Prometheus numbers as text, read from the stats report at scrape time. Served by the endpoint
 * above and appended to the HTTP API's /metrics (`--serve`).
 */
export function sensorMetrics(stats: () => StatsReport): { contentType: string; text(): Promise<string> } {
  const registry = new Registry();
  let current: StatsReport | null = null;
  const gauge = (name: string, help: string, labelNames: string[], read: (s: StatsReport, g: Gauge) => void): void => {
    new Gauge({
      name,
      help,
      labelNames,
      registers: [registry],
      collect() {
        if (current !== null) read(current, this);
      },
    });
  };
  gauge('sensor_packets_received_total', 'Packets delivered by the capture engine', [], (s, g) => g.set(s.packets_received));
  gauge('sensor_kernel_drops_total', 'Packets dropped by the kernel (pcap_stats ps_drop; -1 unknown)', [], (s, g) => g.set(s.kernel_drops));
  gauge('sensor_interface_drops_total', 'Packets dropped by the interface (ps_ifdrop; -1 unknown)', [], (s, g) => g.set(s.interface_drops));
  gauge('sensor_frames_decoded_total', 'Frames handed to the decoder', [], (s, g) => g.set(s.frames_decoded));
  gauge('sensor_tcp_packets_total', 'TCP segments decoded', [], (s, g) => g.set(s.tcp_packets));
  gauge('sensor_anomalies_total', 'Packets skipped, by anomaly name', ['name'], (s, g) => {
    for (const [k, v] of Object.entries(s.anomalies)) g.set({ name: k }, v);
  });
  gauge('sensor_flows_active', 'Flows in the flow table', [], (s, g) => g.set(s.flows_active));
  gauge('sensor_flows_created_total', 'Flows created', [], (s, g) => g.set(s.flows_created));
  gauge('sensor_flows_ended_total', 'Flow records written, by end reason', ['reason'], (s, g) => {
    for (const [k, v] of Object.entries(s.flows_ended)) g.set({ reason: k }, v);
  });
  gauge('sensor_evictions_total', 'Flows written early because the flow table was full', [], (s, g) => g.set(s.evictions));
  gauge('sensor_flows_written_total', 'Flow records written by every sink', [], (s, g) => g.set(s.flows_written));
  gauge('sensor_flows_unwritten_total', 'Flow records a sink failed to write (the sensor stops at the first failure)', [], (s, g) =>
    g.set(s.flows_unwritten),
  );
  gauge('sensor_inference_batches_total', 'Inference batches run', [], (s, g) => g.set(s.inference_batches));
  gauge('sensor_inference_latency_ms', 'Inference batch latency', ['quantile'], (s, g) => {
    g.set({ quantile: '0.5' }, s.inference_latency_ms.p50);
    g.set({ quantile: '0.99' }, s.inference_latency_ms.p99);
  });
  gauge('sensor_db_write_latency_ms', 'SQLite batch write latency', ['quantile'], (s, g) => {
    if (s.db_write_latency_ms === null) return;
    g.set({ quantile: '0.5' }, s.db_write_latency_ms.p50);
    g.set({ quantile: '0.99' }, s.db_write_latency_ms.p99);
  });
  // The ClickHouse output (README "A fleet of sensors"): served only when the sensor has one.
  const clickhouse = (name: string, help: string, read: (c: ClickHouseStats) => number): void =>
    gauge(name, help, [], (s, g) => {
      if (s.clickhouse !== null) g.set(read(s.clickhouse));
    });
  clickhouse('sensor_clickhouse_queued_rows', 'Rows waiting in memory for the next ClickHouse insert', (c) => c.queued_rows);
  clickhouse('sensor_clickhouse_spool_batches', 'Batches waiting in the ClickHouse spool on disk', (c) => c.spool_batches);
  clickhouse('sensor_clickhouse_spool_rows', 'Rows waiting in the ClickHouse spool on disk', (c) => c.spool_rows);
  clickhouse('sensor_clickhouse_spool_bytes', 'Bytes of the ClickHouse spool on disk', (c) => c.spool_bytes);
  clickhouse('sensor_clickhouse_sent_rows_total', 'Rows ClickHouse accepted', (c) => c.sent_rows);
  clickhouse('sensor_clickhouse_sent_batches_total', 'INSERTs ClickHouse accepted', (c) => c.sent_batches);
  clickhouse('sensor_clickhouse_retried_total', 'Failed ClickHouse inserts whose rows were spooled to be sent again', (c) => c.retried);
  clickhouse('sensor_clickhouse_dropped_rows_total', 'Rows dropped because the ClickHouse spool was full (oldest first)', (c) => c.dropped_rows);
  clickhouse('sensor_clickhouse_dropped_batches_total', 'Batches dropped because the ClickHouse spool was full', (c) => c.dropped_batches);
  clickhouse('sensor_clickhouse_rejected', '1 while ClickHouse refuses the rows (schema mismatch, login): inserts wait for a reload', (c) => (c.rejected ? 1 : 0));
  gauge('sensor_rss_bytes', 'Resident memory', [], (s, g) => g.set(s.rss_bytes));
  gauge('sensor_heap_used_bytes', 'V8 heap in use', [], (s, g) => g.set(s.heap_used_bytes));
  gauge('sensor_uptime_seconds', 'Seconds since the sensor started', [], (s, g) => g.set(s.uptime_s));

  return {
    contentType: registry.contentType,
    text: () => {
      current = stats();
      return registry.metrics();
    },
  };
}
