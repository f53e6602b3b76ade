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
  const bucketed = { ...range, origin, step };
  const verdict = verdictSql(db);
  const bucketExpr = 'CAST((first_ts - @origin) / @step AS INTEGER)';

  const byLabel = db
    .prepare(
      'summary:labels',
      `SELECT ${bucketExpr} AS b, label, count(*) AS flows, sum(${BYTES}) AS bytes FROM flows WHERE ${RANGE} GROUP BY b, label`,
    )
    .all(bucketed) as { b: number; label: string; flows: number; bytes: number }[];
  const totalsByLabel = new Map<string, number>();
  for (const r of byLabel) totalsByLabel.set(r.label, (totalsByLabel.get(r.label) ?? 0) + r.flows);
  const ranked = [...totalsByLabel.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).map(([l]) => l);
  // 'unknown' keeps a series of its own whatever its rank: how much the model could not name is the first question.
  const kept = new Set(ranked.slice(0, q.top));
  if (totalsByLabel.has('unknown')) kept.add('unknown');
  const series = new Map<string, Summary['labels'][number]>();
  const seriesOf = (label: string): Summary['labels'][number] => {
    const name = kept.has(label) ? label : OTHER;
    let s = series.get(name);
    if (s === undefined) {
      s = { label: name, flows: new Array<number>(n).fill(0), bytes: new Array<number>(n).fill(0), total_flows: 0, total_bytes: 0 };
      series.set(name, s);
    }
    return s;
  };
  let flows = 0;
  let bytes = 0;
  for (const r of byLabel) {
    if (r.b < 0 || r.b >= n) continue;
    const s = seriesOf(r.label);
    s.flows[r.b]! += r.flows;
    s.bytes[r.b]! += r.bytes;
    s.total_flows += r.flows;
    s.total_bytes += r.bytes;
    flows += r.flows;
    bytes += r.bytes;
  }
  const labels = [...series.values()].sort((a, b) => (a.label === OTHER ? 1 : b.label === OTHER ? -1 : b.total_flows - a.total_flows));

  const verdictRows = db
    .prepare('summary:verdicts', `SELECT ${verdict} AS v, count(*) AS flows FROM flows WHERE ${RANGE} GROUP BY v`)
    .all(range) as { v: string; flows: number }[];
  for (const r of verdictRows) verdicts[r.v] = (verdicts[r.v] ?? 0) + r.flows;

  // Confidence and unknown share are about the flows the model scored: rule labels (no-payload...) are left out.
  const confRows = db
    .prepare(
      'summary:confidence',
      `SELECT ${bucketExpr} AS b, min(${CONF_BINS - 1}, max(0, CAST(confidence * ${CONF_BINS} AS INTEGER))) AS bin,
              count(*) AS flows, sum(${verdict} = 'unknown') AS unknown
       FROM flows WHERE ${RANGE} AND ${verdict} IN ('classified', 'unknown') GROUP BY b, bin`,
    )
    .all(bucketed) as { b: number; bin: number; flows: number; unknown: number }[];
  const overTime = buckets.map(() => new Array<number>(CONF_BINS).fill(0));
  const counts = new Array<number>(CONF_BINS).fill(0);
  const scored = new Array<number>(n).fill(0);
  const unknown = new Array<number>(n).fill(0);
  for (const r of confRows) {
    if (r.b < 0 || r.b >= n) continue;
    overTime[r.b]![r.bin]! += r.flows;
    counts[r.bin]! += r.flows;
    scored[r.b]! += r.flows;
    unknown[r.b]! += r.unknown;
  }
  const scoredTotal = scored.reduce((a, b) => a + b, 0);
  const unknownTotal = unknown.reduce((a, b) => a + b, 0);

  const talkers = db
    .prepare(
      'summary:talkers',
      `SELECT ip, sum(flows) AS flows, sum(bytes) AS bytes FROM (
         SELECT client_ip AS ip, count(*) AS flows, sum(${BYTES}) AS bytes FROM flows WHERE ${RANGE} GROUP BY client_ip
         UNION ALL
         SELECT server_ip AS ip, count(*) AS flows, sum(${BYTES}) AS bytes FROM flows WHERE ${RANGE} GROUP BY server_ip
       ) GROUP BY ip ORDER BY bytes DESC, ip LIMIT @top`,
    )
    .all({ ...range, top: q.top }) as Summary['top_talkers'];
  const services = db
    .prepare(
      'summary:services',
      `SELECT server_ip, server_port, label, count(*) AS flows, sum(${BYTES}) AS bytes FROM flows WHERE ${RANGE}
       GROUP BY server_ip, server_port, label ORDER BY flows DESC, bytes DESC, server_ip, server_port LIMIT @top`,
    )
    .all({ ...range, top: q.top }) as Summary['top_services'];

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
    top_services: services,
    totals: { flows, bytes, scored_flows: scoredTotal, unknown_share: scoredTotal > 0 ? unknownTotal / scoredTotal : null, verdicts },
  };
}
