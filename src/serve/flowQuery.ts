import type { FlowDb } from './flowDb';
import { verdictOfLabel, verdictSql } from './verdictSql';

/** Filters of GET /v1/flows, already validated by the route schema and converted (times as Unix seconds). */
export interface FlowFilter {
  from?: number;
  to?: number;
  label?: string;
  verdict?: string;
  address?: string;
  port?: number;
  conn_state?: string;
  end_reason?: string;
  /** Every record of one flow (its `active` records and the final one), by the index flows_uid. */
  uid?: string;
  /** Only flows the anomaly model flagged (true) or did not flag (false). */
  anomaly?: boolean;
  /** Only flows whose anomaly score is at least this. */
  min_score?: number;
  /** Paging cursor: only flows with a smaller id (the `next` of the previous page). */
  before?: number;
  limit: number;
}

type FilterKey = Exclude<keyof FlowFilter, 'limit'>;

/**
 * The WHERE fragment of each filter. Which fragments a query uses depends only on which filters are present;
 * each value is bound as the parameter of the same name, never pasted into the SQL text.
 */
function fragments(db: FlowDb): Record<FilterKey, string> {
  return {
    from: 'first_ts >= @from',
    to: 'first_ts < @to',
    label: 'label = @label',
    verdict: `${verdictSql(db)} = @verdict`,
    address: '(client_ip = @address OR server_ip = @address)',
    port: '(client_port = @port OR server_port = @port)',
    conn_state: 'conn_state = @conn_state',
    end_reason: 'end_reason = @end_reason',
    // A version-1 database (before the uid column) has no record with a uid.
    uid: db.has('uid') ? 'uid = @uid' : '(@uid IS NULL AND 0)',
    // A database written before anomaly scores has no such column: nothing matches.
    anomaly: db.has('anomaly') ? 'anomaly = @anomaly' : '(@anomaly IS NULL AND 0)',
    min_score: db.has('anomaly_score') ? 'anomaly_score >= @min_score' : '(@min_score IS NULL AND 0)',
    before: 'id < @before',
  };
}

const FILTER_KEYS: readonly FilterKey[] = ['from', 'to', 'label', 'verdict', 'address', 'port', 'conn_state', 'end_reason', 'uid', 'anomaly', 'min_score', 'before'];

/** Columns stored as JSON text. */
const JSON_COLUMNS = ['lengths', 'topk', 'topk_labels', 'topk_scores'] as const;

function parseJson(text: unknown): unknown {
  if (typeof text !== 'string') return text;
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

/**
 * One row as the API returns it: the record's fields under their own names, JSON columns parsed, `midstream` a
 * boolean; `verdict` and `topk_labels`/`topk_scores` always present (derived from `label` and `topk` for
 * databases written before those columns existed; the older `topk` itself is not repeated).
 */
export function apiRow(row: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...row };
  for (const c of JSON_COLUMNS) if (c in out) out[c] = parseJson(out[c]);
  if ('midstream' in out) out.midstream = out.midstream === 1 || out.midstream === true;
  if ('anomaly' in out && out.anomaly !== null) out.anomaly = out.anomaly === 1 || out.anomaly === true;
  if (!('verdict' in out)) out.verdict = verdictOfLabel(String(out.label));
  if (!('topk_labels' in out)) {
    const topk = Array.isArray(out.topk) ? (out.topk as { label?: unknown; p?: unknown }[]) : [];
    out.topk_labels = topk.map((t) => String(t.label));
    out.topk_scores = topk.map((t) => Number(t.p));
  }
  delete out.topk;
  return out;
}

/** Latest flows first (by id, the order they were written), filtered, one page; `next` continues the listing. */
export function queryFlows(db: FlowDb, f: FlowFilter): { flows: Record<string, unknown>[]; next: number | null } {
  const frag = fragments(db);
  const used = FILTER_KEYS.filter((k) => f[k] !== undefined);
  const where = used.length > 0 ? `WHERE ${used.map((k) => frag[k]).join(' AND ')}` : '';
  const sql = `SELECT * FROM flows ${where} ORDER BY id DESC LIMIT @limit`;
  const params: Record<string, string | number> = { limit: f.limit };
  for (const k of used) {
    const v = f[k]!;
    params[k] = typeof v === 'boolean' ? (v ? 1 : 0) : v;
  }
  const rows = db.prepare(`flows:${used.join(',')}`, sql).all(params) as Record<string, unknown>[];
  const last = rows.length === f.limit ? rows[rows.length - 1] : undefined;
  return { flows: rows.map(apiRow), next: last !== undefined ? (last.id as number) : null };
}
