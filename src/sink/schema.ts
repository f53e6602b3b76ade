import type { SqliteDatabase } from './sqliteBinding';

/**
 * The flows database schema as an ordered list of migrations. PRAGMA user_version records how many have been
 * applied; opening a database applies the missing ones in order, each in its own transaction, so a later
 * version adds a column by appending a migration (never by editing an old one).
 */
export type Migration = (db: SqliteDatabase) => void;

export const MIGRATIONS: readonly Migration[] = [
  // 1: the flows table (columns are FlowRow's keys, see flowRow.ts) and the indexes the usual queries need.
  (db) => {
    db.exec(`
      CREATE TABLE flows (
        id INTEGER PRIMARY KEY,
        source TEXT NOT NULL,
        first_ts REAL NOT NULL,
        last_ts REAL NOT NULL,
        duration REAL NOT NULL,
        ip_version INTEGER NOT NULL,
        client_ip TEXT NOT NULL,
        client_port INTEGER NOT NULL,
        server_ip TEXT NOT NULL,
        server_port INTEGER NOT NULL,
        vlan INTEGER NOT NULL,
        c2s_packets INTEGER NOT NULL,
        s2c_packets INTEGER NOT NULL,
        c2s_bytes INTEGER NOT NULL,
        s2c_bytes INTEGER NOT NULL,
        c2s_payload_bytes INTEGER NOT NULL,
        s2c_payload_bytes INTEGER NOT NULL,
        payload_packets INTEGER NOT NULL,
        retrans_skipped INTEGER NOT NULL,
        midstream INTEGER NOT NULL,
        conn_state TEXT NOT NULL,
        history TEXT NOT NULL,
        community_id TEXT NOT NULL,
        end_reason TEXT NOT NULL,
        lengths TEXT NOT NULL,
        label TEXT NOT NULL,
        confidence REAL NOT NULL,
        topk TEXT NOT NULL,
        model_version TEXT NOT NULL
      );
      CREATE INDEX flows_first_ts ON flows (first_ts);
      CREATE INDEX flows_label ON flows (label);
      CREATE INDEX flows_client_ip ON flows (client_ip);
      CREATE INDEX flows_server ON flows (server_ip, server_port);
      CREATE INDEX flows_community_id ON flows (community_id);
    `);
  },
];

/** The database was written by a newer sensor: refuse rather than write rows it does not expect. */
export class SchemaError extends Error {
  override name = 'SchemaError';
}

/** Applies the migrations `db` lacks; returns the resulting schema version. */
export function migrate(db: SqliteDatabase, path: string, migrations: readonly Migration[] = MIGRATIONS): number {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > migrations.length) {
    throw new SchemaError(
      `database ${path} has schema version ${current}, newer than this sensor's ${migrations.length}: upgrade the sensor or write to another database`,
    );
  }
  for (let v = current; v < migrations.length; v++) {
    const step = migrations[v]!;
    db.transaction(() => {
      step(db);
      // PRAGMA takes no bound parameters; v is an integer we computed.
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
  return migrations.length;
}
