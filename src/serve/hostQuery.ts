import type { FlowDb } from './flowDb';
import { apiRow } from './flowQuery';

/** Filters of GET /v1/hosts (validated by the route schema; times as Unix seconds, on window_start). */
export interface HostFilter {
  from?: number;
  to?: number;
  host?: string;
  group?: string;
  before?: number;
  limit: number;
}

/** Filters of GET /v1/host-events (times on the event's ts, the end of the window it was seen in). */
export interface HostEventFilter {
  from?: number;
  to?: number;
  host?: string;
  before?: number;
  limit: number;
}

/** Filters of GET /v1/anomalies: flows in a time range, most anomalous first. */
export interface AnomalyFilter {
  from?: number;
  to?: number;
  /** Only flows the model flagged (anomaly = 1). */
  flagged?: boolean;
  limit: number;
}

type Page = { next: number | null };

function page<T extends string>(
  db: FlowDb,
  table: string,
  name: string,
  frags: Record<T, string>,
  keys: readonly T[],
  f: Partial<Record<T, string | number>> & { limit: number },
): { rows: Record<string, unknown>[] } & Page {
  const used = keys.filter((k) => f[k] !== undefined);
  const where = used.length > 0 ? `WHERE ${used.map((k) => frags[k]).join(' AND ')}` : '';
  const params: Record<string, string | number> = { limit: f.limit };
  for (const k of used) params[k] = f[k]!;
  const rows = db.prepare(`${name}:${used.join(',')}`, `SELECT * FROM ${table} ${where} ORDER BY id DESC LIMIT @limit`).all(params) as Record<string, unknown>[];
  const last = rows.length === f.limit ? rows[rows.length - 1] : undefined;
  return { rows, next: last !== undefined ? (last.id as number) : null };
}

const HOST_KEYS = ['from', 'to', 'host', 'group', 'before'] as const;
const HOST_FRAGS = {
  from: 'window_start >= @from',
  to: 'window_start < @to',
  host: 'host = @host',
  group: 'behaviour_group = @group',
  before: 'id < @before',
};

/** Host profiles (README "Host profiles"), latest written first; none in a database written before them. */
export function queryHosts(db: FlowDb, f: HostFilter): { hosts: Record<string, unknown>[] } & Page {
  if (db.tables('hosts').indexOf('hosts') < 0) return { hosts: [], next: null };
  const { rows, next } = page(db, 'hosts', 'hosts', HOST_FRAGS, HOST_KEYS, f);
  return { hosts: rows, next };
}

const EVENT_KEYS = ['from', 'to', 'host', 'before'] as const;
const EVENT_FRAGS = { from: 'ts >= @from', to: 'ts < @to', host: 'host = @host', before: 'id < @before' };

/** Hosts whose behaviour group changed, latest first. */
export function queryHostEvents(db: FlowDb, f: HostEventFilter): { events: Record<string, unknown>[] } & Page {
  if (db.tables('host_events').indexOf('host_events') < 0) return { events: [], next: null };
  const { rows, next } = page(db, 'host_events', 'events', EVENT_FRAGS, EVENT_KEYS, f);
  return { events: rows, next };
}

/** The flows with the highest anomaly scores in a time range (first packet), highest first. */
export function queryAnomalies(db: FlowDb, f: AnomalyFilter): { flows: Record<string, unknown>[] } {
  if (!db.has('anomaly_score')) return { flows: [] };
  const where = ['anomaly_score IS NOT NULL', "end_reason != 'active'"];
  const params: Record<string, number> = { limit: f.limit };
  if (f.from !== undefined) {
    where.push('first_ts >= @from');
    params.from = f.from;
  }
  if (f.to !== undefined) {
    where.push('first_ts < @to');
    params.to = f.to;
  }
  if (f.flagged === true) where.push('anomaly = 1');
  const key = `anomalies:${f.from !== undefined},${f.to !== undefined},${f.flagged === true}`;
  const rows = db.prepare(key, `SELECT * FROM flows WHERE ${where.join(' AND ')} ORDER BY anomaly_score DESC, id DESC LIMIT @limit`).all(params);
  return { flows: (rows as Record<string, unknown>[]).map(apiRow) };
}
