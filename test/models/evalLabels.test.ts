import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { evalLabelsCommand, type EvalLabelsOptions } from '../../src/cli/evalCommand';
import { conversation, pcapBytes } from '../helpers/frames';
import { textSink } from '../helpers/textSink';

const REPO = path.resolve(__dirname, '../..');
const BIN = path.join(REPO, 'bin/sensor.js');
const MODELS = path.join(REPO, 'test/fixtures/model');
const FIXTURE = path.join(MODELS, 'fixture.onnx');
/** Same graph, with `interactive` as a background class and its own threshold 0.3. */
const FIXTURE_BG = path.join(MODELS, 'fixture-background.onnx');

const sink = textSink;

const UP: [number, number][] = [[1460, 0], [1460, 0], [1460, 0], [1460, 0], [1460, 0]];
const DOWN: [number, number][] = [[100, 1460], [0, 1460], [0, 1460], [0, 1460]];
const CHAT: [number, number][] = [[50, 50], [50, 50], [50, 50]];

let dir: string;
let capture: string;
let db: string;
let labels: string;

/** Flows of the capture: [client port, exchanges, label written for it (null: no label row)]. */
const FLOWS: [number, [number, number][], string | null][] = [
  [40001, UP, 'bulk-upload'],
  [40002, UP, 'bulk-upload'],
  [40003, UP, 'bulk-upload'],
  [40004, DOWN, 'bulk-download'],
  [40005, DOWN, 'bulk-download'],
  [40006, DOWN, 'bulk-upload'], // labelled wrong on purpose: the model's bulk-download is a miss and a false positive
  [40007, CHAT, 'other:telnet'], // a protocol the model has no class for
  [40008, CHAT, 'other:telnet'],
  [40009, [[1460, 0], [1460, 0]], 'bulk-upload'], // two payload packets: below --min-payload 4, not scored
  [40010, UP, null], // no label row: not matched
];

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'sensor-evallabels-'));
  capture = path.join(dir, 'mixed.pcap');
  const frames = FLOWS.flatMap(([port, ex], i) => conversation(1700000000 + i, '10.1.0.1', '10.1.0.2', port, 9000, ex));
  writeFileSync(capture, pcapBytes(frames.sort((a, b) => a.ts - b.ts)));
  // first_ts as tshark writes it (6 decimals); the same endpoints in another file must not match
  const rows = FLOWS.filter(([, , l]) => l !== null).map(([port, , label], i) =>
    `mixed.pcap,10.1.0.1,${port},10.1.0.2,9000,${(1700000000 + FLOWS.findIndex(([p]) => p === port) + 0.0000004).toFixed(6)},1,5,${label},evidence${i}`);
  rows.push('other.pcap,10.1.0.1,40010,10.1.0.2,9000,1700000009.000000,1,5,bulk-download,x');
  labels = path.join(dir, 'labels.csv');
  writeFileSync(labels, 'file,client_ip,client_port,server_ip,server_port,first_ts,syn_seen,payload_segments,label,evidence\n' + rows.join('\n') + '\n');
  db = path.join(dir, 'flows.db');
  const r = spawnSync(process.execPath, [BIN, '--pcap', capture, '--db', db, '--no-classify'], { encoding: 'utf8', timeout: 60000 });
  if (r.status !== 0) throw new Error(`sensor failed: ${r.stderr}`);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function options(over: Partial<EvalLabelsOptions>): EvalLabelsOptions {
  return { db, pcap: [], labels, model: FIXTURE, minPayload: 4, minClass: 2, threshold: null, out: sink().stream, ...over };
}

function line(text: string, start: string): string {
  const l = text.split('\n').find((x) => x.startsWith(start));
  if (l === undefined) throw new Error(`no line starting with '${start}' in:\n${text}`);
  return l;
}

describe('sensor eval --db/--pcap --labels', () => {
  it('matches flows to labels by file, endpoints and first_ts, and scores the known classes', async () => {
    const out = sink();
    expect(await evalLabelsCommand(options({ out: out.stream }))).toBe(0);
    const text = out.text();
    expect(text).toContain('10 flows, 9 matched a label, 8 with >= 4 payload packets scored (6 of the model\'s classes, 2 of other protocols)');
    // bulk-upload: 3 of 4 found, no false positive; bulk-download: 2 of 2, one false positive
    expect(line(text, 'bulk-upload')).toMatch(/^bulk-upload +4 +1\.0000 +0\.7500 +0\.8571 +0\.0000$/);
    expect(line(text, 'bulk-download')).toMatch(/^bulk-download +2 +0\.6667 +1\.0000 +0\.8000 +0\.0000$/);
    expect(line(text, 'known-class flows')).toContain('accuracy 0.8333  macro-F1 0.8286 over 2 classes with >= 2 flows  coverage 1.0000');
    // the fixture calls the telnet-like chat flows `interactive`: none of them is unknown
    expect(line(text, 'other-protocol flows')).toBe('other-protocol flows: 2, labelled unknown 0.0000; called interactive (2)');
    expect(text).toMatch(/^ +0\.500 .*<- rule$/m);
  });

  it("applies the model's unknown rule: a background top class is unknown, and the model's own threshold is used", async () => {
    const out = sink();
    expect(await evalLabelsCommand(options({ model: FIXTURE_BG, out: out.stream }))).toBe(0);
    const text = out.text();
    expect(text).toContain('unknown: top probability below 0.3 (the model) or top class interactive');
    expect(line(text, 'other-protocol flows')).toBe('other-protocol flows: 2, labelled unknown 1.0000; called unknown (2)');
    expect(line(text, '  other:telnet')).toMatch(/other:telnet +2 +unknown 1\.0000/);
    // --unknown-threshold overrides the model's: at 1 only the uploads (top probability 1 in float32) stay labelled
    const strict = sink();
    await evalLabelsCommand(options({ model: FIXTURE_BG, threshold: 1, out: strict.stream }));
    expect(strict.text()).toContain('unknown: top probability below 1 (--unknown-threshold)');
    expect(line(strict.text(), 'known-class flows')).toContain('coverage 0.5000  precision of labels given 1.0000');
  });

  it('reads captures itself with --pcap and gives the same scores as the database', async () => {
    const a = sink();
    const b = sink();
    await evalLabelsCommand(options({ out: a.stream }));
    expect(await evalLabelsCommand(options({ db: null, pcap: [capture], out: b.stream }))).toBe(0);
    const body = (t: string): string => t.split('\n').slice(2).join('\n');
    expect(body(b.text())).toBe(body(a.text()));
  });

  it('refuses a labels file without the needed columns, and a --db without --labels, in one line with exit 2', () => {
    const bad = path.join(dir, 'bad.csv');
    writeFileSync(bad, 'file,label\nmixed.pcap,ssh\n');
    const r = spawnSync(process.execPath, [BIN, 'eval', '--db', db, '--labels', bad, '--model', FIXTURE], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr.trim()).toBe(`sensor eval: labels ${bad}: no column client_ip, client_port, server_ip, server_port, first_ts (needed: client_ip, client_port, server_ip, server_port, first_ts, label; optional: file)`);
    const r2 = spawnSync(process.execPath, [BIN, 'eval', '--db', db], { encoding: 'utf8' });
    expect(r2.status).toBe(2);
    expect(r2.stderr.trim()).toBe('sensor: --db needs --labels FILE (the labelled flows to score against)');
    const r3 = spawnSync(process.execPath, [BIN, 'eval', '--db', db, '--labels', labels, '--model', FIXTURE, '--min-class', '2'], { encoding: 'utf8' });
    expect(r3.status).toBe(0);
    expect(r3.stdout).toContain('macro-F1 0.8286');
  });
});
