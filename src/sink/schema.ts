import type { VerdictStatus } from '../classify/verdict';
import { flowUid } from '../flow/flowUid';
import { isoMicros } from './isoTime';
import type { SqliteDatabase } from './sqliteBinding';

/**
 * The flows database schema as an ordered list of migrations. PRAGMA user_version records how many have been
 * applied; opening a database applies the missing ones in order, each in its own transaction, so a later
 * version adds a column by appending a migration (never by editing an old one).
 */
export type Migration = (db: SqliteDatabase, ctx: MigrationContext) => void;

/** What a migration may need to backfill rows written before it. */
export interface MigrationContext {
  /** The name of the sensor opening the database (config `sensor.name`). */
  sensorName: string;
}

/** The verdict status of a version-1 row, which only had its label (the sentinels are the statuses' names). */
export function statusOfLabel(label: string): VerdictStatus {
  return label === 'unknown' || label === 'no-payload' || label === 'classify-error' || label === 'unclassified' ? label : 'classified';
}

/**
 * Whether a version-1 `source` names a capture file rather than a live interface: a Linux interface name has at
 * most 15 characters and no '/', and capture files end in .pcap, .pcapng, .cap or .gz (the files `--pcap DIR`
 * picks). Anything else is taken for an interface.
 */
export function sourceIsFile(source: string): boolean {
  return source.includes('/') || source.length > 15 || /\.(pcap|pcapng|cap|gz)$/i.test(source);
}

/** topk_labels / topk_scores (JSON text) from a version-1 `topk` text `[{"label":..,"p":..},...]`. */
function splitTopk(topk: string, field: 'label' | 'p'): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(topk);
  } catch {
    return '[]';
  }
  if (!Array.isArray(parsed)) return '[]';
  return JSON.stringify(parsed.map((e: unknown) => (e !== null && typeof e === 'object' ? (e as Record<string, unknown>)[field] ?? null : null)));
}

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
  // 2: the SIEM-ready record (README "Flow records"): uid, sensor, in_iface / pcap_filename, ISO 8601 start/end,
  // proto, the verdict status, and topk split into two arrays (Elastic flattens an array of objects into noise).
  // Rows written before are backfilled: `sensor` is the name of the sensor that upgrades the file, the uid is
  // computed from it as for new rows, in_iface / pcap_filename follow sourceIsFile(), verdict statusOfLabel().
  (db, ctx) => {
    db.exec(`
      ALTER TABLE flows ADD COLUMN uid TEXT NOT NULL DEFAULT '';
      ALTER TABLE flows ADD COLUMN sensor TEXT NOT NULL DEFAULT '';
      ALTER TABLE flows ADD COLUMN in_iface TEXT;
      ALTER TABLE flows ADD COLUMN pcap_filename TEXT;
      ALTER TABLE flows ADD COLUMN start TEXT NOT NULL DEFAULT '';
      ALTER TABLE flows ADD COLUMN "end" TEXT NOT NULL DEFAULT '';
      ALTER TABLE flows ADD COLUMN proto TEXT NOT NULL DEFAULT 'tcp';
      ALTER TABLE flows ADD COLUMN verdict TEXT NOT NULL DEFAULT '';
      ALTER TABLE flows ADD COLUMN topk_labels TEXT NOT NULL DEFAULT '[]';
      ALTER TABLE flows ADD COLUMN topk_scores TEXT NOT NULL DEFAULT '[]';
    `);
    const fn = { deterministic: true, directOnly: true } as const;
    db.function('sensor_v2_iso', fn, (ts: unknown) => isoMicros(Number(ts)));
    db.function('sensor_v2_is_file', fn, (source: unknown) => (sourceIsFile(String(source)) ? 1 : 0));
    db.function('sensor_v2_status', fn, (label: unknown) => statusOfLabel(String(label)));
    db.function('sensor_v2_topk', fn, (topk: unknown, field: unknown) => splitTopk(String(topk), field === 'p' ? 'p' : 'label'));
    db.function('sensor_v2_uid', { ...fn, varargs: true }, (...a: unknown[]) =>
      flowUid(String(a[0]), Number(a[1]), String(a[2]), Number(a[3]), String(a[4]), Number(a[5]), Number(a[6]), Number(a[7])),
    );
    db.prepare(`
      UPDATE flows SET
        sensor = @sensor,
        in_iface = CASE sensor_v2_is_file(source) WHEN 1 THEN NULL ELSE source END,
        pcap_filename = CASE sensor_v2_is_file(source) WHEN 1 THEN source ELSE NULL END,
        start = sensor_v2_iso(first_ts),
        "end" = sensor_v2_iso(last_ts),
        verdict = sensor_v2_status(label),
        topk_labels = sensor_v2_topk(topk, 'label'),
        topk_scores = sensor_v2_topk(topk, 'p'),
        uid = sensor_v2_uid(@sensor, ip_version, client_ip, client_port, server_ip, server_port, vlan, first_ts)
    `).run({ sensor: ctx.sensorName });
    db.exec('ALTER TABLE flows DROP COLUMN topk');
  },
  // 3: the model monitor (src/monitor): one row per window (inputs and verdicts against the model's reference,
  // ground-truth totals, alerts) and per-class ground-truth counts per window. README "Watching the model".
  (db) => {
    db.exec(`
      CREATE TABLE monitor_windows (
        id INTEGER PRIMARY KEY,
        window_start REAL NOT NULL,
        window_end REAL NOT NULL,
        complete INTEGER NOT NULL,
        model_version TEXT NOT NULL,
        flows INTEGER NOT NULL,
        classified INTEGER NOT NULL,
        unknown INTEGER NOT NULL,
        unknown_share REAL,
        reference_unknown_share REAL,
        label_counts TEXT NOT NULL,
        class_counts TEXT NOT NULL,
        input_psi REAL,
        input_psi_max REAL,
        input_psi_positions TEXT,
        payload_psi REAL,
        class_psi REAL,
        confidence_psi REAL,
        gt_scored INTEGER NOT NULL,
        gt_correct INTEGER NOT NULL,
        gt_accuracy REAL,
        alerts TEXT NOT NULL
      );
      CREATE INDEX monitor_windows_start ON monitor_windows (window_start);
      CREATE TABLE monitor_accuracy (
        id INTEGER PRIMARY KEY,
        window_start REAL NOT NULL,
        window_end REAL NOT NULL,
        model_version TEXT NOT NULL,
        class TEXT NOT NULL,
        support INTEGER NOT NULL,
        predicted INTEGER NOT NULL,
        correct INTEGER NOT NULL,
        recall REAL,
        precision REAL
      );
      CREATE INDEX monitor_accuracy_start ON monitor_accuracy (window_start);
    `);
  },
  // 4: an index on the flow uid: all records of one flow (the `active` ones and the final one), a flow named in a
  // SIEM, GET /v1/flows?uid=. IF NOT EXISTS: a bulk run's createIndexes() may have made it already.
  (db) => {
    db.exec('CREATE INDEX IF NOT EXISTS flows_uid ON flows (uid)');
  },
  // 5: the anomaly score of every flow (models/ANOMALY.md): the score, the flag, and the false-positive rate on
  // normal traffic that the flag's threshold was set for. Rows written before have none (NULL).
  (db) => {
    db.exec(`
      ALTER TABLE flows ADD COLUMN anomaly_score REAL;
      ALTER TABLE flows ADD COLUMN anomaly INTEGER;
      ALTER TABLE flows ADD COLUMN anomaly_fpr REAL;
    `);
  },
  // 6: host profiles (src/hosts): one row per sensor, host and time window, kept up to date as flows are written
  // (README "Host profiles"), and an event row whenever a host's behaviour group differs from its previous window's.
  (db) => {
    db.exec(`
      CREATE TABLE hosts (
        id INTEGER PRIMARY KEY,
        sensor TEXT NOT NULL,
        host TEXT NOT NULL,
        window_start REAL NOT NULL,
        window_seconds INTEGER NOT NULL,
        start TEXT NOT NULL,
        final INTEGER NOT NULL,
        flows_client INTEGER NOT NULL,
        flows_server INTEGER NOT NULL,
        peers INTEGER NOT NULL,
        server_ports INTEGER NOT NULL,
        distinct_exact INTEGER NOT NULL,
        failed_client INTEGER NOT NULL,
        failed_server INTEGER NOT NULL,
        reset_flows INTEGER NOT NULL,
        bytes_sent INTEGER NOT NULL,
        bytes_received INTEGER NOT NULL,
        duration_mean REAL NOT NULL,
        duration_max REAL NOT NULL,
        long_flows INTEGER NOT NULL,
        label_entropy REAL NOT NULL,
        unknown_share REAL NOT NULL,
        top_peer TEXT NOT NULL,
        top_peer_flows INTEGER NOT NULL,
        top_peer_interval_cv REAL,
        anomalous_flows INTEGER NOT NULL,
        anomaly_max REAL,
        behaviour_group TEXT,
        group_distance REAL,
        UNIQUE (sensor, host, window_start)
      );
      CREATE INDEX hosts_window_start ON hosts (window_start);
      CREATE TABLE host_events (
        id INTEGER PRIMARY KEY,
        ts REAL NOT NULL,
        time TEXT NOT NULL,
        sensor TEXT NOT NULL,
        host TEXT NOT NULL,
        window_start REAL NOT NULL,
        old_group TEXT NOT NULL,
        new_group TEXT NOT NULL,
        reason TEXT NOT NULL
      );
      CREATE INDEX host_events_ts ON host_events (ts);
    `);
  },
];

/**
 * The secondary indexes of the flows table, as the migrations leave them (migrations 1 and 4 created these; a later
 * migration that adds or changes an index updates this list too). A bulk offline run into an empty database
 * drops them while it writes and builds them at the end (SqliteSink `deferIndexes`), and every open creates any
 * that are missing, so a bulk run that was killed leaves a database that heals at its next open.
 */
export const SECONDARY_INDEXES: readonly { name: string; columns: string }[] = [
  { name: 'flows_first_ts', columns: 'first_ts' },
  { name: 'flows_label', columns: 'label' },
  { name: 'flows_client_ip', columns: 'client_ip' },
  { name: 'flows_server', columns: 'server_ip, server_port' },
  { name: 'flows_community_id', columns: 'community_id' },
  { name: 'flows_uid', columns: 'uid' },
];

/** Creates the secondary indexes that are missing (all of them after a bulk run, none normally). */
export function createIndexes(db: SqliteDatabase): void {
  db.transaction(() => {
    for (const i of SECONDARY_INDEXES) db.exec(`CREATE INDEX IF NOT EXISTS ${i.name} ON flows (${i.columns})`);
  })();
}

/** Drops the secondary indexes (bulk offline run into an empty table; createIndexes() restores them). */
export function dropIndexes(db: SqliteDatabase): void {
  db.transaction(() => {
    for (const i of SECONDARY_INDEXES) db.exec(`DROP INDEX IF EXISTS ${i.name}`);
  })();
}

/** The database was written by a newer sensor: refuse rather than write rows it does not expect. */
export class SchemaError extends Error {
  override name = 'SchemaError';
}

/** Applies the migrations `db` lacks; returns the resulting schema version. */
export function migrate(db: SqliteDatabase, path: string, ctx: MigrationContext, migrations: readonly Migration[] = MIGRATIONS): number {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > migrations.length) {
    throw new SchemaError(
      `database ${path} has schema version ${current}, newer than this sensor's ${migrations.length}: upgrade the sensor or write to another database`,
    );
  }
  for (let v = current; v < migrations.length; v++) {
    const step = migrations[v]!;
    db.transaction(() => {
      step(db, ctx);
      // PRAGMA takes no bound parameters; v is an integer we computed.
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
  return migrations.length;
}
