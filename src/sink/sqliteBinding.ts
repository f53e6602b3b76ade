/** The one module that loads better-sqlite3's native addon (STYLE.md: native code is loaded from one module each). */
import Database from 'better-sqlite3';

import { SinkError } from './sinkError';

export { Database };
export type SqliteDatabase = Database.Database;
export type SqliteStatement<P extends unknown[] | {} = unknown[], R = unknown> = Database.Statement<P, R>;

/**
 * Opens an existing database read-only (exports, fits, evaluations). A missing file or one that is not a database is
 * one SinkError line: `cannot open database PATH[ for PURPOSE]: why`.
 */
export function openReadOnly(dbPath: string, purpose?: string): SqliteDatabase {
  try {
    return new Database(dbPath, { readonly: true, fileMustExist: true });
  } catch (e) {
    throw new SinkError(`cannot open database ${dbPath}${purpose !== undefined ? ` for ${purpose}` : ''}: ${e instanceof Error ? e.message : String(e)}`);
  }
}
