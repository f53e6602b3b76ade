import type { ClickHouseConfig } from '../config/clickhouseConfig';
import { clickHousePassword, openEndpoint } from '../sink/clickhouse/client';
import { schemaScript, schemaStatements, schemaTables, upgradeScript, upgradeStatements } from '../sink/clickhouse/ddl';
import { SinkError } from '../sink/sinkError';

export interface SchemaCommand {
  clickhouse: ClickHouseConfig;
  cluster: string | null;
  onCluster: boolean;
  apply: string[];
  /** ALTER TABLE for the columns an older table lacks, instead of CREATE. */
  upgrade: boolean;
}

/**
 * `sensor clickhouse-schema`: prints the DDL; with --apply URL runs it on each URL in turn (every node of a
 * cluster, unless --on-cluster lets ClickHouse spread it). With --upgrade: the ALTER TABLE statements that add the
 * columns of later versions; applied, only the columns each table lacks (system.columns), so it can run twice.
 * Returns the exit code.
 */
export async function clickhouseSchemaCommand(c: SchemaCommand, out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  const opts = { database: c.clickhouse.database, table: c.clickhouse.table, cluster: c.cluster, onCluster: c.onCluster };
  if (c.apply.length === 0) {
    out.write(c.upgrade ? upgradeScript(opts) : schemaScript(opts));
    return 0;
  }
  const password = clickHousePassword(c.clickhouse);
  for (const url of c.apply) {
    const endpoint = openEndpoint(url, c.clickhouse, password);
    let statements: string[];
    try {
      statements = c.upgrade ? await missingColumns(endpoint, url, opts) : schemaStatements(opts);
      for (const s of statements) {
        try {
          await endpoint.command(s);
        } catch (e) {
          const first = s.split('\n')[0];
          throw new SinkError(`clickhouse-schema: ${url} refused "${first}": ${(e as Error).message.replace(/\s+/g, ' ').trim()}`);
        }
      }
    } finally {
      await endpoint.close();
    }
    const what = `${opts.database}.${opts.table}${opts.cluster !== null ? `, cluster ${opts.cluster}` : ''}`;
    if (c.upgrade && statements.length === 0) err.write(`sensor: ${url} (${what}) has every column already\n`);
    else err.write(`sensor: applied ${statements.length} statements to ${url} (${what})\n`);
  }
  return 0;
}

/** The upgrade statements for what each table at `url` lacks; a missing table is an error that says how to create it. */
async function missingColumns(endpoint: ReturnType<typeof openEndpoint>, url: string, opts: Parameters<typeof upgradeStatements>[0]): Promise<string[]> {
  const has = new Map<string, Set<string>>();
  for (const t of schemaTables(opts)) {
    const rows = await endpoint
      .rows<{ name: string }>(`SELECT name FROM system.columns WHERE database = '${opts.database}' AND table = '${t}'`)
      .catch((e: Error) => {
        throw new SinkError(`clickhouse-schema: ${url} refused to list the columns of ${opts.database}.${t}: ${e.message.replace(/\s+/g, ' ').trim()}`);
      });
    if (rows.length === 0) {
      throw new SinkError(`clickhouse-schema: ${url} has no table ${opts.database}.${t} to upgrade; create it with sensor clickhouse-schema${opts.cluster !== null ? ` --cluster ${opts.cluster}` : ''} --apply ${url}`);
    }
    has.set(t, new Set(rows.map((r) => r.name)));
  }
  return upgradeStatements(opts, (t, col) => has.get(t)!.has(col));
}
