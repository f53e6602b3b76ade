import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readOnnxMetadata } from '../../src/classify/onnxMetadata';
import { MIGRATIONS } from '../../src/sink/schema';
import { conversation, pcapBytes } from '../helpers/frames';
import { captureSummary } from '../helpers/captureSummary';
import { withMetadata } from '../monitor/referenceModel';

/**
 * Unclear errors found by the reliability campaign (issue 9): each bad database or capture path gives one line
 * that names the path and says what to do, with exit code 2, never `internal error` with a stack trace.
 */

const ROOT = path.resolve(__dirname, '../..');
const BIN = path.join(ROOT, 'bin/sensor.js');

function sensor(args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', cwd: ROOT, timeout: 60000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** The one line a usage/config/output error prints, after checking that it is the only line and has no stack. */
function oneLine(r: { code: number; stderr: string }): string {
  const lines = r.stderr.trim().split('\n');
  expect(lines, r.stderr).toHaveLength(1);
  expect(r.stderr).not.toContain('internal error');
  expect(r.stderr).not.toMatch(/\n\s+at /);
  return lines[0]!;
}

let dir = '';
let capture = '';

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'sensor-cli-errors-'));
  capture = path.join(dir, 'one.pcap');
  writeFileSync(capture, pcapBytes(conversation(1700000000, '10.0.0.1', '10.0.0.2', 40001, 443, [[120, 1460]])));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('sensor output errors', () => {
  it('refuses a database with a newer schema in one line naming it, exit 2', () => {
    const db = path.join(dir, 'newer.db');
    const conn = new Database(db);
    conn.pragma('user_version = 99');
    conn.close();
    const r = sensor(['--pcap', capture, '--db', db, '--no-classify']);
    expect(r.code).toBe(2);
    expect(oneLine(r)).toBe(`sensor: database ${db} has schema version 99, newer than this sensor's ${MIGRATIONS.length}: upgrade the sensor or write to another database`);
  });

  it('names a file that is not a database, exit 2', () => {
    const db = path.join(dir, 'notes.db');
    writeFileSync(db, 'these are notes, not a database; '.repeat(200));
    const r = sensor(['--pcap', capture, '--db', db, '--no-classify']);
    expect(r.code).toBe(2);
    const line = oneLine(r);
    expect(line).toContain(db);
    expect(line).toContain('file is not a database');
    expect(line).toContain('give another --db path');
  });

  it('names a database whose flows table the sensor did not create, exit 2', () => {
    const db = path.join(dir, 'foreign.db');
    const conn = new Database(db);
    conn.exec('CREATE TABLE flows (a INTEGER)');
    conn.close();
    const r = sensor(['--pcap', capture, '--db', db, '--no-classify']);
    expect(r.code).toBe(2);
    const line = oneLine(r);
    expect(line).toContain(db);
    expect(line).toContain('table flows already exists');
    expect(line).toContain('tables the sensor did not create');
  });

  it('leaves no new database or JSON lines file behind when the model cannot be loaded (outputs open beside it)', () => {
    const bad = path.join(dir, 'junk.onnx');
    writeFileSync(bad, 'junk\n');
    const db = path.join(dir, 'never.db');
    const jsonl = path.join(dir, 'never.jsonl');
    const r = sensor(['--pcap', capture, '--model', bad, '--db', db, '--jsonl', jsonl]);
    expect(r.code).toBe(2);
    expect(oneLine(r)).toContain('junk.onnx');
    for (const f of [db, `${db}-wal`, `${db}-shm`, jsonl]) expect(existsSync(f), f).toBe(false);
  });

  it('refuses a capture directory without captures in one line, exit 2 (not a silent 0)', () => {
    const empty = path.join(dir, 'nothing-here');
    mkdirSync(empty);
    writeFileSync(path.join(empty, 'README.txt'), 'no captures');
    const r = sensor(['--pcap', empty, '--no-classify']);
    expect(r.code).toBe(2);
    expect(oneLine(r)).toBe(
      `sensor: Capture directory ${empty} holds no capture files (1 entries, none a pcap, pcapng or gzip file by its first bytes)`,
    );
    expect(r.stdout).toBe('');
  });
});

describe('sensor on impossible lengths', () => {
  it('counts a record whose original length no wire carries as bad_wire_length and never makes a 4 GB payload of it', () => {
    const frames = conversation(1700000000, '10.0.0.1', '10.0.0.2', 40001, 443, [[120, 1460]]);
    const bytes = pcapBytes(frames);
    // The 4th frame is the 120-byte request: set its IPv4 total length to 0 (offload: "the length comes from the
    // frame") and its pcap original length to 0xffffffff, as a fuzzed capture does. The wire length is then treated
    // as unknown, so the payload length comes from the captured bytes (as tshark reads it), not from 4 GB.
    let off = 24;
    for (let i = 0; i < 3; i++) off += 16 + bytes.readUInt32LE(off + 8);
    bytes.writeUInt32LE(0xffffffff, off + 12);
    bytes.writeUInt16BE(0, off + 16 + 14 + 2);
    const file = path.join(dir, 'huge-orig-len.pcap');
    writeFileSync(file, bytes);
    const r = sensor(['--pcap', file, '--jsonl', '-', '--no-classify']);
    expect(r.code).toBe(0);
    const flows = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { lengths: number[]; c2s_payload_bytes: number; c2s_bytes: number });
    expect(flows).toHaveLength(1);
    expect(flows[0]!.lengths.slice(0, 3)).toEqual([120, -1460, 0]);
    expect(flows[0]!.c2s_payload_bytes).toBe(120);
    expect(flows[0]!.c2s_bytes).toBeLessThan(1000);
    expect(captureSummary(r.stderr)['anomalies']).toEqual({ bad_wire_length: 1 });
  });
});

describe('a model whose self-check fails (a runtime that computes it wrongly)', () => {
  it('the run and `sensor serve` refuse it in one line naming the model and what to do, exit 2, and write nothing', () => {
    // The bundled model with one reference probability off by 0.3: to the sensor, as a wrong runtime looks.
    const bytes = readFileSync(path.join(ROOT, 'models/sensor.onnx'));
    const e = JSON.parse(readOnnxMetadata(bytes).props.get('self_check')!) as { expected: number[][] };
    e.expected[5]![0] = e.expected[5]![0]! + 0.3;
    const model = path.join(dir, 'off.onnx');
    writeFileSync(model, withMetadata(bytes, 'self_check', JSON.stringify(e)));
    const db = path.join(dir, 'self-check.db');
    for (const args of [['--pcap', capture, '--db', db, '--model', model], ['serve', '--db', db, '--model', model, '--listen', '127.0.0.1:0']]) {
      if (args[0] === 'serve') expect(sensor(['--pcap', capture, '--db', db, '--no-classify']).code).toBe(0);
      const r = sensor(args);
      expect(r.code, r.stderr).toBe(2);
      const line = oneLine(r);
      expect(line).toMatch(new RegExp(`^sensor: model ${model.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: self-check failed: onnxruntime-node [0-9.]+ does not reproduce`));
      expect(line).toContain('on 1 of 64 rows (rows 5; top class changed on ');
      expect(line).toContain('or run with --no-classify');
      if (args[0] !== 'serve') expect(existsSync(db)).toBe(false);
    }
  });
});

