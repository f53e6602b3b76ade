import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeSynthCapture } from '../helpers/synthCapture';
import { captureSummary } from '../helpers/captureSummary';

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

/** A capture of many short flows: its bulk run's close (the last commit, the deferred indexes) takes ~0.3 s. */
const CLOSE_FLOWS = 10_000;

let dir = '';
let capture = '';
let manyFlows = '';

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'sensor-cli-stop-'));
  capture = path.join(dir, 'synth.pcap');
  writeSynthCapture(capture, PACKETS, 400);
  manyFlows = path.join(dir, 'many-flows.pcap');
  writeSynthCapture(manyFlows, 10 * CLOSE_FLOWS, CLOSE_FLOWS);
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
      const done = captureSummary<{ frames: number; stopped_by: string | null; ended: Record<string, number>; flows: number }>(stderr);
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

/** `sensor ARGS` with a debug log, sent `signal` once it logs that its outputs close; its exit code and stderr. */
async function signalWhileClosing(args: string[], signal: NodeJS.Signals, env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [BIN, ...args, '--log-level', 'debug'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } });
  let stderr = '';
  let sent = false;
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString();
    if (!sent && stderr.includes('"closing the outputs"')) {
      sent = true;
      child.kill(signal);
    }
  });
  const guard = setTimeout(() => child.kill('SIGKILL'), 60000);
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  clearTimeout(guard);
  expect(sent, `no "closing the outputs" line: ${stderr}`).toBe(true);
  return { code, stderr };
}

function indexes(db: string): string[] {
  const conn = new Database(db, { readonly: true });
  const names = (conn.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND name NOT LIKE 'sqlite_%' ORDER BY name").all() as { name: string }[]).map((r) => r.name);
  conn.close();
  return names;
}

function flowCount(db: string): number {
  const conn = new Database(db, { readonly: true });
  const n = (conn.prepare('SELECT COUNT(*) AS n FROM flows').get() as { n: number }).n;
  conn.close();
  return n;
}

/**
 * Regression: the run let go of its signal handlers before it closed its outputs, so a SIGTERM during the close (the
 * last commit, the deferred index builds, the host profiles' last window) met the signal's default action and killed
 * the process with the close half done (exit by signal; in `sensor --pcap ... --serve` also in the moment between the
 * end of the run and the serving).
 */
// The database in its own thread closes while the event loop turns (a signal then meets the close half done); on the
// capture thread (a file run on fewer than three CPUs, src/config/helperThreads.ts) the close runs in one piece and
// the signal is taken after it, before the run lets go of its handlers. Both must finish it.
const DB_THREAD = { SENSOR_THREADS_ON: 'database' };
const DB_INLINE = { SENSOR_THREADS_OFF: 'database' };

describe('sensor --pcap signalled while its outputs close', () => {
  it.each([
    ['in its thread', DB_THREAD],
    ['on the capture thread', DB_INLINE],
  ])('finishes the close of the database %s: exit 0, nothing stopped, every flow and index written', async (where, env) => {
    const ref = path.join(dir, 'close-ref.db');
    if (!existsSync(ref)) expect(spawnSync(process.execPath, [BIN, '--pcap', manyFlows, '--db', ref, '--no-classify'], { cwd: ROOT, stdio: 'ignore' }).status).toBe(0);

    const db = path.join(dir, `close-sigterm-${env === DB_THREAD ? 'thread' : 'inline'}.db`);
    const r = await signalWhileClosing(['--pcap', manyFlows, '--db', db, '--no-classify'], 'SIGTERM', env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr, where).toContain('"signal while the outputs close; finishing the close first"');
    const done = captureSummary<{ stopped_by: string | null; flows: number }>(r.stderr);
    expect(done.stopped_by).toBeNull();
    expect(done.flows).toBe(CLOSE_FLOWS);
    expect(flowCount(db)).toBe(CLOSE_FLOWS);
    expect(indexes(db)).toEqual(indexes(ref));
    expect(indexes(db).length).toBeGreaterThan(0);
  }, 90_000);

  it.each([
    ['in its thread', DB_THREAD],
    ['on the capture thread', DB_INLINE],
  ])('with --serve and the database %s, one signal then ends the run and the serving (exit 0, every flow written)', async (_where, env) => {
    const db = path.join(dir, `close-serve-${env === DB_THREAD ? 'thread' : 'inline'}.db`);
    const r = await signalWhileClosing(['--pcap', manyFlows, '--db', db, '--no-classify', '--serve', '127.0.0.1:0'], 'SIGTERM', env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('"serving the HTTP API and web view"');
    expect(r.stderr).not.toContain('still serving until SIGINT/SIGTERM');
    expect(flowCount(db)).toBe(CLOSE_FLOWS);
  }, 90_000);
});
