import { spawnSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';

import { inferenceLatencyHistogram } from '../../src/classify/classifier';
import { CLICKHOUSE_METRICS, type MetricsServer, SENSOR_METRICS, startMetricsServer } from '../../src/daemon/metrics';
import type { StatsReport } from '../../src/daemon/statsReport';
import { LatencyHistogram } from '../../src/metrics/latencyHistogram';
import { freePort } from './helpers/daemonProcess';
import { readmeFields, readmeMetrics } from './helpers/readmeMetrics';

/** promtool (Debian's `prometheus` package; `.ci/run` installs it), or why the lint test cannot run. */
const promtool = spawnSync('promtool', ['--version'], { encoding: 'utf8' });
const noPromtool = promtool.error !== undefined ? 'promtool is not installed (apt-get install prometheus)' : null;
if (noPromtool !== null) console.warn(`promtool check skipped: ${noPromtool}`);

function report(over: Partial<StatsReport> = {}): StatsReport {
  return {
    uptime_s: 12,
    packets_received: 1000,
    kernel_drops: 3,
    interface_drops: 0,
    packets_unread: 2,
    frames_decoded: 997,
    tcp_packets: 990,
    anomalies: { truncated_tcp: 4, not_tcp: 3 },
    flows_active: 7,
    flows_created: 40,
    flows_ended: { fin: 20, rst: 5, idle: 6, active: 1, eof: 0, shutdown: 0, evicted: 1 },
    evictions: 1,
    flows_written: 33,
    flows_unwritten: 0,
    inference_batches: 5,
    inference_errors: 0,
    inference_reused: 12,
    inference_skipped: 6,
    inference_latency_ms: { p50: 3, p99: 9 },
    db_write_latency_ms: { p50: 1, p99: 2 },
    db_rows_shed: 8,
    flows_anomalous: 46,
    flows_unscored: 47,
    anomaly_context_early: 52,
    anomaly_context_retry_early: 54,
    anomaly_context_evicted: 53,
    hosts_profiled: 48,
    hosts_over_cap: 49,
    hosts_late_flows: 50,
    host_events: 51,
    rss_bytes: 100e6,
    heap_used_bytes: 20e6,
    clickhouse: {
      queued_rows: 37,
      spool_batches: 38,
      spool_rows: 39,
      spool_bytes: 40,
      sent_rows: 41,
      sent_batches: 42,
      retried: 43,
      dropped_rows: 44,
      dropped_batches: 45,
      rejected: true,
    },
    ...over,
  };
}

const servers: MetricsServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});

async function scrape(stats: StatsReport, classifying = true, db = true, clickhouse = true): Promise<string> {
  const inference = inferenceLatencyHistogram();
  const write = new LatencyHistogram('sensor_db_write_duration_seconds', 'db');
  for (const s of [0.0004, 0.003, 0.02, 0.02, 0.7]) inference.observe(s);
  write.observe(0.001);
  const port = await freePort();
  const server = await startMetricsServer('127.0.0.1', port, {
    stats: () => Promise.resolve(stats),
    iface: 'eth1',
    histograms: [...(classifying ? [inference] : []), ...(db ? [write] : [])],
    classifying,
    clickhouse,
    info: { version: '0.1.0', sensor: 'tap-7', modelVersion: () => (classifying ? 'm-1' : null) },
  });
  servers.push(server);
  const res = await fetch(server.url);
  expect(res.status).toBe(200);
  return res.text();
}

/** `# TYPE name type` lines of an exposition. */
function types(text: string): Map<string, string> {
  return new Map([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1]!, m[2]!]));
}

describe('Prometheus endpoint', () => {
  it.skipIf(noPromtool !== null)(`passes promtool check metrics${noPromtool !== null ? ` (skipped: ${noPromtool})` : ''}`, async () => {
    for (const text of [await scrape(report()), await scrape(report({ clickhouse: null }), false, false, false)]) {
      const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
      expect(`${r.stdout}${r.stderr}`.trim(), text).toBe('');
      expect(r.status).toBe(0);
    }
  });

  it('types counts as counters (_total), the table size as a gauge, latencies as histograms in seconds', async () => {
    const t = types(await scrape(report()));
    for (const name of SENSOR_METRICS) {
      expect(t.has(name), name).toBe(true);
      const want = name.endsWith('_total') ? 'counter' : name.endsWith('_seconds') ? 'histogram' : 'gauge';
      expect(t.get(name), name).toBe(want);
    }
    const text = await scrape(report());
    expect(text).toContain('sensor_packets_received_total{interface="eth1"} 1000');
    expect(text).toContain('sensor_flows_ended_total{reason="fin"} 20');
    expect(text).toContain('sensor_anomalies_total{name="truncated_tcp"} 4');
    expect(text).toContain('sensor_inference_batch_duration_seconds_bucket{le="0.025"} 4');
    expect(text).toContain('sensor_inference_batch_duration_seconds_count 5');
    expect(text).toContain('sensor_build_info{version="0.1.0",sensor="tap-7"} 1');
    expect(text).toContain('sensor_model_info{model_version="m-1"} 1');
    expect(text).toMatch(/^process_resident_memory_bytes \d+/m);
  });

  it('leaves out what the capture cannot tell instead of writing -1, and what the run does not have', async () => {
    const text = await scrape(report({ kernel_drops: -1, interface_drops: -1, clickhouse: null }), false, false, false);
    expect(text).not.toMatch(/^sensor_\S+ -/m);
    expect(text).not.toMatch(/^sensor_kernel_drops_total/m);
    expect(text).not.toMatch(/^sensor_interface_drops_total/m);
    expect(text).toMatch(/^sensor_packets_received_total\{interface="eth1"\} 1000$/m);
    const t = types(text);
    for (const absent of ['sensor_inference_batches_total', 'sensor_inference_errors_total', 'sensor_inference_reused_total', 'sensor_inference_batch_duration_seconds', 'sensor_db_write_duration_seconds', ...CLICKHOUSE_METRICS]) {
      expect(t.has(absent), absent).toBe(false);
    }
    expect(text).not.toMatch(/^sensor_model_info\{/m);
  });

  it('the README table names every field of the stats report once, and every sensor_ metric served', async () => {
    const rows = readmeMetrics();
    expect(readmeFields().sort()).toEqual(Object.keys(report()).sort());
    // ... and every field of the objects it names by a dotted path.
    const dotted = rows.flatMap((r) => (r.field?.includes('.') === true ? [r.field] : []));
    expect(dotted.sort()).toEqual(Object.keys(report().clickhouse!).map((k) => `clickhouse.${k}`).sort());
    const t = types(await scrape(report()));
    const served = [...t.keys()].filter((n) => n.startsWith('sensor_'));
    expect(rows.filter((r) => r.metric.startsWith('sensor_')).map((r) => r.metric).sort()).toEqual(served.sort());
    expect([...SENSOR_METRICS, ...CLICKHOUSE_METRICS].sort()).toEqual(served.sort());
    // Each row's type is the one served (prom-client's defaults included).
    for (const r of rows) expect(t.get(r.metric), r.metric).toBe(r.type);
  });

  it('serves each counter and gauge with the value of the stats field the README gives it', async () => {
    const s = report();
    const text = await scrape(s);
    const got = new Map<string, number>();
    for (const line of text.split('\n')) {
      if (line === '' || line.startsWith('#')) continue;
      const at = line.lastIndexOf(' ');
      got.set(line.slice(0, at), Number(line.slice(at + 1)));
    }
    let checked = 0;
    for (const r of readmeMetrics()) {
      if (r.field === null || r.type === 'histogram' || !r.metric.startsWith('sensor_')) continue;
      const [top, sub] = r.field.split('.') as [keyof StatsReport, string | undefined];
      const raw = sub !== undefined ? (s[top] as Record<string, unknown>)[sub] : s[top];
      const v = typeof raw === 'boolean' ? (raw ? 1 : 0) : raw;
      if (typeof v === 'number') {
        const key = r.labels[0] === 'interface' ? `${r.metric}{interface="eth1"}` : r.metric;
        expect(got.get(key), key).toBe(v);
      } else {
        for (const [k, n] of Object.entries(v as Record<string, number>)) expect(got.get(`${r.metric}{${r.labels[0]!}="${k}"}`), `${r.metric} ${k}`).toBe(n);
      }
      checked++;
    }
    expect(checked).toBeGreaterThanOrEqual(24);
  });
});
