import { readFileSync } from 'node:fs';
import * as path from 'node:path';

/**
 * [metric, label or null, stats field] rows of the README's table of stats fields and Prometheus metrics. A field
 * inside an object of the report is written with a dot (`clickhouse.spool_rows`).
 */
export function readmeMetrics(): [metric: string, label: string | null, field: string][] {
  const readme = readFileSync(path.resolve(__dirname, '../../../README.md'), 'utf8');
  const rows: [string, string | null, string][] = [];
  for (const m of readme.matchAll(/^\| `(sensor_[a-z_]+)(?:\{(\w+)\})?` \| `(\w+(?:\.\w+)?)` \|/gm)) rows.push([m[1]!, m[2] ?? null, m[3]!]);
  return rows;
}

/** The stats report's top-level fields the README's table names (each once). */
export function readmeFields(): string[] {
  return [...new Set(readmeMetrics().map((r) => r[2].split('.')[0]!))];
}
