import { readMetadataProps, requiredMetadata } from './onnxMetadata';
import { ort, type OrtSession } from './ortBinding';
import { VERDICT_STATUSES } from './verdict';
import { ModelContractError } from './contractError';
import { checkSelfCheck, parseSelfCheck, type SelfCheck } from './selfCheck';

export { ModelContractError };

/**
 * The model contract (SPEC.md "The model contract"), checked once when a model is loaded:
 *
 *  - metadata_props `classes` (JSON array of K distinct non-empty strings, none of them a label the sensor
 *    writes itself: unknown, no-payload, classify-error, unclassified), `sequence_length` (positive integer L),
 *    `model_version` and `training_data` (non-empty strings);
 *  - optional metadata_props of the unknown rule: `background_classes` (JSON array of some of the classes, not
 *    all: classes that name no application, e.g. one trained on other protocols' flows; a flow whose top class
 *    is one of them is `unknown`) and `unknown_threshold` (a number from 0 to 1: the threshold the model was
 *    tuned for, used unless `classify.unknownThreshold` is set); other keys (e.g. `input_reference`) are not
 *    checked here;
 *  - optional metadata_props `self_check` (selfCheck.ts): input rows and the reference probabilities the pinned
 *    onnxruntime-node gave for them; run once as one batch on the session that will serve, and a runtime that does
 *    not reproduce them within the entry's tolerance is refused (a wrong runtime must not label silently);
 *  - exactly one input, float32 [N, L] with a dynamic batch axis N;
 *  - exactly one output, float32 [N, K], K = number of classes; a probe run of two rows (of the self-check's rows when
 *    the model has them) confirms K and one output row per input row (the only way to know it when the exporter
 *    left it symbolic) and that each row sums to 1.
 *
 * A model that breaks it is refused with a ModelContractError whose message is one line naming the file.
 */

export interface ModelInfo {
  path: string;
  /** metadata 'model_version'; written into every verdict. */
  version: string;
  classes: string[];
  sequenceLength: number;
  device: 'cpu' | 'cuda';
  trainingData: string;
  /** metadata 'input_reference' (JSON, drift monitoring; src/monitor/inputReference.ts), or null when absent. */
  inputReference: string | null;
  /** metadata 'background_classes': classes that name no application (top class one of them -> 'unknown'). */
  backgroundClasses: string[];
  /** metadata 'unknown_threshold': the model's own threshold, or null when the file has none. */
  unknownThreshold: number | null;
}

/** A model that passed the contract, with the tensor names to run it by. */
export interface CheckedModel {
  info: ModelInfo;
  inputName: string;
  outputName: string;
}

const SEE = '(see models/README.md)';
/** Longest sequence accepted; far above any PPI model, low enough that a typo cannot allocate gigabytes. */
export const MAX_SEQUENCE_LENGTH = 4096;
/** How far a probe row's probabilities may sum from 1 (float32 softmax rounding is ~1e-7 per class). */
const PROBABILITY_SUM_TOLERANCE = 1e-3;

/** Labels the sensor writes itself (verdict statuses other than `classified`): no model class may be called so. */
const RESERVED_LABELS = VERDICT_STATUSES.filter((s) => s !== 'classified');

function refuse(path: string, what: string): ModelContractError {
  return new ModelContractError(`model ${path}: ${what} ${SEE}`);
}

function requiredProp(path: string, props: Map<string, string>, key: string): string {
  return requiredMetadata(props, key, (what) => refuse(path, what));
}

function parseClasses(path: string, text: string): string[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw refuse(path, `metadata 'classes' is not JSON (expected a list such as ["ssh","tls-web"])`);
  }
  if (!Array.isArray(parsed) || parsed.length === 0) {
    throw refuse(path, `metadata 'classes' must be a non-empty JSON array of class names`);
  }
  const seen = new Set<string>();
  for (const [i, name] of parsed.entries()) {
    if (typeof name !== 'string' || name.trim() === '') {
      throw refuse(path, `metadata 'classes' entry ${i} is not a non-empty string`);
    }
    if (seen.has(name)) throw refuse(path, `metadata 'classes' names '${name}' twice`);
    if ((RESERVED_LABELS as readonly string[]).includes(name)) {
      throw refuse(path, `metadata 'classes' names '${name}', a label the sensor reserves for its own verdicts (${RESERVED_LABELS.join(', ')})`);
    }
    seen.add(name);
  }
  return parsed as string[];
}

function parseSequenceLength(path: string, text: string): number {
  const t = text.trim();
  const n = /^[0-9]+$/.test(t) ? Number(t) : NaN;
  if (!Number.isInteger(n) || n < 1 || n > MAX_SEQUENCE_LENGTH) {
    throw refuse(path, `metadata 'sequence_length' is '${text}', not an integer from 1 to ${MAX_SEQUENCE_LENGTH}`);
  }
  return n;
}

function parseBackground(path: string, text: string | undefined, classes: readonly string[]): string[] {
  if (text === undefined) return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw refuse(path, `metadata 'background_classes' is not JSON (expected a list of class names such as ["other"])`);
  }
  if (!Array.isArray(parsed)) throw refuse(path, `metadata 'background_classes' must be a JSON array of class names`);
  const out: string[] = [];
  for (const [i, name] of parsed.entries()) {
    if (typeof name !== 'string' || !classes.includes(name)) {
      throw refuse(path, `metadata 'background_classes' entry ${i} (${JSON.stringify(name)}) is not one of the model's classes`);
    }
    if (!out.includes(name)) out.push(name);
  }
  if (out.length >= classes.length) {
    throw refuse(path, `metadata 'background_classes' names every class; at least one must name an application`);
  }
  return out;
}

function parseThreshold(path: string, text: string | undefined): number | null {
  if (text === undefined) return null;
  const t = text.trim();
  const v = t === '' ? NaN : Number(t);
  if (!(v >= 0 && v <= 1)) throw refuse(path, `metadata 'unknown_threshold' is '${text}', not a number from 0 to 1`);
  return v;
}

function describeShape(shape: ReadonlyArray<number | string>): string {
  return `[${shape.join(', ')}]`;
}

/** Reads and checks the metadata; no ORT session needed. */
export function checkMetadata(path: string, bytes: Uint8Array): Omit<ModelInfo, 'device'> {
  return readModelMetadata(path, bytes).info;
}

/** checkMetadata() and the model's `self_check` entry (null when it has none), which stays out of ModelInfo. */
export function readModelMetadata(path: string, bytes: Uint8Array): { info: Omit<ModelInfo, 'device'>; selfCheck: SelfCheck | null } {
  const props = readMetadataProps(bytes, (what) => refuse(path, what));
  const classes = parseClasses(path, requiredProp(path, props, 'classes'));
  const sequenceLength = parseSequenceLength(path, requiredProp(path, props, 'sequence_length'));
  const version = requiredProp(path, props, 'model_version');
  const trainingData = requiredProp(path, props, 'training_data');
  // Optional: a model without it still loads; the monitor then scores no drift (one info line).
  const inputReference = props.get('input_reference') ?? null;
  const backgroundClasses = parseBackground(path, props.get('background_classes'), classes);
  const unknownThreshold = parseThreshold(path, props.get('unknown_threshold'));
  const selfCheck = parseSelfCheck(props.get('self_check'), sequenceLength, classes.length, (what) => refuse(path, what));
  return { info: { path, version, classes, sequenceLength, trainingData, inputReference, backgroundClasses, unknownThreshold }, selfCheck };
}

function checkInput(path: string, session: OrtSession, L: number): string {
  if (session.inputNames.length !== 1) {
    throw refuse(path, `has ${session.inputNames.length} inputs (${session.inputNames.join(', ')}); the contract is one float32 input [N, ${L}]`);
  }
  const meta = session.inputMetadata[0];
  const name = session.inputNames[0]!;
  if (meta === undefined || !meta.isTensor || meta.type !== 'float32') {
    const type = meta !== undefined && meta.isTensor ? meta.type : 'not a tensor';
    throw refuse(path, `input '${name}' is ${type}; the contract is float32 [N, ${L}] of raw signed lengths`);
  }
  const shape = meta.shape;
  if (shape.length !== 2) {
    throw refuse(path, `input '${name}' has shape ${describeShape(shape)}; the contract is [N, ${L}]`);
  }
  if (typeof shape[0] === 'number') {
    throw refuse(path, `input '${name}' has a fixed batch size ${shape[0]}; export it with a dynamic batch axis (e.g. dynamic_axes={'${name}': {0: 'N'}})`);
  }
  if (typeof shape[1] === 'number' && shape[1] !== L) {
    throw refuse(path, `input '${name}' is ${shape[1]} wide but metadata 'sequence_length' is ${L}; they must be equal`);
  }
  return name;
}

function checkOutputDecl(path: string, session: OrtSession, K: number): string {
  if (session.outputNames.length !== 1) {
    throw refuse(path, `has ${session.outputNames.length} outputs (${session.outputNames.join(', ')}); the contract is one float32 output [N, ${K}] of probabilities`);
  }
  const meta = session.outputMetadata[0];
  const name = session.outputNames[0]!;
  if (meta === undefined || !meta.isTensor || meta.type !== 'float32') {
    const type = meta !== undefined && meta.isTensor ? meta.type : 'not a tensor';
    throw refuse(path, `output '${name}' is ${type}; the contract is float32 [N, ${K}] probabilities`);
  }
  if (meta.shape.length !== 0 && meta.shape.length !== 2) {
    throw refuse(path, `output '${name}' has shape ${describeShape(meta.shape)}; the contract is [N, ${K}]`);
  }
  const width = meta.shape[1];
  if (typeof width === 'number' && width !== K) {
    throw refuse(path, `output '${name}' is ${width} wide but metadata 'classes' names ${K} classes; they must match`);
  }
  return name;
}

/**
 * Rows of the load-time probe. Two, not one: an export that baked in a batch size of 1 answers one row correctly
 * and every real batch wrongly, and would otherwise pass (and be swapped in on SIGHUP).
 */
const PROBE_ROWS = 2;

/** The probe's input: all zeros, then a short request/response sequence. */
function probeInput(L: number): Float32Array {
  const input = new Float32Array(PROBE_ROWS * L);
  input.set([517, -1448, -1448, 80], L);
  return input;
}

/**
 * Runs the probe rows (the model's self-check rows when it has them: one run serves both, see checkModelContract):
 * confirms the output width when it is symbolic, that each input row gets one output row, and gives the outputs.
 */
async function probe(path: string, session: OrtSession, inputName: string, outputName: string, input: Float32Array, L: number, K: number): Promise<Float32Array> {
  const rows = input.length / L;
  let out: ort.Tensor | undefined;
  try {
    const result = await session.run({ [inputName]: new ort.Tensor('float32', input, [rows, L]) });
    out = result[outputName];
  } catch (e) {
    const msg = (e instanceof Error ? e.message : String(e)).split('\n')[0];
    throw refuse(path, `fails on a [${rows}, ${L}] probe input: ${msg}`);
  }
  if (out === undefined || out.type !== 'float32') throw refuse(path, `output '${outputName}' did not come back as float32`);
  const dims = out.dims;
  if (dims.length !== 2 || dims[0] !== rows) {
    throw refuse(
      path,
      `output '${outputName}' has shape [${dims.join(', ')}] for ${rows} input rows; the contract is [N, ${K}] (a batch axis baked in at export?)`,
    );
  }
  if (dims[1] !== K) {
    throw refuse(path, `output '${outputName}' is ${dims[1]} wide but metadata 'classes' names ${K} classes; they must match`);
  }
  return out.data as Float32Array;
}

/** Every output row must be probabilities: a sum of 1 (the model ends with a softmax). */
function checkSums(path: string, data: Float32Array, K: number): void {
  const rows = data.length / K;
  for (let row = 0; row < rows; row++) {
    let sum = 0;
    for (let i = 0; i < K; i++) sum += data[row * K + i]!;
    if (!(Math.abs(sum - 1) <= PROBABILITY_SUM_TOLERANCE)) {
      throw refuse(path, `output for probe row ${row + 1} sums to ${sum.toPrecision(4)}, not 1; the model must end with a softmax`);
    }
  }
}

/** Checks a model that ORT has loaded against the contract, and runs its self-check when it carries one. */
export async function checkModelContract(
  info: Omit<ModelInfo, 'device'>,
  session: OrtSession,
  selfCheck: SelfCheck | null = null,
): Promise<{ inputName: string; outputName: string }> {
  const inputName = checkInput(info.path, session, info.sequenceLength);
  const outputName = checkOutputDecl(info.path, session, info.classes.length);
  const L = info.sequenceLength;
  const K = info.classes.length;
  if (selfCheck === null) {
    checkSums(info.path, await probe(info.path, session, inputName, outputName, probeInput(L), L, K), K);
    return { inputName, outputName };
  }
  // The self-check's batch (N >= 2 rows) is the probe too: one run less at every load. Its comparison comes before
  // the row sums, so that a runtime that computes garbage is named as such (selfCheck.ts), not the model.
  const out = await probe(info.path, session, inputName, outputName, selfCheck.rows, L, K);
  checkSelfCheck(info.path, out, selfCheck, K, info.classes);
  checkSums(info.path, out, K);
  return { inputName, outputName };
}
