/** The one module that loads better-sqlite3's native addon (STYLE.md: native code is loaded from one module each). */
import Database from 'better-sqlite3';

export { Database };
export type SqliteDatabase = Database.Database;
export type SqliteStatement<P extends unknown[] | {} = unknown[], R = unknown> = Database.Statement<P, R>;
