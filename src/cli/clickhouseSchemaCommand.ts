import type { ClickHouseConfig } from '../config/clickhouseConfig';
import { clickHousePassword, openEndpoint } from '../sink/clickhouse/client';
import { schemaScript, schemaStatements } from '../sink/clickhouse/ddl';
import { SinkError } from '../sink/sinkError';

export interface SchemaCommand {
  clickhouse: ClickHouseConfig;
  cluster: string | null;
  onCluster: boolean;
  apply: string[];
}

/**
 * `sensor clickhouse-schema`: prints the DDL; with --apply URL runs it on each URL in turn (every node of a
 * cluster, unless --on-cluster lets ClickHouse spread it). Returns the exit code.
 */
export async function clickhouseSchemaCommand(c: SchemaCommand, out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  const opts = { database: c.clickhouse.database, table: c.clickhouse.table, cluster: c.cluster, onCluster: c.onCluster };
  if (c.apply.length === 0) {
    out.write(schemaScript(opts));
    return 0;
  }
  const statements = schemaStatements(opts);
  const password = clickHousePassword(c.clickhouse);
  for (const url of c.apply) {
    const endpoint = openEndpoint(url, c.clickhouse, password);
    try {
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
    err.write(`sensor: applied ${statements.length} statements to ${url} (${opts.database}.${opts.table}${opts.cluster !== null ? `, cluster ${opts.cluster}` : ''})\n`);
  }
  return 0;
}
