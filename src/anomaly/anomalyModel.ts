import { readFileSync } from 'node:fs';

import { createDeviceSession, firstLine, type Device, type SessionLogger } from '../classify/deviceSession';
import { MAX_SEQUENCE_LENGTH, ModelContractError } from '../classify/modelContract';
import { readMetadataProps, requiredMetadata } from '../classify/onnxMetadata';
import { ort, type OrtSession } from '../classify/ortBinding';
import { MAX_CONTEXT_HOLD } from './contextWindow';
import { FeatureError, FeatureExtractor, parsePort } from './features';

/**
 * The anomaly model contract (models/ANOMALY.md "Model contract"), checked once when a model is loaded:
 *
 *  - metadata_props `sequence_length` (L), `anomaly_counters` (JSON array of counter names, see features.ts),
 *    `anomaly_thresholds` (JSON object: false-positive rate on normal traffic, as a decimal string in (0, 1) ->
 *    the score above which a flow is flagged at that rate), `anomaly_default_fpr` (one of those rates),
 *    `model_version` and `training_data` (non-empty strings); `anomaly_method` (optional text) is shown in logs;
 *    `anomaly_port_thresholds` (optional JSON object: server port -> {rate -> threshold}, rates among
 *    `anomaly_thresholds`): a flow to that port is flagged above its port's threshold for the rate in force, where
 *    the model has one, else above the global one; `anomaly_context_hold` (optional, seconds from 0 to
 *    MAX_CONTEXT_HOLD, default 0): how long each flow waits for its context counters (contextWindow.ts), as the
 *    model's fitting rows were made;
 *  - one input, float32 [N, L + C] (C = number of counters) with a dynamic batch axis;
 *  - one output, float32 [N] or [N, 1]: the anomaly score, higher = less like the normal traffic it was fitted on;
 *    a probe run of two rows must give two finite scores.
 *
 * A model that breaks it is refused with a one-line ModelContractError naming the file.
 */
export interface AnomalyModelInfo {
  path: string;
  version: string;
  trainingData: string;
  method: string;
  sequenceLength: number;
  counters: string[];
  /** False-positive rate -> threshold, ascending by rate. */
  thresholds: { fpr: number; threshold: number }[];
  defaultFpr: number;
  /** Thresholds of single server ports (metadata `anomaly_port_thresholds`; empty for a model without it). */
  portThresholds: { port: number; fpr: number; threshold: number }[];
  /** Seconds each flow waits for its context (metadata `anomaly_context_hold`; 0 for a model without it). */
  contextHold: number;
  /**
   * Seconds a flow that repeated an exchange waits for its context instead (metadata `anomaly_context_retry_hold`;
   * 0 = the same hold as every flow): contextWindow.ts.
   */
  contextRetryHold: number;
  device: 'cpu' | 'cuda';
}

const SEE = '(see models/ANOMALY.md)';
const MAX_COUNTERS = 1024;
/** Two false-positive rates closer than this are the same rate (they are written as short decimals). */
const FPR_EPSILON = 1e-9;
const PROBE_ROWS = 2;

function refuse(path: string, what: string): ModelContractError {
  return new ModelContractError(`anomaly model ${path}: ${what} ${SEE}`);
}

function prop(path: string, props: Map<string, string>, key: string): string {
  const hint = key === 'anomaly_counters' ? ' (is this a classifier model?)' : '';
  return requiredMetadata(props, key, (what) => refuse(path, what), hint);
}

function json(path: string, key: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw refuse(path, `metadata '${key}' is not JSON`);
  }
}

/** Reads and checks the metadata; no ORT session needed. */
export function checkAnomalyMetadata(path: string, bytes: Uint8Array): Omit<AnomalyModelInfo, 'device'> {
  const props = readMetadataProps(bytes, (what) => refuse(path, what));
  const counters = json(path, 'anomaly_counters', prop(path, props, 'anomaly_counters'));
  if (!Array.isArray(counters) || counters.length > MAX_COUNTERS || counters.some((c) => typeof c !== 'string')) {
    throw refuse(path, `metadata 'anomaly_counters' must be a JSON array of at most ${MAX_COUNTERS} counter names`);
  }
  const lText = prop(path, props, 'sequence_length').trim();
  const L = /^[0-9]+$/.test(lText) ? Number(lText) : NaN;
  if (!Number.isInteger(L) || L < 0 || L > MAX_SEQUENCE_LENGTH) {
    throw refuse(path, `metadata 'sequence_length' is '${lText}', not an integer from 0 to ${MAX_SEQUENCE_LENGTH}`);
  }
  if (L + counters.length === 0) throw refuse(path, 'reads nothing: sequence_length is 0 and anomaly_counters is empty');
  try {
    new FeatureExtractor(L, counters as string[]);
  } catch (e) {
    if (e instanceof FeatureError) throw refuse(path, `metadata 'anomaly_counters': ${e.message}`);
    throw e;
  }
  const raw = json(path, 'anomaly_thresholds', prop(path, props, 'anomaly_thresholds'));
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw) || Object.keys(raw).length === 0) {
    throw refuse(path, `metadata 'anomaly_thresholds' must be a JSON object such as {"0.01": 0.42}`);
  }
  const thresholds: { fpr: number; threshold: number }[] = [];
  for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
    const fpr = Number(k);
    if (!(fpr > 0 && fpr < 1)) throw refuse(path, `metadata 'anomaly_thresholds' key '${k}' is not a false-positive rate between 0 and 1`);
    if (typeof v !== 'number' || !Number.isFinite(v)) throw refuse(path, `metadata 'anomaly_thresholds' value for ${k} is not a finite number`);
    thresholds.push({ fpr, threshold: v });
  }
  thresholds.sort((a, b) => a.fpr - b.fpr);
  const defaultFpr = Number(prop(path, props, 'anomaly_default_fpr'));
  if (!thresholds.some((t) => Math.abs(t.fpr - defaultFpr) < FPR_EPSILON)) {
    throw refuse(path, `metadata 'anomaly_default_fpr' is ${props.get('anomaly_default_fpr')}, which 'anomaly_thresholds' has no threshold for`);
  }
  const portThresholds: { port: number; fpr: number; threshold: number }[] = [];
  const portText = props.get('anomaly_port_thresholds');
  if (portText !== undefined) {
    const byPort = json(path, 'anomaly_port_thresholds', portText);
    if (byPort === null || typeof byPort !== 'object' || Array.isArray(byPort)) {
      throw refuse(path, `metadata 'anomaly_port_thresholds' must be a JSON object such as {"3389": {"0.01": 1.9}}`);
    }
    for (const [p, byRate] of Object.entries(byPort as Record<string, unknown>)) {
      const port = parsePort(p);
      if (port === null) throw refuse(path, `metadata 'anomaly_port_thresholds' key '${p}' is not a port from 1 to 65535`);
      if (byRate === null || typeof byRate !== 'object' || Array.isArray(byRate)) {
        throw refuse(path, `metadata 'anomaly_port_thresholds' value for port ${p} is not an object of rate -> threshold`);
      }
      for (const [k, v] of Object.entries(byRate as Record<string, unknown>)) {
        const fpr = Number(k);
        const stored = thresholds.find((t) => Math.abs(t.fpr - fpr) < FPR_EPSILON);
        if (stored === undefined) throw refuse(path, `metadata 'anomaly_port_thresholds' for port ${p} has rate '${k}', which 'anomaly_thresholds' has no threshold for`);
        if (typeof v !== 'number' || !Number.isFinite(v)) throw refuse(path, `metadata 'anomaly_port_thresholds' value for port ${p} at ${k} is not a finite number`);
        portThresholds.push({ port, fpr: stored.fpr, threshold: v });
      }
    }
  }
  const holdText = props.get('anomaly_context_hold');
  const contextHold = holdText === undefined ? 0 : Number(holdText);
  if (holdText !== undefined && !(/^[0-9.eE+-]+$/.test(holdText) && contextHold >= 0 && contextHold <= MAX_CONTEXT_HOLD)) {
    throw refuse(path, `metadata 'anomaly_context_hold' is '${holdText}', not a number of seconds from 0 to ${MAX_CONTEXT_HOLD}`);
  }
  const retryText = props.get('anomaly_context_retry_hold');
  const contextRetryHold = retryText === undefined ? 0 : Number(retryText);
  if (retryText !== undefined && !(/^[0-9.eE+-]+$/.test(retryText) && contextRetryHold >= 0 && contextRetryHold <= MAX_CONTEXT_HOLD)) {
    throw refuse(path, `metadata 'anomaly_context_retry_hold' is '${retryText}', not a number of seconds from 0 to ${MAX_CONTEXT_HOLD}`);
  }
  return {
    path,
    version: prop(path, props, 'model_version'),
    trainingData: prop(path, props, 'training_data'),
    method: props.get('anomaly_method') ?? '',
    sequenceLength: L,
    counters: counters as string[],
    thresholds,
    defaultFpr,
    portThresholds,
    contextHold,
    contextRetryHold,
  };
}

/** The per-port thresholds for the rate `fpr` (one of the stored rates): server port -> threshold. */
export function portThresholdsFor(info: Pick<AnomalyModelInfo, 'portThresholds'>, fpr: number): Map<number, number> {
  const m = new Map<number, number>();
  for (const t of info.portThresholds) if (Math.abs(t.fpr - fpr) < FPR_EPSILON) m.set(t.port, t.threshold);
  return m;
}

/**
 * The threshold for a false-positive rate (null = the model's default). Throws ModelContractError naming the
 * rates the model was calibrated for when `fpr` is not one of them.
 */
export function thresholdFor(info: Omit<AnomalyModelInfo, 'device'>, fpr: number | null): { fpr: number; threshold: number } {
  const want = fpr ?? info.defaultFpr;
  const t = info.thresholds.find((x) => Math.abs(x.fpr - want) < FPR_EPSILON);
  if (t === undefined) {
    throw new ModelContractError(
      `anomaly model ${info.path} has thresholds for false-positive rates ${info.thresholds.map((x) => x.fpr).join(', ')}; ` +
        `anomaly.falsePositiveRate ${want} is not one of them (refit with sensor anomaly-fit --fpr ${want} to add it)`,
    );
  }
  return t;
}

function readModel(path: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw refuse(path, 'file not found (set anomaly.model to an .onnx file, or anomaly.enabled to false)');
    throw refuse(path, `cannot read it (${code ?? firstLine(e)})`);
  }
}

async function checkSession(info: Omit<AnomalyModelInfo, 'device'>, session: OrtSession): Promise<{ inputName: string; outputName: string }> {
  const { path } = info;
  const width = info.sequenceLength + info.counters.length;
  if (session.inputNames.length !== 1) throw refuse(path, `has ${session.inputNames.length} inputs; the contract is one float32 input [N, ${width}]`);
  if (session.outputNames.length !== 1) throw refuse(path, `has ${session.outputNames.length} outputs; the contract is one float32 output [N] of scores`);
  const inputName = session.inputNames[0]!;
  const outputName = session.outputNames[0]!;
  const im = session.inputMetadata[0];
  if (im === undefined || !im.isTensor || im.type !== 'float32' || im.shape.length !== 2) {
    throw refuse(path, `input '${inputName}' is not a float32 [N, ${width}] tensor`);
  }
  if (typeof im.shape[0] === 'number') throw refuse(path, `input '${inputName}' has a fixed batch size ${im.shape[0]}; export it with a dynamic batch axis`);
  if (typeof im.shape[1] === 'number' && im.shape[1] !== width) {
    throw refuse(path, `input '${inputName}' is ${im.shape[1]} wide but sequence_length + anomaly_counters is ${width}`);
  }
  const input = new Float32Array(PROBE_ROWS * width);
  if (info.sequenceLength >= 2) input.set([517, -1448], width);
  let out: ort.Tensor | undefined;
  try {
    out = (await session.run({ [inputName]: new ort.Tensor('float32', input, [PROBE_ROWS, width]) }))[outputName];
  } catch (e) {
    throw refuse(path, `fails on a [${PROBE_ROWS}, ${width}] probe input: ${firstLine(e)}`);
  }
  const okShape = out !== undefined && (out.dims.length === 1 || (out.dims.length === 2 && out.dims[1] === 1)) && out.dims[0] === PROBE_ROWS;
  if (out === undefined || out.type !== 'float32' || !okShape) {
    throw refuse(path, `output '${outputName}' came back as ${out?.type ?? 'nothing'} [${out?.dims.join(', ') ?? ''}] for ${PROBE_ROWS} rows; the contract is float32 [N] or [N, 1]`);
  }
  const data = out.data as Float32Array;
  for (let i = 0; i < PROBE_ROWS; i++) {
    if (!Number.isFinite(data[i]!)) throw refuse(path, `probe row ${i + 1} scores ${data[i]}, not a finite number`);
  }
  return { inputName, outputName };
}

/** Reads, checks and opens an anomaly model. Throws ModelContractError (one line) on any refusal. */
export async function openAnomalyModel(
  path: string,
  device: Device,
  intraOpThreads: number | undefined,
  logger: SessionLogger,
): Promise<{ info: AnomalyModelInfo; session: OrtSession; inputName: string; outputName: string }> {
  const bytes = readModel(path);
  const meta = checkAnomalyMetadata(path, bytes);
  let created: Awaited<ReturnType<typeof createDeviceSession>>;
  try {
    created = await createDeviceSession(bytes, device, intraOpThreads, logger);
  } catch (e) {
    throw refuse(path, `onnxruntime cannot load it: ${firstLine(e)}`);
  }
  try {
    const names = await checkSession(meta, created.session);
    return { info: { ...meta, device: created.device }, session: created.session, ...names };
  } catch (e) {
    await created.session.release();
    throw e;
  }
}

/** Contract check only (CPU, released at once): validates a model before a reload swaps it in. */
export async function loadAnomalyModelInfo(path: string): Promise<AnomalyModelInfo> {
  const opened = await openAnomalyModel(path, 'cpu', 1, { warn() {}, info() {} });
  await opened.session.release();
  return opened.info;
}
