import { Database, type SqliteDatabase, type SqliteStatement, withAddon } from '../sink/sqliteBinding';

/** How long a read waits for the writing sensor's lock before failing with SQLITE_BUSY. */
const BUSY_TIMEOUT_MS = 5000;

/** The database cannot be read as a sensor database; the message is one line for the user. */
export class FlowDbError extends Error {
  override name = 'FlowDbError';
}

/**
 * A read-only connection to a database the sensor writes (WAL: the sensor keeps writing while this reads).
 * Knows which columns the file has, so that databases of older sensors (before the `verdict` and
 * `topk_labels`/`topk_scores` columns) are read too; it looks again when the schema changes under it (the
 * writing sensor applied a migration). Every statement is prepared from fixed text held in this folder:
 * request values only ever reach SQLite as bound parameters.
 */
export class FlowDb {
  readonly db: SqliteDatabase;
  private columns = new Set<string>();
  private schemaVersion = -1;
  private readonly statements = new Map<string, SqliteStatement<unknown[]>>();
  private readonly schemaStmt: SqliteStatement<[]>;

  constructor(readonly path: string) {
    try {
      this.db = new Database(path, withAddon({ readonly: true, fileMustExist: true }));
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      throw new FlowDbError(`cannot open database ${path} read-only: ${msg} (give the --db the sensor writes)`);
    }
    this.db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    // A second guard besides the read-only open: this connection can never write.
    this.db.pragma('query_only = ON');
    this.schemaStmt = this.db.prepare<[]>('PRAGMA schema_version');
    this.refresh();
    if (!this.columns.has('first_ts')) {
      this.db.close();
      throw new FlowDbError(`database ${path} has no flows table: is it a database written by the sensor (--db)?`);
    }
  }

  /** Whether the flows table has this column (new columns arrive by migration). */
  has(column: string): boolean {
    this.refresh();
    return this.columns.has(column);
  }

  /** Names of the tables whose name starts with `prefix` (the schema's own names, never a request's). */
  tables(prefix: string): string[] {
    const rows = this.prepare('tables', `SELECT name FROM sqlite_master WHERE type = 'table' AND substr(name, 1, ?) = ? ORDER BY name`).all(
      prefix.length,
      prefix,
    ) as { name: string }[];
    return rows.map((r) => r.name);
  }

  /** Column names of a table found by tables() (names validated there). */
  tableColumns(table: string): { name: string; type: string }[] {
    return this.prepare('columns', 'SELECT name, type FROM pragma_table_info(?) ORDER BY cid').all(table) as { name: string; type: string }[];
  }

  /**
   * The statement for `sql`, prepared once per schema version under `key`. `sql` is built only from constant
   * fragments of this folder (a filter's presence picks fragments; its value is bound).
   */
  prepare(key: string, sql: string): SqliteStatement<unknown[]> {
    this.refresh();
    let s = this.statements.get(key);
    if (s === undefined) {
      s = this.db.prepare<unknown[]>(sql);
      this.statements.set(key, s);
    }
    return s;
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  /** Re-reads the column list when the schema changed (cheap: one pragma per call). */
  private refresh(): void {
    const v = this.schemaStmt.pluck().get() as number;
    if (v === this.schemaVersion) return;
    this.schemaVersion = v;
    this.statements.clear();
    const cols = this.db.prepare('SELECT name FROM pragma_table_info(?)').pluck().all('flows') as string[];
    this.columns = new Set(cols);
  }
}
