import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import { DEFAULT_UNKNOWN_THRESHOLD } from '../classify/classifier';
import { openModel } from '../classify/openModel';
import { ModelContractError } from '../classify/modelContract';
import { ort } from '../classify/ortBinding';
import { ConfigError, defaultConfig } from '../config/config';
import { Labels, LabelsError, type FlowForEval } from '../eval/labels';
import { CURVE_THRESHOLDS, score, type ScoredFlow } from '../eval/score';
import { createLogger } from '../sink/log';
import { CsvFormatError, readWhoIsTalkingCsv, type LabelledSequence } from '../sink/readWhoIsTalkingCsv';
import { openReadOnly } from '../sink/sqliteBinding';
import { runOffline } from './offline';

/** Rows per inference call: large enough to amortise the call, small enough to keep one tensor a few MB. */
const EVAL_BATCH = 1024;

interface ClassStats {
  tp: number;
  fp: number;
  fn: number;
  support: number;
}

function f1Of(s: ClassStats): { precision: number; recall: number; f1: number } {
  const precision = s.tp + s.fp > 0 ? s.tp / (s.tp + s.fp) : 0;
  const recall = s.tp + s.fn > 0 ? s.tp / (s.tp + s.fn) : 0;
  const f1 = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
  return { precision, recall, f1 };
}

function fixed(v: number): string {
  return v.toFixed(4);
}

/** Copies row i's lengths into `dst` at `at`, cut or zero-padded to the model's sequence length L. */
function fillRow(dst: Float32Array, at: number, row: LabelledSequence, L: number): void {
  const n = Math.min(L, row.lengths.length);
  for (let j = 0; j < n; j++) dst[at + j] = row.lengths[j]!;
  for (let j = n; j < L; j++) dst[at + j] = 0;
}

/**
 * `sensor eval --csv labelled.csv [--model M]`: runs the model on every row of a "who's talking" CSV and
 * prints accuracy, macro-F1 (over the labels present in the CSV), top-3 accuracy and a per-class table.
 * The unknown threshold is not applied: this scores the model's own top choice. Rows whose label the model
 * does not know always count as wrong and are listed. Returns the exit code (0, or 2 for a bad CSV/model).
 */
export async function evalCommand(opts: { csv: string; model: string; out: NodeJS.WritableStream }): Promise<number> {
  let data: { length: number; rows: LabelledSequence[] };
  try {
    data = await readWhoIsTalkingCsv(opts.csv);
  } catch (e) {
    if (e instanceof CsvFormatError || (e as NodeJS.ErrnoException).code !== undefined) {
      process.stderr.write(`sensor eval: ${(e as Error).message}\n`);
      return 2;
    }
    throw e;
  }
  if (data.rows.length === 0) {
    process.stderr.write(`sensor eval: ${opts.csv} has a header but no rows; nothing to score\n`);
    return 2;
  }
  let model;
  try {
    model = await openModel(opts.model, 'cpu', undefined);
  } catch (e) {
    if (e instanceof ModelContractError) {
      process.stderr.write(`sensor eval: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
  const { classes, sequenceLength: L, version } = model.info;
  const K = classes.length;
  const classIndex = new Map(classes.map((c, i) => [c, i]));
  const stats = new Map<string, ClassStats>();
  const stat = (name: string): ClassStats => {
    let s = stats.get(name);
    if (s === undefined) {
      s = { tp: 0, fp: 0, fn: 0, support: 0 };
      stats.set(name, s);
    }
    return s;
  };
  let correct = 0;
  let top3 = 0;
  const foreign = new Map<string, number>();
  const input = new Float32Array(EVAL_BATCH * L);
  try {
    for (let start = 0; start < data.rows.length; start += EVAL_BATCH) {
      const n = Math.min(EVAL_BATCH, data.rows.length - start);
      for (let i = 0; i < n; i++) fillRow(input, i * L, data.rows[start + i]!, L);
      const tensor = new ort.Tensor('float32', input.subarray(0, n * L), [n, L]);
      const result = await model.session.run({ [model.inputName]: tensor });
      const probs = result[model.outputName]!.data as Float32Array;
      for (let i = 0; i < n; i++) {
        const row = data.rows[start + i]!;
        const off = i * K;
        let best = 0;
        for (let c = 1; c < K; c++) if (probs[off + c]! > probs[off + best]!) best = c;
        const truth = classIndex.get(row.label);
        const predicted = classes[best]!;
        stat(row.label).support++;
        if (truth === undefined) foreign.set(row.label, (foreign.get(row.label) ?? 0) + 1);
        if (truth === best) {
          correct++;
          stat(row.label).tp++;
        } else {
          stat(row.label).fn++;
          stat(predicted).fp++;
        }
        if (truth !== undefined) {
          const pt = probs[off + truth]!;
          let above = 0;
          for (let c = 0; c < K; c++) if (probs[off + c]! > pt) above++;
          if (above < 3) top3++;
        }
      }
    }
  } finally {
    await model.session.release();
  }
  const total = data.rows.length;
  const labelled = [...stats.entries()].filter(([, s]) => s.support > 0).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const macroF1 = labelled.reduce((acc, [, s]) => acc + f1Of(s).f1, 0) / labelled.length;
  const lines: string[] = [];
  lines.push(`model ${opts.model} (version ${version}, ${K} classes, sequence length ${L})`);
  lines.push(`data ${opts.csv}: ${total} rows, ${labelled.length} labels` + (data.length !== L ? ` (CSV length ${data.length}: rows cut or zero-padded to ${L})` : ''));
  lines.push(`accuracy ${fixed(correct / total)}  macro-F1 ${fixed(macroF1)}  top-3 accuracy ${fixed(top3 / total)}`);
  const width = Math.max(5, ...labelled.map(([name]) => name.length));
  lines.push(`${'class'.padEnd(width)}  support  precision  recall  f1`);
  for (const [name, s] of labelled) {
    const m = f1Of(s);
    lines.push(`${name.padEnd(width)}  ${String(s.support).padStart(7)}  ${fixed(m.precision).padStart(9)}  ${fixed(m.recall).padStart(6)}  ${fixed(m.f1)}`);
  }
  if (foreign.size > 0) {
    const list = [...foreign.entries()].map(([name, count]) => `${name} (${count})`).join(', ');
    lines.push(`labels the model does not know (always counted wrong; retrain to add them, see models/README.md): ${list}`);
  }
  opts.out.write(lines.join('\n') + '\n');
  return 0;
}

/** Options of `sensor eval --db/--pcap ... --labels FILE`. */
export interface EvalLabelsOptions {
  db: string | null;
  pcap: string[];
  labels: string;
  model: string;
  /** Flows with fewer payload packets are not scored (default 4, as the model card's out-of-lab figures). */
  minPayload: number;
  /** Classes with fewer known flows stay out of macro-F1 (default 5). */
  minClass: number;
  /** null: the model's own threshold (metadata), else DEFAULT_UNKNOWN_THRESHOLD. */
  threshold: number | null;
  out: NodeJS.WritableStream;
}

function readFlows(dbPath: string): FlowForEval[] {
  const db = openReadOnly(dbPath);
  try {
    type Row = { source: string; client_ip: string; client_port: number; server_ip: string; server_port: number; first_ts: number; payload_packets: number; lengths: string };
    const rows = db
      .prepare<[], Row>(
        "SELECT source, client_ip, client_port, server_ip, server_port, first_ts, payload_packets, lengths FROM flows WHERE end_reason != 'active' ORDER BY id",
      )
      .all();
    return rows.map((r) => ({
      source: r.source,
      clientIp: r.client_ip,
      clientPort: r.client_port,
      serverIp: r.server_ip,
      serverPort: r.server_port,
      firstTs: r.first_ts,
      payloadPackets: r.payload_packets,
      lengths: JSON.parse(r.lengths) as number[],
    }));
  } catch (e) {
    throw new LabelsError(`database ${dbPath}: cannot read its flows table: ${e instanceof Error ? e.message : String(e)}`);
  } finally {
    db.close();
  }
}

/** Runs the sensor over the captures into a temporary database (no classification); returns its exit code. */
async function captureToDb(pcap: string[], dbPath: string): Promise<number> {
  const cfg = defaultConfig();
  cfg.capture.pcap = pcap;
  cfg.output.db = dbPath;
  cfg.classify.enabled = false;
  const log = createLogger({ level: 'warn', format: 'pretty', stream: 'stderr' });
  const { code } = await runOffline(cfg, log, false, { summary: false });
  await new Promise<void>((res) => log.on('finish', res).end());
  return code;
}

function pad(v: string | number, n: number, left = false): string {
  const s = String(v);
  return left ? s.padEnd(n) : s.padStart(n);
}

/**
 * `sensor eval --db flows.db --labels labels.csv` / `sensor eval --pcap X --labels labels.csv`: matches the flows
 * to the labelled ones (same file when the labels name files, same endpoints, first_ts within 1 ms), runs the
 * model on their sequences under the sensor's unknown rule and prints per-class precision/recall/F1, macro-F1,
 * the share of other protocols' flows labelled unknown, and coverage/precision by threshold. Returns the exit
 * code: 0, 1 when a capture was damaged (everything readable was still scored), 2 for bad input.
 */
export async function evalLabelsCommand(o: EvalLabelsOptions): Promise<number> {
  let labels: Labels;
  let flows: FlowForEval[];
  let code = 0;
  const fail = (msg: string): number => {
    process.stderr.write(`sensor eval: ${msg}\n`);
    return 2;
  };
  try {
    labels = Labels.read(o.labels);
    if (o.db !== null) {
      flows = readFlows(o.db);
    } else {
      const dir = mkdtempSync(path.join(tmpdir(), 'sensor-eval-'));
      try {
        const db = path.join(dir, 'flows.db');
        code = await captureToDb(o.pcap, db);
        flows = readFlows(db);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
  } catch (e) {
    if (e instanceof LabelsError || e instanceof ConfigError || (e as Error).name === 'SinkError') return fail((e as Error).message);
    throw e;
  }
  const matched: { flow: FlowForEval; truth: string }[] = [];
  for (const flow of flows) {
    const truth = labels.match(flow);
    if (truth !== null) matched.push({ flow, truth });
  }
  const scored = matched.filter((m) => m.flow.payloadPackets >= o.minPayload);
  let model;
  try {
    model = await openModel(o.model, 'cpu', undefined);
  } catch (e) {
    if (e instanceof ModelContractError) return fail(e.message);
    throw e;
  }
  const { classes, sequenceLength: L, version, backgroundClasses } = model.info;
  const K = classes.length;
  const background = new Uint8Array(K);
  for (const c of backgroundClasses) background[classes.indexOf(c)] = 1;
  const threshold = o.threshold ?? model.info.unknownThreshold ?? DEFAULT_UNKNOWN_THRESHOLD;
  const from = o.threshold !== null ? '--unknown-threshold' : model.info.unknownThreshold !== null ? 'the model' : 'default';
  const results: ScoredFlow[] = [];
  const input = new Float32Array(EVAL_BATCH * L);
  try {
    for (let start = 0; start < scored.length; start += EVAL_BATCH) {
      const n = Math.min(EVAL_BATCH, scored.length - start);
      for (let i = 0; i < n; i++) fillRow(input, i * L, { label: '', lengths: scored[start + i]!.flow.lengths }, L);
      const result = await model.session.run({ [model.inputName]: new ort.Tensor('float32', input.subarray(0, n * L), [n, L]) });
      const probs = result[model.outputName]!.data as Float32Array;
      for (let i = 0; i < n; i++) {
        let best = 0;
        for (let c = 1; c < K; c++) if (probs[i * K + c]! > probs[i * K + best]!) best = c;
        results.push({ truth: scored[start + i]!.truth, top: best, p: probs[i * K + best]! });
      }
    }
  } finally {
    await model.session.release();
  }
  const s = score(results, classes, background, threshold, o.minClass);
  const lines: string[] = [];
  const bg = backgroundClasses.length > 0 ? ` or top class ${backgroundClasses.join('/')}` : '';
  lines.push(`model ${o.model} (version ${version}, ${K} classes, sequence length ${L}); unknown: top probability below ${threshold} (${from})${bg}`);
  lines.push(
    `labels ${o.labels}: ${labels.rows} rows; ${o.db !== null ? `database ${o.db}` : `captures ${o.pcap.join(' ')}`}: ${flows.length} flows, ${matched.length} matched a label, ${scored.length} with >= ${o.minPayload} payload packets scored (${s.known} of the model's classes, ${s.other} of other protocols)`,
  );
  lines.push(
    `known-class flows: accuracy ${fixed(s.accuracy)}  macro-F1 ${fixed(s.macroF1)} over ${s.macroClasses.length} classes with >= ${o.minClass} flows  coverage ${fixed(s.coverage)}  precision of labels given ${fixed(s.precisionLabelled)}`,
  );
  const w = Math.max(5, ...s.perClass.map((c) => c.name.length));
  lines.push(`${pad('class', w, true)}  support  precision  recall      f1  unknown`);
  for (const c of s.perClass) {
    const mark = c.support >= o.minClass ? '' : '  (not in macro-F1)';
    lines.push(`${pad(c.name, w, true)}  ${pad(c.support, 7)}  ${pad(fixed(c.precision), 9)}  ${pad(fixed(c.recall), 6)}  ${fixed(c.f1)}  ${pad(fixed(c.unknown), 7)}${mark}`);
  }
  lines.push(
    `other-protocol flows: ${s.other}, labelled unknown ${fixed(s.otherUnknown)}` +
      (s.otherCalled.length > 0 ? `; called ${s.otherCalled.map(([l, n]) => `${l} (${n})`).join(', ')}` : ''),
  );
  for (const [t, n, u] of s.otherByLabel.slice(0, 12)) lines.push(`  ${pad(t, Math.max(w, 20), true)} ${pad(n, 6)}  unknown ${fixed(u)}`);
  if (s.otherByLabel.length > 12) lines.push(`  ... ${s.otherByLabel.length - 12} more labels`);
  lines.push('coverage and precision by threshold (known-class flows), other protocols labelled unknown:');
  lines.push('threshold  coverage  precision  macro-F1  other-unknown');
  const ths = [...new Set([...CURVE_THRESHOLDS, threshold])].sort((a, b) => a - b);
  for (const t of ths) {
    const c = score(results, classes, background, t, o.minClass);
    lines.push(`${pad(t.toFixed(3), 9)}  ${pad(fixed(c.coverage), 8)}  ${pad(fixed(c.precisionLabelled), 9)}  ${pad(fixed(c.macroF1), 8)}  ${pad(fixed(c.otherUnknown), 13)}${t === threshold ? '  <- rule' : ''}`);
  }
  o.out.write(lines.join('\n') + '\n');
  return code;
}
