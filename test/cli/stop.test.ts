import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeSynthCapture } from '../helpers/synthCapture';

/**
 * SIGTERM and SIGINT stop an offline run at once (issue 9): reading stops within a window of records, every open
 * flow is written with end_reason `shutdown` (as in live mode) and the process exits 0 well within a second.
 * Regression: the read loop never let the event loop turn, so a signal waited for the end of the input.
 */

const ROOT = path.resolve(__dirname, '../..');
const BIN = path.join(ROOT, 'bin/sensor.js');
/** The same capture given this many times with --rotated: one long input (~8M packets) from one small file. */
const REPEATS = 40;
const PACKETS = 200_000;

let dir = '';
let capture = '';

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'sensor-cli-stop-'));
  capture = path.join(dir, 'synth.pcap');
  writeSynthCapture(capture, PACKETS, 400);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('sensor --pcap stopped by a signal', () => {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`${signal} stops reading, writes the open flows as shutdown, and exits 0 within a second`, async () => {
      const db = path.join(dir, `${signal}.db`);
      const args = ['--rotated', '--db', db, '--no-classify', '--progress'];
      for (let i = 0; i < REPEATS; i++) args.push('--pcap', capture);
      const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      const guard = setTimeout(() => child.kill('SIGKILL'), 60000);
      // The progress line shows that reading has begun.
      for (let i = 0; i < 600 && !stderr.includes('packets '); i++) await new Promise((r) => setTimeout(r, 50));
      expect(stderr, 'no progress line: the run did not start reading').toContain('packets ');
      const t0 = Date.now();
      child.kill(signal);
      const code = await exited;
      const ms = Date.now() - t0;
      clearTimeout(guard);
      expect(code, stderr).toBe(0);
      console.log(`${signal}: stopped ${ms} ms after the signal`);
      expect(ms, stderr).toBeLessThan(1000);
      // The progress line is erased (\r ESC[K) in front of the summary.
      const line = stderr.split('\n').find((l) => l.includes('"capture done"'))!;
      const done = JSON.parse(line.slice(line.indexOf('{'))) as {
        frames: number;
        stopped_by: string | null;
        ended: Record<string, number>;
        flows: number;
      };
      expect(done.stopped_by).toBe(signal);
      expect(done.frames).toBeGreaterThan(0);
      expect(done.frames).toBeLessThan(REPEATS * PACKETS);
      expect(done.ended.shutdown).toBeGreaterThan(0);
      const conn = new Database(db, { readonly: true });
      const rows = conn.prepare('SELECT end_reason, COUNT(*) AS n FROM flows GROUP BY end_reason').all() as { end_reason: string; n: number }[];
      conn.close();
      const byReason = Object.fromEntries(rows.map((r) => [r.end_reason, r.n]));
      expect(byReason.shutdown).toBe(done.ended.shutdown);
      expect(rows.reduce((n, r) => n + r.n, 0)).toBe(done.flows);
    });
  }
});
