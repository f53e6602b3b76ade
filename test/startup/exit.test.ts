import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = path.resolve(__dirname, '../..');
const tmp = mkdtempSync(path.join(tmpdir(), 'sensor-exit-'));

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/**
 * Runs `sensor demo` with JSON lines on stdout into a reader that starts only after `delayMs` (a slow consumer: the
 * ~95 KB of records fill the 64 KB pipe, so the sensor's last writes wait for it), and what came through.
 */
function demo(delayMs: number, db: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const sensor = [process.execPath, path.join(ROOT, 'bin', 'sensor.js'), 'demo', '--db', db, '--jsonl', '-', '--no-progress'].map((a) => `'${a}'`).join(' ');
    const p = spawn('bash', ['-o', 'pipefail', '-c', `${sensor} | (sleep ${delayMs / 1000}; cat)`], { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    p.stdout.on('data', (b: Buffer) => out.push(b));
    p.stderr.on('data', (b: Buffer) => err.push(b));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') }));
  });
}

describe('exit', () => {
  it('leaves nothing unwritten when it exits at once after the run: every record on a slow stdout, the database closed', async () => {
    const db = path.join(tmp, 'slow.db');
    const r = await demo(400, db);
    expect(r.code, r.stderr).toBe(0);
    // Closed, not merely abandoned: SQLite removes the write-ahead log when the last connection closes.
    expect(existsSync(db)).toBe(true);
    expect(existsSync(db + '-wal')).toBe(false);
    const lines = r.stdout.split('\n').filter((l) => l !== '');
    const conn = new Database(db, { readonly: true });
    const rows = (conn.prepare('SELECT COUNT(*) AS n FROM flows').get() as { n: number }).n;
    expect(conn.pragma('journal_mode', { simple: true })).toBe('wal');
    conn.close();
    expect(rows).toBeGreaterThan(50);
    expect(lines.length).toBe(rows);
    for (const l of lines) expect(() => JSON.parse(l) as unknown).not.toThrow();
    expect(r.stderr).toContain('"capture done"');
  });
});
