import { ModelContractError } from './contractError';
import { ort } from './ortBinding';

/**
 * The model's check of its own runtime (optional metadata_props `self_check`, docs/model.md): a fixed batch of input
 * rows and the probabilities the pinned onnxruntime-node gave for them when the file was made. At load, on the
 * session that will serve, the batch is run once and compared; a runtime that computes the model wrongly (round
 * perf38: onnxruntime-node 1.24.x on an AVX-512 VNNI CPU, every 32nd row of a batch) is refused with one line instead
 * of writing confident wrong labels. The batch is also the contract's probe (modelContract.ts): one run at load.
 *
 * JSON: {"version": 1, "runtime": "onnxruntime-node 1.23.2", "tolerance": t, "rows": [[L numbers] x N],
 *        "expected": [[K probabilities] x N]}
 * A row fails when any of its probabilities is more than `tolerance` from the reference, or when its top class
 * changed although the reference's top two were more than `tolerance` apart. The rows run as one batch of N (the
 * bundled int8 model scales a batch's activations by the batch's own range, so the rows must run together).
 */
export interface SelfCheck {
  /** N rows of L values, row-major. */
  rows: Float32Array;
  n: number;
  /** N rows of K reference probabilities, row-major. */
  expected: Float64Array;
  tolerance: number;
  /** What made the reference (`runtime`), for the error line. */
  runtime: string;
}

/** The onnxruntime-node range package.json pins (test/classify/selfCheck.test.ts keeps them equal). */
export const PINNED_RUNTIME = 'onnxruntime-node ~1.23.2';
/** The check batch is also the contract's probe, which needs two rows or more (modelContract.ts). */
export const MIN_SELF_CHECK_ROWS = 2;
/** More rows than this is no check any more but a benchmark at every load. */
export const MAX_SELF_CHECK_ROWS = 1024;
/** Rows named in the error line; the count says how many more. */
const ROWS_NAMED = 8;

const SEE = '(see models/README.md)';

/**
 * Copies `v` into `into` at `at` when it is `width` finite numbers; false otherwise. Built-ins only (`every` with
 * Number.isFinite, which does not coerce, and TypedArray `set`): a loop of our own over the entry's ~4,000 numbers is
 * hot enough for TurboFan to compile it, ~2 ms of a one-core load (round perf43).
 */
function copyRow(v: unknown, width: number, into: Float32Array | Float64Array, at: number): boolean {
  if (!Array.isArray(v) || v.length !== width || !v.every(Number.isFinite)) return false;
  into.set(v as number[], at);
  return true;
}

/**
 * Parses metadata `self_check` for a model of sequence length L and K classes; null when the file has none.
 * `refuse` makes the contract error for a malformed entry (a file that promises a check must carry a usable one).
 */
export function parseSelfCheck(text: string | undefined, L: number, K: number, refuse: (what: string) => Error): SelfCheck | null {
  if (text === undefined) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw refuse(`metadata 'self_check' is not JSON`);
  }
  const o = parsed as { version?: unknown; runtime?: unknown; tolerance?: unknown; rows?: unknown; expected?: unknown } | null;
  if (o === null || typeof o !== 'object' || o.version !== 1) throw refuse(`metadata 'self_check' is not a version 1 object`);
  const tolerance = o.tolerance;
  if (typeof tolerance !== 'number' || !(tolerance > 0 && tolerance < 1)) {
    throw refuse(`metadata 'self_check' tolerance is ${JSON.stringify(tolerance)}, not a number between 0 and 1`);
  }
  const rows = o.rows;
  const expected = o.expected;
  if (!Array.isArray(rows) || rows.length < MIN_SELF_CHECK_ROWS || rows.length > MAX_SELF_CHECK_ROWS) {
    throw refuse(`metadata 'self_check' rows must be an array of ${MIN_SELF_CHECK_ROWS} to ${MAX_SELF_CHECK_ROWS} input rows`);
  }
  if (!Array.isArray(expected) || expected.length !== rows.length) {
    throw refuse(`metadata 'self_check' expected must hold one row of probabilities per input row (${rows.length})`);
  }
  const n = rows.length;
  const x = new Float32Array(n * L);
  const e = new Float64Array(n * K);
  for (let i = 0; i < n; i++) {
    if (!copyRow(rows[i], L, x, i * L)) throw refuse(`metadata 'self_check' row ${i} is not ${L} finite numbers`);
    if (!copyRow(expected[i], K, e, i * K)) throw refuse(`metadata 'self_check' expected row ${i} is not ${K} finite numbers`);
  }
  const runtime = typeof o.runtime === 'string' && o.runtime.trim() !== '' ? o.runtime : 'the model\'s maker';
  return { rows: x, n, expected: e, tolerance, runtime };
}

/** What a run of the check found: the rows that failed and the largest deviation (row, class, got, expected). */
export interface SelfCheckResult {
  failed: number[];
  topChanged: number;
  worst: { row: number; cls: number; got: number; want: number; dev: number };
}

/** The reference's margin between its top class (absolute index `top`) and the runner-up, in row `at`..`at + K`. */
function topMargin(want: Float64Array, at: number, K: number, top: number): number {
  let second = -1;
  for (let j = at; j < at + K; j++) if (j !== top && want[j]! > second) second = want[j]!;
  return want[top]! - second;
}

/**
 * Compares output rows `got` (N x K) with the reference; pure, so that the rule can be tested on its own. It runs
 * once a load, in the interpreter, so it is one plain pass (a row's largest deviation and both top classes) with no
 * allocation; the reference's margin is looked at only where the top classes differ.
 */
export function compareSelfCheck(got: ArrayLike<number>, check: SelfCheck, K: number): SelfCheckResult {
  const { expected: want, tolerance: tol, n } = check;
  const failed: number[] = [];
  let topChanged = 0;
  let worstRow = 0;
  let worstAt = 0;
  let worstDev = -1;
  for (let i = 0, at = 0; i < n; i++, at += K) {
    let rowDev = 0;
    let rowAt = at;
    let topGot = at;
    let topWant = at;
    for (let j = at; j < at + K; j++) {
      const g = got[j]!;
      const w = want[j]!;
      const d = Math.abs(g - w);
      // NaN compares false everywhere: a NaN output is a deviation of 1.
      if (!(d <= rowDev)) {
        rowDev = d <= 1 ? d : 1;
        rowAt = j;
      }
      if (g > got[topGot]!) topGot = j;
      if (w > want[topWant]!) topWant = j;
    }
    let bad = rowDev > tol;
    if (topGot !== topWant) {
      topChanged++;
      // A top class may swap with its runner-up where the reference itself had them within the tolerance.
      if (topMargin(want, at, K, topWant) > tol) bad = true;
    }
    if (bad) failed.push(i);
    if (rowDev > worstDev) {
      worstDev = rowDev;
      worstRow = i;
      worstAt = rowAt;
    }
  }
  const worst = { row: worstRow, cls: worstAt - worstRow * K, got: got[worstAt]!, want: want[worstAt]!, dev: Math.max(worstDev, 0) };
  return { failed, topChanged, worst };
}

function fmt(p: number): string {
  return Number.isFinite(p) ? p.toFixed(3) : String(p);
}

/**
 * Compares the outputs of the check batch (run as the contract's probe on the session that will serve) with the
 * reference and throws a ModelContractError (one line: the model, the rows, the largest deviation, the runtime's
 * version and what to do) when the runtime does not reproduce it.
 */
export function checkSelfCheck(path: string, got: Float32Array, check: SelfCheck, K: number, classes: readonly string[]): void {
  const r = compareSelfCheck(got, check, K);
  if (r.failed.length === 0) return;
  const version = `onnxruntime-node ${ort.env.versions.node ?? '?'}`;
  const rows = r.failed.slice(0, ROWS_NAMED).join(', ') + (r.failed.length > ROWS_NAMED ? ` and ${r.failed.length - ROWS_NAMED} more` : '');
  const w = r.worst;
  const found =
    `on ${r.failed.length} of ${check.n} rows (rows ${rows}; top class changed on ${r.topChanged}); largest deviation ${fmt(w.dev)} ` +
    `on row ${w.row}, class ${classes[w.cls] ?? w.cls}: ${fmt(w.got)} against ${fmt(w.want)} (tolerance ${check.tolerance})`;
  throw new SelfCheckError(
    `model ${path}: self-check failed: ${version} does not reproduce the model's reference outputs (made with ${check.runtime}) ` +
      `${found}. This runtime computes the model wrongly on this machine and would write wrong labels: install the pinned version ` +
      `(${PINNED_RUNTIME}: npm ci) or run with --no-classify ${SEE}`,
    found,
  );
}

/**
 * The self-check's refusal: a ModelContractError (one line, the same name across a worker's boundary) that also keeps
 * what was found, so that a CUDA session that fails it can fall back to the CPU with a warning (openModel.ts).
 */
export class SelfCheckError extends ModelContractError {
  constructor(
    message: string,
    /** Rows and largest deviation, without the model's name and the advice. */
    readonly found: string,
  ) {
    super(message);
  }
}
