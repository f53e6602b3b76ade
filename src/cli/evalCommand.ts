import { openModel } from '../classify/openModel';
import { ModelContractError } from '../classify/modelContract';
import { ort } from '../classify/ortBinding';
import { CsvFormatError, readWhoIsTalkingCsv, type LabelledSequence } from '../sink/readWhoIsTalkingCsv';

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
