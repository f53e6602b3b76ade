import { Verdict, type ClassScore } from './verdict';

/**
 * Probabilities are float32 (about 7 significant digits); rounding to 6 decimals keeps records short without
 * losing anything the model actually said.
 */
const P_SCALE = 1e6;

function round(p: number): number {
  return Math.round(p * P_SCALE) / P_SCALE;
}

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
  // Selection into a small sorted list: k is a handful, so this beats sorting K indices.
  const idx: number[] = [];
  for (let c = 0; c < K; c++) {
    const p = probs[offset + c]!;
    const v = p === p ? p : -Infinity;
    let at = idx.length;
    while (at > 0) {
      const q = probs[offset + idx[at - 1]!]!;
      if ((q === q ? q : -Infinity) >= v) break;
      at--;
    }
    if (at < n) {
      idx.splice(at, 0, c);
      if (idx.length > n) idx.pop();
    }
  }
  const topk: ClassScore[] = idx.map((c) => ({ label: classes[c]!, p: round(probs[offset + c]!) }));
  const best = idx.length > 0 ? probs[offset + idx[0]!]! : NaN;
  const top = idx.length > 0 ? idx[0]! : -1;
  const known = best >= threshold && (background === null || background[top] !== 1);
  return new Verdict(known ? classes[top]! : 'unknown', best === best ? round(best) : 0, topk, modelVersion, known ? 'classified' : 'unknown');
}
