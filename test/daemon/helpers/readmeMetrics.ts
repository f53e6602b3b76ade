import { readFileSync } from 'node:fs';
import * as path from 'node:path';

/** One row of the README's table of stats fields and Prometheus metrics. */
export interface ReadmeMetric {
  metric: string;
  /** The label names in braces after the metric (`{interface}`, `{version,sensor}`), or none. */
  labels: string[];
  type: 'counter' | 'gauge' | 'histogram';
  /** The `stats` field the metric serves (a field inside an object with a dot: `clickhouse.spool_rows`), or null. */
  field: string | null;
}

/** The rows of the README's "Prometheus metric | type | stats field | meaning" table. */
export function readmeMetrics(): ReadmeMetric[] {
  const readme = readFileSync(path.resolve(__dirname, '../../../README.md'), 'utf8');
  const rows: ReadmeMetric[] = [];
  for (const m of readme.matchAll(/^\| `([a-z_]+)(?:\{([\w,]+)\})?` \| (counter|gauge|histogram) \| (?:`(\w+(?:\.\w+)?)`)? ?\|/gm)) {
    rows.push({ metric: m[1]!, labels: m[2]?.split(',') ?? [], type: m[3] as ReadmeMetric['type'], field: m[4] ?? null });
  }
  return rows;
}

/** The stats report's top-level fields the README's table names (each once). */
export function readmeFields(): string[] {
  return [...new Set(readmeMetrics().flatMap((r) => (r.field !== null ? [r.field.split('.')[0]!] : [])))];
}
