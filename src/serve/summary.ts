import type { FlowDb } from './flowDb';
import { VERDICTS, verdictSql } from './verdictSql';

export interface SummaryQuery {
  /** Unix seconds; default: the first flow in the database. */
  from?: number;
  /** Unix seconds (exclusive); default: just after the last flow. */
  to?: number;
  /** About how many time buckets (the width is rounded to a readable step). */
  buckets: number;
  /** Entries in the top talkers and top services lists, and application series before the rest is 'other'. */
  top: number;
}

/** Bucket widths a person reads easily, in seconds. */
const STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800];
/** Confidence histogram: CONF_BINS bins of equal width over [0, 1]. */
export const CONF_BINS = 10;
/** Series name for the applications beyond the `top` most frequent ones. */
export const OTHER = 'other';

export interface Summary {
  from: number | null;
  to: number | null;
  bucket_seconds: number;
  /** Start of each bucket (Unix seconds). */
  buckets: number[];
  /** Flows and bytes per bucket for each application (top `top` labels by flows; the rest summed as 'other'). */
  labels: { label: string; flows: number[]; bytes: number[]; total_flows: number; total_bytes: number }[];
  /** Per bucket: flows the model scored (verdict classified or unknown), and the share of them labelled unknown. */
  scored_flows: number[];
  unknown_share: (number | null)[];
  confidence: { edges: number[]; counts: number[]; over_time: number[][] };
  top_talkers: { ip: string; flows: number; bytes: number }[];
  top_services: { server_ip: string; server_port: number; label: string; flows: number; bytes: number }[];
  totals: { flows: number; bytes: number; scored_flows: number; unknown_share: number | null; verdicts: Record<string, number> };
}

function niceStep(span: number, buckets: number): number {
  const raw = span / Math.max(1, buckets);
  return STEPS.find((s) => s >= raw) ?? Math.ceil(raw / 604800) * 604800;
}

/** Share of the table above which a range is read by a plain scan rather than through the first_ts index. */
const SCAN_SHARE = 0.2;
/** Interim `active` records repeat a flow that is still open: totals count each flow once, at its final record. */
const FINAL = `end_reason != 'active'`;
const RANGE = `first_ts >= @from AND first_ts < @to AND ${FINAL}`;
const BYTES = 'c2s_bytes + s2c_bytes';

/** Flows, bytes, applications over time, unknown share, confidence and top lists for one time range. */
export function summarize(db: FlowDb, q: SummaryQuery): Summary {
  const bounds = db.prepare('summary:bounds', `SELECT min(first_ts) AS lo, max(first_ts) AS hi FROM flows WHERE ${FINAL}`).get() as {
    lo: number | null;
    hi: number | null;
  };
  const from = q.from ?? bounds.lo;
  const to = q.to ?? (bounds.hi !== null ? bounds.hi + 1e-6 : null);
  const verdicts: Record<string, number> = Object.fromEntries(VERDICTS.map((v) => [v, 0]));
  const edges = Array.from({ length: CONF_BINS + 1 }, (_, i) => i / CONF_BINS);
  if (from === null || to === null || !(to > from)) {
    return {
      from,
      to,
      bucket_seconds: 0,
      buckets: [],
      labels: [],
      scored_flows: [],
      unknown_share: [],
      confidence: { edges, counts: new Array<number>(CONF_BINS).fill(0), over_time: [] },
      top_talkers: [],
      top_services: [],
      totals: { flows: 0, bytes: 0, scored_flows: 0, unknown_share: null, verdicts },
    };
  }
  const step = niceStep(to - from, q.buckets);
  const origin = Math.floor(from / step) * step;
  const n = Math.max(1, Math.ceil((to - origin) / step));
  const buckets = Array.from({ length: n }, (_, i) => origin + i * step);
  const range = { from, to };

  // Two scans of the range, each grouped by SQLite into a small result aggregated here: one by time bucket,
  // label, verdict and confidence bin (applications over time, verdicts, unknown share, confidence), one by
  // endpoint pair, port and label (talkers, services). Six GROUP BY queries took 27 s on a million flows and a
  // row-by-row pass in JavaScript 13 s; these two take a few seconds (README "HTTP API"). Over most of the table a
  // plain scan beats fetching every row through the first_ts index; over a small range the index wins.
  const inRange = (db.prepare('summary:count', `SELECT count(*) FROM flows WHERE first_ts >= @from AND first_ts < @to`).pluck().get(range) as number) ?? 0;
  const span = db.prepare('summary:span', 'SELECT coalesce(max(id) - min(id) + 1, 0) FROM flows').pluck().get() as number;
  const from_ = inRange > span * SCAN_SHARE ? 'flows NOT INDEXED' : 'flows';
  const mix = db
    .prepare(
      `summary:mix:${from_}`,
      `SELECT CAST((first_ts - @origin) / @step AS INTEGER) AS b, label, ${verdictSql(db)} AS v,
              min(${CONF_BINS - 1}, max(0, CAST(confidence * ${CONF_BINS} AS INTEGER))) AS bin, count(*) AS flows, sum(${BYTES}) AS bytes
       FROM ${from_} WHERE ${RANGE} GROUP BY b, label, v, bin`,
    )
    .raw(true)
    .all({ ...range, origin, step }) as [number, string, string, number, number, number][];
  const pairs = db
    .prepare(
      `summary:pairs:${from_}`,
      `SELECT client_ip, server_ip, server_port, label, count(*) AS flows, sum(${BYTES}) AS bytes
       FROM ${from_} WHERE ${RANGE} GROUP BY client_ip, server_ip, server_port, label`,
    )
    .raw(true)
    .all(range) as [string, string, number, string, number, number][];

  const byLabel = new Map<string, { flows: number[]; bytes: number[]; total_flows: number; total_bytes: number }>();
  const overTime = buckets.map(() => new Array<number>(CONF_BINS).fill(0));
  const counts = new Array<number>(CONF_BINS).fill(0);
  const scored = new Array<number>(n).fill(0);
  const unknown = new Array<number>(n).fill(0);
  let flows = 0;
  let bytes = 0;
  for (const [k, label, v, bin, f, b] of mix) {
    if (k < 0 || k >= n) continue;
    flows += f;
    bytes += b;
    let l = byLabel.get(label);
    if (l === undefined) {
      l = { flows: new Array<number>(n).fill(0), bytes: new Array<number>(n).fill(0), total_flows: 0, total_bytes: 0 };
      byLabel.set(label, l);
    }
    l.flows[k]! += f;
    l.bytes[k]! += b;
    l.total_flows += f;
    l.total_bytes += b;
    verdicts[v] = (verdicts[v] ?? 0) + f;
    // Confidence and unknown share are about the flows the model scored: rule labels (no-payload...) are left out.
    if (v === 'classified' || v === 'unknown') {
      overTime[k]![bin]! += f;
      counts[bin]! += f;
      scored[k]! += f;
      if (v === 'unknown') unknown[k]! += f;
    }
  }
  const hosts = new Map<string, { ip: string; flows: number; bytes: number }>();
  const services = new Map<string, { server_ip: string; server_port: number; label: string; flows: number; bytes: number }>();
  const host = (ip: string, f: number, b: number): void => {
    const h = hosts.get(ip);
    if (h === undefined) hosts.set(ip, { ip, flows: f, bytes: b });
    else {
      h.flows += f;
      h.bytes += b;
    }
  };
  for (const [clientIp, serverIp, serverPort, label, f, b] of pairs) {
    host(clientIp, f, b);
    host(serverIp, f, b);
    const key = `${serverIp} ${serverPort} ${label}`;
    const svc = services.get(key);
    if (svc === undefined) services.set(key, { server_ip: serverIp, server_port: serverPort, label, flows: f, bytes: b });
    else {
      svc.flows += f;
      svc.bytes += b;
    }
  }

  // The `top` applications by flows keep their own series; 'unknown' keeps one whatever its rank (how much the
  // model could not name is the first question); the rest is summed as 'other'.
  const ranked = [...byLabel.entries()].sort((x, y) => y[1].total_flows - x[1].total_flows || (x[0] < y[0] ? -1 : 1));
  const labels: Summary['labels'] = [];
  let other: Summary['labels'][number] | null = null;
  for (const [i, [label, l]] of ranked.entries()) {
    if (i < q.top || label === 'unknown') {
      labels.push({ label, ...l });
      continue;
    }
    other ??= { label: OTHER, flows: new Array<number>(n).fill(0), bytes: new Array<number>(n).fill(0), total_flows: 0, total_bytes: 0 };
    for (let k = 0; k < n; k++) {
      other.flows[k]! += l.flows[k]!;
      other.bytes[k]! += l.bytes[k]!;
    }
    other.total_flows += l.total_flows;
    other.total_bytes += l.total_bytes;
  }
  if (other !== null) labels.push(other);
  const talkers = [...hosts.values()].sort((x, y) => y.bytes - x.bytes || (x.ip < y.ip ? -1 : x.ip > y.ip ? 1 : 0)).slice(0, q.top);
  const topServices = [...services.values()]
    .sort((x, y) => y.flows - x.flows || y.bytes - x.bytes || (x.server_ip < y.server_ip ? -1 : x.server_ip > y.server_ip ? 1 : x.server_port - y.server_port))
    .slice(0, q.top);
  const scoredTotal = scored.reduce((x, y) => x + y, 0);
  const unknownTotal = unknown.reduce((x, y) => x + y, 0);

  return {
    from,
    to,
    bucket_seconds: step,
    buckets,
    labels,
    scored_flows: scored,
    unknown_share: scored.map((s, i) => (s > 0 ? unknown[i]! / s : null)),
    confidence: { edges, counts, over_time: overTime },
    top_talkers: talkers,
    top_services: topServices,
    totals: { flows, bytes, scored_flows: scoredTotal, unknown_share: scoredTotal > 0 ? unknownTotal / scoredTotal : null, verdicts },
  };
}
