import { Verdict, type ClassScore } from './verdict';

/**
 * Probabilities are float32 (about 7 significant digits); rounding to 6 decimals keeps records short without
 * losing anything the model actually said.
 */
const P_SCALE = 1e6;

function round(p: number): number {
  return Math.round(p * P_SCALE) / P_SCALE;
}

/** The selection list of verdictFromRow(), grown to the largest k asked for. */
let scratch = new Int32Array(8);

/**
 * A verdict's class and probability: made with `new`, not as an object literal. V8 tracks an object or array literal's
 * allocations per site and, once the garbage collector decides to pretenure a site (the verdicts wait in the sink
 * batches, so they survive), throws away the optimized code that allocates there (round perf17: verdictFromRow() and
 * the classifier's answer() were compiled 3 and 2 times a run). Objects made by a constructor carry no such site.
 */
class Score implements ClassScore {
  constructor(
    public label: string,
    public p: number,
  ) {}
}

/**
 * The top-k list being built; each verdict takes a copy (`slice()`: an array made by a builtin, which carries no
 * allocation site either). Holds the last verdict's entries until the next one.
 */
const picked: ClassScore[] = [];
const NO_SCORE = new Score('', 0);

/**
 * The verdict for one output row `probs[offset .. offset + classes.length)`: the k best classes, best first,
 * and 'unknown' when the best probability is below `threshold` or the best class is a background class
 * (`background[c] === 1`: a class that names no application). NaN ranks last and never passes the threshold.
 */
export function verdictFromRow(
  probs: Float32Array,
  offset: number,
  classes: readonly string[],
  k: number,
  threshold: number,
  modelVersion: string,
  background: Uint8Array | null = null,
): Verdict {
  const K = classes.length;
  const n = Math.min(k, K);
  if (scratch.length < n) scratch = new Int32Array(n);
  const idx = scratch;
  // Selection into a small sorted list (idx[0 .. m)): k is a handful, so this beats sorting K indices. Equal
  // probabilities keep class order; NaN ranks last. Runs once per classified flow: no array but the verdict's own.
  let m = 0;
  for (let c = 0; c < K; c++) {
    const p = probs[offset + c]!;
    const v = p === p ? p : -Infinity;
    let at = m;
    while (at > 0) {
      const q = probs[offset + idx[at - 1]!]!;
      if ((q === q ? q : -Infinity) >= v) break;
      at--;
    }
    if (at < n) {
      // Insert at `at`; a full list drops its last entry.
      for (let j = m < n ? m : n - 1; j > at; j--) idx[j] = idx[j - 1]!;
      idx[at] = c;
      if (m < n) m++;
    }
  }
  if (picked.length !== m) {
    picked.length = 0;
    for (let i = 0; i < m; i++) picked.push(NO_SCORE);
  }
  for (let i = 0; i < m; i++) picked[i] = new Score(classes[idx[i]!]!, round(probs[offset + idx[i]!]!));
  const topk = picked.slice();
  const best = m > 0 ? probs[offset + idx[0]!]! : NaN;
  const top = m > 0 ? idx[0]! : -1;
  const known = best >= threshold && (background === null || background[top] !== 1);
  return new Verdict(known ? classes[top]! : 'unknown', best === best ? round(best) : 0, topk, modelVersion, known ? 'classified' : 'unknown');
}
