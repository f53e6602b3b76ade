import { describe, expect, it } from 'vitest';
import { startMetricsServer } from '../../src/daemon/metrics';
import type { StatsReport } from '../../src/daemon/statsReport';
import { freePort } from './helpers/daemonProcess';
import { readmeFields, readmeMetrics } from './helpers/readmeMetrics';

/**
 * README "Live capture" lists the numbers of the `stats` line and their Prometheus metrics in one table: every
 * field of the stats report is in it, and /metrics serves exactly the metrics it names, each with the value of
 * the field it names. (test/daemon/operations.test.ts checks the same fields on the running daemon's lines.)
 */

/** A report whose numbers are all different, so a metric showing the wrong field is caught. */
const REPORT: StatsReport = {
  uptime_s: 11,
  packets_received: 12,
  kernel_drops: 13,
  interface_drops: 14,
  frames_decoded: 15,
  tcp_packets: 16,
  anomalies: { truncated_tcp: 17, bad_ip_header_length: 18 },
  flows_active: 19,
  flows_created: 20,
  flows_ended: { fin: 21, rst: 22, idle: 23, active: 24, eof: 25, shutdown: 26, evicted: 27 },
  evictions: 27,
  flows_written: 28,
  flows_unwritten: 29,
  inference_batches: 30,
  inference_latency_ms: { p50: 31, p99: 32 },
  db_write_latency_ms: { p50: 33, p99: 34 },
  rss_bytes: 35,
  heap_used_bytes: 36,
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
};

/** The samples of a Prometheus text exposition: "name{labels}" -> value. */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}

describe('metrics: the README table, the stats report and /metrics agree', () => {
  it('the README table names every field of the stats report once', () => {
    expect(readmeFields().sort()).toEqual(Object.keys(REPORT).sort());
    // ... and every field of the objects it names by a dotted path.
    const dotted = readmeMetrics().map((r) => r[2]).filter((f) => f.includes('.'));
    expect(dotted.sort()).toEqual(Object.keys(REPORT.clickhouse!).map((k) => `clickhouse.${k}`).sort());
  });

  it('/metrics serves exactly the README\'s metrics, each with the value of its stats field', async () => {
    const port = await freePort();
    const server = await startMetricsServer('127.0.0.1', port, () => REPORT);
    try {
      const text = await (await fetch(server.url)).text();
      const served = [...text.matchAll(/^# TYPE (\S+) gauge$/gm)].map((m) => m[1]!);
      const rows = readmeMetrics();
      expect([...served].sort()).toEqual(rows.map((r) => r[0]).sort());
      const got = samples(text);
      const want = new Map<string, number>();
      for (const [metric, label, field] of rows) {
        const [top, sub] = field.split('.') as [keyof StatsReport, string | undefined];
        const v = sub === undefined ? REPORT[top] : (REPORT[top] as unknown as Record<string, number | boolean>)[sub];
        if (typeof v === 'boolean') want.set(metric, v ? 1 : 0);
        else if (typeof v === 'number') want.set(metric, v);
        else if (label === 'quantile') {
          const q = v as { p50: number; p99: number };
          want.set(`${metric}{quantile="0.5"}`, q.p50);
          want.set(`${metric}{quantile="0.99"}`, q.p99);
        } else {
          for (const [k, n] of Object.entries(v as Record<string, number>)) want.set(`${metric}{${label}="${k}"}`, n);
        }
      }
      expect(Object.fromEntries(got)).toEqual(Object.fromEntries(want));
    } finally {
      await server.close();
    }
  });
});
