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
  const topk: ClassScore[] = [];
  for (let i = 0; i < m; i++) topk.push({ label: classes[idx[i]!]!, p: round(probs[offset + idx[i]!]!) });
  const best = m > 0 ? probs[offset + idx[0]!]! : NaN;
  const top = m > 0 ? idx[0]! : -1;
  const known = best >= threshold && (background === null || background[top] !== 1);
  return new Verdict(known ? classes[top]! : 'unknown', best === best ? round(best) : 0, topk, modelVersion, known ? 'classified' : 'unknown');
}
