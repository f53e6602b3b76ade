/** The one module that loads better-sqlite3's native addon (STYLE.md: native code is loaded from one module each). */
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import Database from 'better-sqlite3';

import { SinkError } from './sinkError';

export { Database };
export type SqliteDatabase = Database.Database;
export type SqliteStatement<P extends unknown[] | {} = unknown[], R = unknown> = Database.Statement<P, R>;

/**
 * better-sqlite3's addon where its install puts it (build/Release, as `npm ci` builds or downloads it), or null when
 * it is elsewhere. Given to the constructor as `nativeBinding`, it spares the first connection of each thread the
 * `bindings` package's search (a stack trace to find the package's root, then a probe of a dozen build directories):
 * 1.5-5 ms of CPU against ~1 ms (README *Design notes*, round perf19). null: better-sqlite3's own search.
 */
const ADDON_PATH: string | null = (() => {
  const p = path.join(path.dirname(require.resolve('better-sqlite3/package.json')), 'build', 'Release', 'better_sqlite3.node');
  return existsSync(p) ? p : null;
})();

/**
 * `options` with the addon's path (see ADDON_PATH); every connection the sensor opens (sink, serve) goes through it.
 */
export function withAddon(options: Database.Options = {}): Database.Options {
  return ADDON_PATH === null || options.nativeBinding !== undefined ? options : { ...options, nativeBinding: ADDON_PATH };
}

/**
 * Opens an existing database read-only (exports, fits, evaluations). A missing file or one that is not a database is
 * one SinkError line: `cannot open database PATH[ for PURPOSE]: why`.
 */
export function openReadOnly(dbPath: string, purpose?: string): SqliteDatabase {
  try {
    return new Database(dbPath, withAddon({ readonly: true, fileMustExist: true }));
  } catch (e) {
    throw new SinkError(`cannot open database ${dbPath}${purpose !== undefined ? ` for ${purpose}` : ''}: ${e instanceof Error ? e.message : String(e)}`);
  }
}
