import { CLICKHOUSE_COLUMNS, type ClickHouseColumn } from './columns';

export interface SchemaOptions {
  database: string;
  table: string;
  /** Cluster name (remote_servers in the servers' config) for a sharded setup, or null for one server. */
  cluster: string | null;
  /** Add ON CLUSTER to every statement (needs ClickHouse Keeper/ZooKeeper for distributed DDL). */
  onCluster: boolean;
}

/** Suffix of the per-shard table under a Distributed table of the configured name. */
export const LOCAL_SUFFIX = '_local';

function quote(s: string): string {
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

function columnDef(c: ClickHouseColumn): string {
  return `\`${c.name}\` ${c.type}${c.comment !== '' ? ` COMMENT ${quote(c.comment)}` : ''}`;
}

/**
 * The DDL for the flows table, as statements to run in order (each is idempotent: IF NOT EXISTS).
 *
 * One server: `db.table`, a ReplacingMergeTree. Rows that share the sort key (sensor, start, uid) are folded in
 * background merges, keeping the one with the latest `end`: a batch sent twice (a retry after a timeout whose
 * insert did land) does not double count, and an `active` interim record is replaced by the flow's final one.
 * Partitions are days (UTC), so retention is `ALTER TABLE ... DROP PARTITION`.
 *
 * A cluster: the same table as `db.table_local` on every shard, and `db.table` a Distributed table over them,
 * sharded by the uid (all records of one flow land on one shard, where they can be folded). Sensors and queries
 * both use `db.table`.
 */
export function schemaStatements(o: SchemaOptions): string[] {
  const on = o.cluster !== null && o.onCluster ? ` ON CLUSTER ${o.cluster}` : '';
  const local = o.cluster !== null ? o.table + LOCAL_SUFFIX : o.table;
  const cols = CLICKHOUSE_COLUMNS.map((c) => `  ${columnDef(c)}`).join(',\n');
  const out = [
    `CREATE DATABASE IF NOT EXISTS ${o.database}${on}`,
    `CREATE TABLE IF NOT EXISTS ${o.database}.${local}${on}\n(\n${cols}\n)\nENGINE = ReplacingMergeTree(\`end\`)\nPARTITION BY toDate(start)\nORDER BY (sensor, start, uid)`,
  ];
  if (o.cluster !== null) {
    out.push(
      `CREATE TABLE IF NOT EXISTS ${o.database}.${o.table}${on} AS ${o.database}.${local}\nENGINE = Distributed(${o.cluster}, ${o.database}, ${local}, cityHash64(uid))`,
    );
  }
  return out;
}

/** The statements as a script to paste into clickhouse-client (each ends with a semicolon). */
export function schemaScript(o: SchemaOptions): string {
  return schemaStatements(o).map((s) => s + ';\n').join('\n');
}

/** The columns a later sensor version added to the table (the anomaly columns), in table order. */
export const ADDED_COLUMNS: readonly ClickHouseColumn[] = CLICKHOUSE_COLUMNS.filter((c) => c.since !== undefined);

/** The tables of a schema in the order an upgrade alters them: the per-shard table, then the Distributed one. */
export function schemaTables(o: SchemaOptions): string[] {
  return o.cluster !== null ? [o.table + LOCAL_SUFFIX, o.table] : [o.table];
}

/**
 * `ALTER TABLE ... ADD COLUMN` for each column of ADDED_COLUMNS that `has` says a table lacks (all of them when
 * `has` is absent: the printed script), per table in schemaTables() order, each column after the one before it as
 * in a new table. ClickHouse 18.16 has no `ADD COLUMN IF NOT EXISTS`, so `--upgrade --apply` reads system.columns
 * first and adds only what is missing. `comments` false leaves out the column comments (the sink's one-line hint).
 */
export function upgradeStatements(o: SchemaOptions, has: (table: string, column: string) => boolean = () => false, comments = true): string[] {
  const on = o.cluster !== null && o.onCluster ? ` ON CLUSTER ${o.cluster}` : '';
  const out: string[] = [];
  for (const t of schemaTables(o)) {
    const adds: string[] = [];
    for (const c of ADDED_COLUMNS) {
      if (has(t, c.name)) continue;
      const i = CLICKHOUSE_COLUMNS.indexOf(c);
      adds.push(`ADD COLUMN ${comments ? columnDef(c) : `\`${c.name}\` ${c.type}`} AFTER \`${CLICKHOUSE_COLUMNS[i - 1]!.name}\``);
    }
    if (adds.length > 0) out.push(`ALTER TABLE ${o.database}.${t}${on}\n  ${adds.join(',\n  ')}`);
  }
  return out;
}

/** The upgrade as a script to paste into clickhouse-client. */
export function upgradeScript(o: SchemaOptions): string {
  const where =
    o.cluster === null
      ? ''
      : o.onCluster
        ? `-- ON CLUSTER ${o.cluster}: run once, on any node\n`
        : `-- run on every node of cluster ${o.cluster}: ${o.table}${LOCAL_SUFFIX} first, then ${o.table}\n`;
  return where + upgradeStatements(o).map((s) => s + ';\n').join('\n');
}
