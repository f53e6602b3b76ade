/**
 * The model's reference of its training inputs for drift monitoring: ONNX metadata_props key `input_reference`,
 * JSON (format agreed with the training pipeline, documented in the README "Watching the model"):
 *
 *   { "version": 1, "n_flows": N, "edges": [e0, ..., eB],
 *     "positions": [[p_0 .. p_{B-1}] x L], "payload_packets": [q_0 .. q_L],
 *     "class_priors": {"<class>": p, ...}, "confidence": {"edges": [c0 .. cM], "probs": [.. M]},
 *     "unknown_share": u }
 *
 * `edges` are ascending signed-length bin edges: bin i is [edges[i], edges[i+1]); values below e0 or at/above eB
 * fall into the first/last bin; the zero padding of short flows is a value like any other. positions[k] is the
 * share of reference flows whose length at position k (0-based) falls in each bin; payload_packets[n] the share
 * with n payload packets (capped at L); class_priors the share of top-1 predictions per class on held-out data
 * (before the unknown rule); confidence a histogram of the top-1 probability there (bins as for edges, the last
 * closed at 1); unknown_share the share labelled unknown by the default rule.
 */
export interface InputReference {
  nFlows: number;
  edges: number[];
  /** L x B shares. */
  positions: number[][];
  /** L + 1 shares. */
  payloadPackets: number[];
  classPriors: Map<string, number>;
  confidenceEdges: number[];
  confidenceProbs: number[];
  unknownShare: number;
}

/** How far a histogram's shares may sum from 1 (rounding in the JSON). */
const SUM_TOLERANCE = 0.02;

function isNum(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

function shares(v: unknown, len: number, what: string): number[] {
  if (!Array.isArray(v) || v.length !== len || !v.every((x) => isNum(x) && x >= 0)) throw new Error(`${what} must be ${len} shares >= 0`);
  const sum = (v as number[]).reduce((a, b) => a + b, 0);
  if (Math.abs(sum - 1) > SUM_TOLERANCE) throw new Error(`${what} sums to ${sum.toFixed(4)}, not 1`);
  return v as number[];
}

function ascending(v: unknown, what: string): number[] {
  if (!Array.isArray(v) || v.length < 2 || !v.every(isNum)) throw new Error(`${what} must be a list of at least 2 numbers`);
  for (let i = 1; i < v.length; i++) if (!((v[i] as number) > (v[i - 1] as number))) throw new Error(`${what} must be strictly ascending`);
  return v as number[];
}

/**
 * Parses and checks the metadata value against the model's sequence length and classes. Returns the reference,
 * or a one-line reason why it cannot be used (the sensor then logs it once and monitors without a reference).
 */
export function parseInputReference(text: string, sequenceLength: number, classes: readonly string[]): InputReference | string {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    return `input_reference is not JSON (${(e as Error).message})`;
  }
  try {
    if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw new Error('must be a JSON object');
    const o = doc as Record<string, unknown>;
    if (o.version !== 1) throw new Error(`version ${JSON.stringify(o.version)} is not supported (this sensor reads version 1)`);
    const edges = ascending(o.edges, 'edges');
    const B = edges.length - 1;
    if (!Array.isArray(o.positions) || o.positions.length !== sequenceLength) {
      throw new Error(`positions must have one histogram per position of the model's sequence (${sequenceLength})`);
    }
    const positions = o.positions.map((p, k) => shares(p, B, `positions[${k}]`));
    const payloadPackets = shares(o.payload_packets, sequenceLength + 1, 'payload_packets');
    const priors = o.class_priors;
    if (priors === null || typeof priors !== 'object' || Array.isArray(priors)) throw new Error('class_priors must be an object {class: share}');
    const classPriors = new Map<string, number>();
    for (const c of classes) {
      const p = (priors as Record<string, unknown>)[c] ?? 0;
      if (!isNum(p) || p < 0) throw new Error(`class_priors["${c}"] must be a share >= 0`);
      classPriors.set(c, p);
    }
    for (const k of Object.keys(priors)) if (!classes.includes(k)) throw new Error(`class_priors names "${k}", which is not one of the model's classes`);
    const conf = o.confidence as Record<string, unknown> | null;
    if (conf === null || typeof conf !== 'object') throw new Error('confidence must be {"edges": [...], "probs": [...]}');
    const confidenceEdges = ascending(conf.edges, 'confidence.edges');
    const confidenceProbs = shares(conf.probs, confidenceEdges.length - 1, 'confidence.probs');
    if (!isNum(o.unknown_share) || o.unknown_share < 0 || o.unknown_share > 1) throw new Error('unknown_share must be a share from 0 to 1');
    const nFlows = isNum(o.n_flows) ? o.n_flows : 0;
    return { nFlows, edges, positions, payloadPackets, classPriors, confidenceEdges, confidenceProbs, unknownShare: o.unknown_share };
  } catch (e) {
    return `input_reference: ${(e as Error).message}`;
  }
}

/** Index of the bin of `v`: bin i is [edges[i], edges[i+1]); below the first edge -> 0, at/above the last -> B-1. */
export function binOf(edges: readonly number[], v: number): number {
  const B = edges.length - 1;
  if (!(v >= edges[1]!)) return 0;
  if (v >= edges[B - 1]!) return B - 1;
  let lo = 1;
  let hi = B - 1; // edges[lo] <= v < edges[hi]
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (v >= edges[mid]!) lo = mid;
    else hi = mid;
  }
  return lo;
}

/** Floor of a share in the PSI, so that an empty bin on either side gives a large but finite term. */
export const PSI_EPSILON = 1e-4;

/**
 * Population stability index of observed counts against expected shares: sum over bins of
 * (a - e) * ln(a / e), with a and e floored at PSI_EPSILON. 0 when equal; conventionally < 0.1 no shift,
 * 0.1-0.25 moderate, > 0.25 large. `total` is the sum of `counts` (0 gives null).
 */
export function psi(counts: ArrayLike<number>, total: number, expected: ArrayLike<number>): number | null {
  if (total <= 0) return null;
  let s = 0;
  for (let i = 0; i < expected.length; i++) {
    const a = Math.max(counts[i]! / total, PSI_EPSILON);
    const e = Math.max(expected[i]!, PSI_EPSILON);
    s += (a - e) * Math.log(a / e);
  }
  return s;
}
