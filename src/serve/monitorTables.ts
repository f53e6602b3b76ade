import type { FlowDb } from './flowDb';

/** Tables of the sensor's monitoring (drift, accuracy over time) share this prefix. */
export const MONITOR_PREFIX = 'monitor';
/** Rows returned per monitor table: the latest ones (a week of hourly windows and then some). */
export const MONITOR_ROWS = 500;

/** Identifiers the schema may use; anything else is skipped rather than quoted into SQL. */
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

export interface MonitorTable {
  name: string;
  columns: { name: string; type: string }[];
  /** Latest rows first. */
  rows: Record<string, unknown>[];
}

/**
 * The monitoring tables present in the database (drift and accuracy windows, written by the sensor's monitor
 * when it is on) with their latest rows. The table names come from the database's own schema, never from the
 * request; they are checked against a plain identifier pattern before they are quoted into the statement.
 */
export function monitorTables(db: FlowDb): MonitorTable[] {
  const out: MonitorTable[] = [];
  for (const name of db.tables(MONITOR_PREFIX)) {
    if (!IDENTIFIER.test(name)) continue;
    const columns = db.tableColumns(name);
    let stmt;
    try {
      stmt = db.prepare(`monitor:${name}`, `SELECT * FROM "${name}" ORDER BY rowid DESC LIMIT ?`);
    } catch {
      // A WITHOUT ROWID table has no insertion order to follow: its rows come in key order.
      stmt = db.prepare(`monitor-keyed:${name}`, `SELECT * FROM "${name}" LIMIT ?`);
    }
    const rows = stmt.all(MONITOR_ROWS) as Record<string, unknown>[];
    out.push({ name, columns, rows });
  }
  return out;
}
