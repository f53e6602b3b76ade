import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { beforeAll, describe, expect, it } from 'vitest';
import { conversation, pcapBytes } from '../helpers/frames';
import { KEY_1, KEY_2, PSEUDONYMS } from '../helpers/knownAnswers';

const ROOT = path.resolve(__dirname, '../..');
const BIN = path.join(ROOT, 'bin/sensor.js');
const FIXTURE_MODEL = path.join(ROOT, 'test/fixtures/model/fixture.onnx');
const MARKER = 'TOP-SECRET-PAYLOAD-';

function sensor(args: string[], cwd?: string): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', cwd: cwd ?? ROOT, timeout: 60000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

let dir: string;
let capture: string;

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'sensor-cli-'));
  capture = path.join(dir, 'three.pcap');
  const frames = [
    ...conversation(1700000000, '10.0.0.1', '10.0.0.2', 40001, 443, [[120, 1460], [0, 900]], MARKER),
    ...conversation(1700000001, '10.0.0.3', '10.0.0.2', 40002, 22, [[40, 40], [80, 0]], MARKER),
    ...conversation(1700000002, '10.0.0.4', '10.0.0.9', 40003, 80, [[300, 1200]], MARKER),
  ].sort((a, b) => a.ts - b.ts);
  writeFileSync(capture, pcapBytes(frames));
});

describe('sensor CLI', () => {
  it('--help documents the options, the commands and the exit codes', () => {
    const r = sensor(['--help']);
    expect(r.code).toBe(0);
    for (const word of ['--pcap', '--db', '--jsonl', '--config', '--rotated', 'export', 'eval', 'interfaces', 'Exit codes']) {
      expect(r.stdout).toContain(word);
    }
  });

  it('export --help and eval --help document their flags without asking for them', () => {
    for (const [cmd, flags] of [['export', ['--db', '--format', '--out', '--label', '--length']], ['eval', ['--csv', '--model']]] as const) {
      const r = sensor([cmd, '--help']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain(`Usage: sensor ${cmd}`);
      for (const f of flags) expect(r.stdout).toContain(f);
    }
  });

  // Issue 9 item 7: these printed two lines, or said "got null".
  it('says what is wrong with a flag value in one line, exit 2', () => {
    for (const [args, msg] of [
      [['--device', 'tpu'], 'sensor: --device must be one of "auto", "cpu", "cuda", got "tpu"'],
      [['--idle-timeout', 'abc'], 'sensor: --idle-timeout must be a number, got "abc"'],
      [['--idle-timeout', '3'], 'sensor: flow.idleTimeout (3 s, --idle-timeout) must be longer than flow.finGrace (5 s)'],
      [['--pcapp', 'x'], 'sensor: Unknown option --pcapp (did you mean --pcap?); see sensor --help'],
    ] as const) {
      const r = sensor(['--pcap', capture, ...args]);
      expect(r.code).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toContain(msg);
    }
  });

  it('--log-format pretty writes readable lines, json one object per line', () => {
    const pretty = sensor(['--pcap', capture, '--no-classify', '--db', path.join(dir, 'pretty.db'), '--log-format', 'pretty']);
    expect(pretty.code).toBe(0);
    expect(pretty.stderr).toMatch(/^\d{4}-\d\d-\d\dT\S+Z info capture done files=1 /m);
    const json = sensor(['--pcap', capture, '--no-classify', '--db', path.join(dir, 'json.db'), '--log-format', 'json']);
    for (const l of json.stderr.trim().split('\n')) expect(() => JSON.parse(l) as unknown).not.toThrow();
  });

  it('rejects an unknown option with one line and exit code 2', () => {
    const r = sensor(['--pcap', capture, '--bogus']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('bogus');
  });

  it('names a missing capture file and exits 2', () => {
    const r = sensor(['--pcap', path.join(dir, 'nope.pcap'), '--no-classify']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('nope.pcap');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('writes every flow to SQLite and JSON lines with the same field names, and no payload byte anywhere', () => {
    const db = path.join(dir, 'flows.db');
    const jsonl = path.join(dir, 'flows.jsonl');
    const r = sensor(['--pcap', capture, '--db', db, '--jsonl', jsonl, '--no-classify', '--sensor-name', 'tap-7']);
    expect(r.stderr).not.toContain('"level":"error"');
    expect(r.code).toBe(0);
    const conn = new Database(db, { readonly: true });
    const rows = conn.prepare('SELECT * FROM flows ORDER BY first_ts').all() as Record<string, unknown>[];
    conn.close();
    expect(rows).toHaveLength(3);
    expect(rows[0]).toMatchObject({ client_ip: '10.0.0.1', client_port: 40001, server_ip: '10.0.0.2', server_port: 443, end_reason: 'fin', conn_state: 'SF' });
    expect(JSON.parse(rows[0]!.lengths as string).slice(0, 4)).toEqual([120, -1460, -900, 0]);
    expect(JSON.parse(rows[1]!.lengths as string).slice(0, 4)).toEqual([40, -40, 80, 0]);
    const lines = readFileSync(jsonl, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toHaveLength(3);
    // JSON lines: the SQLite columns less `source` (an object in ECS), plus event_type.
    const cols = Object.keys(rows[0]!).filter((k) => k !== 'id' && k !== 'source');
    expect(Object.keys(lines[0]!).sort()).toEqual([...cols, 'event_type'].sort());
    const byUid = new Map(lines.map((l) => [l.uid, l]));
    for (const row of rows) {
      const line = byUid.get(row.uid)!;
      expect(line).toMatchObject({ event_type: 'flow', sensor: 'tap-7', proto: 'tcp', verdict: 'unclassified', in_iface: null, pcap_filename: capture });
      expect(row).toMatchObject({ source: capture, sensor: 'tap-7', pcap_filename: capture, in_iface: null, start: line.start, end: line.end });
      expect(line.start).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
      expect(Date.parse(line.start as string) / 1000).toBeCloseTo(row.first_ts as number, 3);
    }
    expect(new Set(rows.map((r) => r.uid)).size).toBe(3);
    for (const f of [db, jsonl]) expect(readFileSync(f).includes(Buffer.from('SECRET'))).toBe(false);
    expect(r.stderr).not.toContain('SECRET');
  });

  it('classifies flows with the model given by --model', () => {
    if (!existsSync(FIXTURE_MODEL)) throw new Error(`fixture model missing: ${FIXTURE_MODEL}`);
    const r = sensor(['--pcap', capture, '--jsonl', '-', '--model', FIXTURE_MODEL]);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { label: string; verdict: string; confidence: number; topk_labels: unknown[]; topk_scores: unknown[]; model_version: string });
    expect(lines).toHaveLength(3);
    for (const l of lines) {
      expect(l.label).not.toBe('unclassified');
      expect(l.topk_labels.length).toBeGreaterThan(0);
      expect(l.topk_scores.length).toBe(l.topk_labels.length);
      expect(['classified', 'unknown']).toContain(l.verdict);
      expect(l.model_version).not.toBe('');
    }
  });

  it('processes everything readable from a damaged file, names it, and exits 1', () => {
    const whole = readFileSync(capture);
    const cut = path.join(dir, 'cut.pcap');
    writeFileSync(cut, whole.subarray(0, whole.length - 30));
    const r = sensor(['--pcap', cut, '--jsonl', '-', '--no-classify']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('cut.pcap');
    expect(r.stdout.trim().split('\n')).toHaveLength(3);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });

  it('reads a directory of captures in name order, each its own capture unless --rotated', () => {
    const d = path.join(dir, 'rot');
    mkdirSync(d);
    const frames = conversation(1700000100, '10.0.0.1', '10.0.0.2', 41000, 443, [[10, 20], [30, 40], [50, 60]], MARKER);
    writeFileSync(path.join(d, 'a.pcap'), pcapBytes(frames.slice(0, 6)));
    writeFileSync(path.join(d, 'b.pcap'), pcapBytes(frames.slice(6)));
    writeFileSync(path.join(d, 'notes.txt'), 'not a capture');
    const split = sensor(['--pcap', d, '--jsonl', '-', '--no-classify']);
    expect(split.code).toBe(0);
    const a = split.stdout.trim().split('\n').map((l) => JSON.parse(l) as { end_reason: string; pcap_filename: string; lengths: number[] });
    expect(a).toHaveLength(2);
    // a.pcap ends mid-connection; b.pcap's part (seen mid-stream) closes with FIN both ways.
    expect(a.map((x) => x.end_reason)).toEqual(['eof', 'fin']);
    const joined = sensor(['--pcap', d, '--rotated', '--jsonl', '-', '--no-classify']);
    const b = joined.stdout.trim().split('\n').map((l) => JSON.parse(l) as { end_reason: string; pcap_filename: string; lengths: number[] });
    expect(b).toHaveLength(1);
    expect(b[0]!.lengths.slice(0, 7)).toEqual([10, -20, 30, -40, 50, -60, 0]);
    expect(b[0]!.pcap_filename).toBe(path.join(d, 'a.pcap'));
  });

  it('replaces addresses by keyed pseudonyms (HMAC-SHA256 of the site key) when privacy.pseudonymizeKey is set', () => {
    const cfg = path.join(dir, 'private.json');
    const db = path.join(dir, 'private.db');
    const rowsWith = (key: string): Record<string, string>[] => {
      writeFileSync(cfg, JSON.stringify({ privacy: { pseudonymizeKey: key } }));
      rmSync(db, { force: true });
      const r = sensor(['--config', cfg, '--pcap', capture, '--db', db, '--no-classify']);
      expect(r.code).toBe(0);
      expect(readFileSync(db).includes(Buffer.from('10.0.0.'))).toBe(false);
      const conn = new Database(db, { readonly: true });
      const rows = conn.prepare('SELECT client_ip, server_ip, community_id FROM flows ORDER BY first_ts').all() as Record<string, string>[];
      conn.close();
      return rows;
    };
    const a = PSEUDONYMS[KEY_1]!;
    expect(rowsWith(KEY_1)).toEqual([
      { client_ip: a['10.0.0.1'], server_ip: a['10.0.0.2'], community_id: '' },
      { client_ip: a['10.0.0.3'], server_ip: a['10.0.0.2'], community_id: '' },
      { client_ip: a['10.0.0.4'], server_ip: a['10.0.0.9'], community_id: '' },
    ]);
    const b = PSEUDONYMS[KEY_2]!;
    expect(rowsWith(KEY_2).slice(0, 1)).toEqual([{ client_ip: b['10.0.0.1'], server_ip: b['10.0.0.2'], community_id: '' }]);
    writeFileSync(cfg, JSON.stringify({ privacy: { pseudonymizeKey: 'short' } }));
    const bad = sensor(['--config', cfg, '--pcap', capture, '--no-classify']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('privacy.pseudonymizeKey must be a string of at least 16 characters or null, got 5 characters');
    expect(bad.stderr).not.toContain('short');
  });

  it('export writes the who\'s-talking CSV', () => {
    const db = path.join(dir, 'export.db');
    expect(sensor(['--pcap', capture, '--db', db, '--no-classify']).code).toBe(0);
    const r = sensor(['export', '--db', db, '--format', 'csv', '--label', 'web']);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toBe(['app_service', ...Array.from({ length: 30 }, (_, i) => `tcp_len_${i + 1}`)].join(','));
    expect(lines).toHaveLength(4);
    expect(lines[1]!.startsWith('web,120,-1460,-900,0,')).toBe(true);
  });
});
