import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readOnnxMetadata } from '../../src/classify/onnxMetadata';
import { loadModelInfo } from '../../src/classify/classifier';
import { findPython } from '../../src/train/trainRun';
import { LOOP_SERVICES, writeLoopCaptures } from './loopCapture';

const ROOT = path.resolve(__dirname, '../..');
const BIN = path.join(ROOT, 'bin/sensor.js');

/** Runs the CLI without blocking the test worker (training takes a while). */
function sensor(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

let noPython: string | null = null;
try {
  findPython(null);
} catch (e) {
  noPython = (e as Error).message;
}

const dir = mkdtempSync(path.join(tmpdir(), 'sensor-train-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('sensor train refuses bad input in one line', () => {
  it('without a usable Python', async () => {
    const csv = path.join(dir, 'any.csv');
    writeFileSync(csv, 'app_service,tcp_len_1\na,1\nb,2\n');
    const r = await sensor(['train', '--csv', csv, '--out', path.join(dir, 'x.onnx'), '--python', path.join(dir, 'no-such-python')]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('sensor train needs python3 with torch, numpy, onnx and matplotlib');
    expect(r.stderr).toContain('no-such-python: not found');
  });

  it('a missing --csv file, a missing --out folder', async () => {
    expect((await sensor(['train', '--csv', path.join(dir, 'nope.csv'), '--out', path.join(dir, 'x.onnx')])).stderr).toContain('nope.csv: no such file');
    const csv = path.join(dir, 'any.csv');
    expect((await sensor(['train', '--csv', csv, '--out', path.join(dir, 'no', 'x.onnx')])).stderr).toMatch(/--out .*x\.onnx: folder .* does not exist/);
  });

  describe.skipIf(noPython !== null)(`with Python${noPython !== null ? ` (skipped: ${noPython})` : ''}`, () => {
    const header = 'app_service,' + Array.from({ length: 30 }, (_, i) => `tcp_len_${i + 1}`).join(',') + '\n';
    const row = (label: string, v: number): string => `${label},${v},${-v}` + ',0'.repeat(28) + '\n';

    it('a malformed row, with its line number', async () => {
      const csv = path.join(dir, 'bad.csv');
      writeFileSync(csv, header + row('a', 100) + row('b', 200) + 'c,1,2,3\n' + row('a', 5));
      const r = await sensor(['train', '--csv', csv, '--out', path.join(dir, 'bad.onnx'), '--min-class-rows', '1']);
      expect(r.code).toBe(2);
      expect(r.stderr.trim().split('\n').pop()).toBe(`sensor: ${csv}:4: 4 fields, the header has 31`);
      const csv2 = path.join(dir, 'bad2.csv');
      writeFileSync(csv2, header + row('a', 100) + row('b', 200).replace(',-200,', ',x1,'));
      expect((await sensor(['train', '--csv', csv2, '--out', path.join(dir, 'bad.onnx'), '--min-class-rows', '1'])).stderr).toContain(`${csv2}:3: tcp_len_2 is 'x1', not an integer`);
      expect(existsSync(path.join(dir, 'bad.onnx'))).toBe(false);
    });

    it('a class with too few rows', async () => {
      const csv = path.join(dir, 'few.csv');
      writeFileSync(csv, header + row('a', 100).repeat(25) + row('b', 200).repeat(3));
      const r = await sensor(['train', '--csv', csv, '--out', path.join(dir, 'few.onnx')]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('1 of 2 classes have fewer than 20 rows: b (3)');
    });
  });
});

describe.skipIf(noPython !== null)(`the loop: sensor learn -> sensor train -> sensor --pcap (headers only) -> sensor eval${noPython !== null ? ` (skipped: ${noPython})` : ''}`, () => {
  const full = path.join(dir, 'tap-full.pcap');
  const headers = path.join(dir, 'new-headers.pcap');
  const model = path.join(dir, 'mine.onnx');
  beforeAll(() => writeLoopCaptures(full, headers, { train: 40, score: 16, snaplen: 96 }));

  it('learns five services from their handshakes and names new headers-only sessions with macro-F1 >= 0.9', async () => {
    const rows = path.join(dir, 'rows.csv');
    const learn = await sensor(['learn', '--pcap', full, '--out', rows]);
    expect(learn.code).toBe(0);
    expect(learn.stderr).toContain(`sensor learn: ${LOOP_SERVICES.length * 40} rows`);
    for (const s of LOOP_SERVICES) expect(learn.stderr).toMatch(new RegExp(`\\s40  ${s.label.replace('.', '\\.')}`));

    const train = await sensor(['train', '--csv', rows, '--runs', rows.replace(/\.csv$/, '.runs'), '--out', model, '--epochs', '40', '--seed', '3']);
    expect(train.stderr).toMatch(/sensor train: wrote .*mine\.onnx \(5 classes/);
    expect(train.code).toBe(0);
    const info = await loadModelInfo(model);
    expect(info.classes).toEqual(LOOP_SERVICES.map((s) => s.label).sort());
    // its self-check, made with this runtime (models/train/self_check.py), which loadModelInfo just ran
    const check = JSON.parse(readOnnxMetadata(readFileSync(model)).props.get('self_check')!) as { rows: number[][]; runtime: string };
    expect(check.rows).toHaveLength(64);
    expect(check.runtime).toMatch(/^onnxruntime-node /);
    expect(info.sequenceLength).toBe(30);
    const card = readFileSync(`${model}.md`, 'utf8');
    expect(card).toContain('## Held-out results');
    expect(card).toMatch(/split by whole lab runs|split by whole/);
    expect(card).toContain(`sensor eval --csv ${path.join(`${model}.train`, 'test.csv')}`);

    // New sessions, headers only: no name on the wire. The sensor names them with the trained model.
    const jsonl = path.join(dir, 'scored.jsonl');
    const run = await sensor(['--pcap', headers, '--model', model, '--jsonl', jsonl, '--no-summary', '--unknown-threshold', '0']);
    expect(run.code).toBe(0);
    const recs = readFileSync(jsonl, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { server_ip: string; label: string; lengths: number[] });
    expect(recs).toHaveLength(LOOP_SERVICES.length * 16);
    const truthOf = new Map<string, string>(LOOP_SERVICES.map((s) => [s.server, s.label]));
    const truthCsv = path.join(dir, 'truth.csv');
    writeFileSync(truthCsv, 'app_service,' + Array.from({ length: 30 }, (_, i) => `tcp_len_${i + 1}`).join(',') + '\n' +
      recs.map((r) => `${truthOf.get(r.server_ip)},${r.lengths.join(',')}${',0'.repeat(30 - r.lengths.length)}`).join('\n') + '\n');
    const ev = await sensor(['eval', '--csv', truthCsv, '--model', model]);
    expect(ev.code).toBe(0);
    const macro = Number(/macro-F1 ([0-9.]+)/.exec(ev.stdout)![1]);
    console.log(`learn -> train -> score loop (generated capture): ${recs.length} new headers-only flows, macro-F1 ${macro}`);
    expect(macro).toBeGreaterThanOrEqual(0.9);
    // The sensor's own labels on those flows agree with eval's top choice.
    const correct = recs.filter((r) => r.label === truthOf.get(r.server_ip)).length;
    expect(correct / recs.length).toBeCloseTo(Number(/accuracy ([0-9.]+)/.exec(ev.stdout)![1]), 2);
  }, 240000);
});
