import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { loadModelInfo, type ModelInfo } from '../classify/classifier';
import { writeCard, type TrainMetrics } from './card';
import { cardPath, type TrainOptions } from './trainOptions';

/** A one-line answer for the user (exit 2): missing Python/torch, a bad CSV, a failed training run. */
export class TrainError extends Error {
  override name = 'TrainError';
}

const ROOT = path.resolve(__dirname, '..', '..');
const TRAINER = path.join(ROOT, 'models', 'train', 'train.py');
const CHECKER = path.join(ROOT, 'models', 'train', 'bigcsv.py');
/** Writes the model's self-check entry (metadata `self_check`, src/classify/selfCheck.ts) with this runtime. */
const SELF_CHECK = path.join(ROOT, 'models', 'train', 'self_check.py');
const BIN = path.join(ROOT, 'bin', 'sensor.js');
/** What train.py imports (matplotlib draws the confusion matrix and reliability diagram). */
const PROBE = 'import sys, numpy, torch, onnx, matplotlib; print(sys.version.split()[0], torch.__version__, int(torch.cuda.is_available()))';
const INSTALL_HINT =
  'Debian: apt-get install python3-torch python3-onnx python3-numpy python3-matplotlib python3-sklearn; or name an interpreter with --python / $SENSOR_PYTHON';

export interface PythonFound {
  python: string;
  version: string;
  torch: string;
  cuda: boolean;
}

/** The first interpreter that imports what train.py needs, or a TrainError saying what is missing. */
export function findPython(explicit: string | null, env: NodeJS.ProcessEnv = process.env): PythonFound {
  const candidates = explicit !== null ? [explicit] : env.SENSOR_PYTHON !== undefined && env.SENSOR_PYTHON !== '' ? [env.SENSOR_PYTHON] : ['python3', '/usr/bin/python3'];
  const why: string[] = [];
  for (const python of [...new Set(candidates)]) {
    const r = spawnSync(python, ['-c', PROBE], { encoding: 'utf8', timeout: 120000 });
    if (r.error !== undefined) {
      why.push(`${python}: ${(r.error as NodeJS.ErrnoException).code === 'ENOENT' ? 'not found' : r.error.message}`);
      continue;
    }
    if (r.status !== 0) {
      const last = (r.stderr.trim().split('\n').pop() ?? '').trim();
      why.push(`${python}: ${last.replace(/^ModuleNotFoundError: /, '') || `exit ${r.status}`}`);
      continue;
    }
    const [version, torch, cuda] = r.stdout.trim().split(/\s+/);
    return { python, version: version ?? '?', torch: torch ?? '?', cuda: cuda === '1' };
  }
  throw new TrainError(`sensor train needs python3 with torch, numpy, onnx and matplotlib (${why.join('; ')}); ${INSTALL_HINT}`);
}

/** Runs a child, passing its stdout lines to `onLine`; resolves with its exit code and the tail of its stderr. */
function run(cmd: string, args: string[], onLine: (line: string) => void): Promise<{ code: number; stderr: string[] }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PYTHONUNBUFFERED: '1' } });
    const tail: string[] = [];
    let outBuf = '';
    let errBuf = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      outBuf += d;
      let i;
      while ((i = outBuf.indexOf('\n')) >= 0) {
        onLine(outBuf.slice(0, i));
        outBuf = outBuf.slice(i + 1);
      }
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      errBuf += d;
      let i;
      while ((i = errBuf.indexOf('\n')) >= 0) {
        const line = errBuf.slice(0, i);
        errBuf = errBuf.slice(i + 1);
        if (line.trim() === '') continue;
        tail.push(line);
        if (tail.length > 40) tail.shift();
      }
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (outBuf !== '') onLine(outBuf);
      if (errBuf.trim() !== '') tail.push(errBuf.trim());
      resolve({ code: code ?? (signal !== null ? 128 : 1), stderr: tail });
    });
  });
}

/** The last line a Python child wrote that says what went wrong (a SystemExit message, or the exception line). */
function lastWords(stderr: string[]): string {
  const lines = stderr.filter((l) => !/^\s/.test(l) && !l.startsWith('Traceback') && !/Warning/.test(l));
  return (lines.pop() ?? stderr[stderr.length - 1] ?? '').trim();
}

export interface TrainResult {
  model: ModelInfo;
  card: string;
  metrics: TrainMetrics;
  heldOut: string | null;
}

/**
 * `sensor train`: checks the CSV (bigcsv.py: one line per problem, with its line number; classes with too few
 * rows), runs models/train/train.py (held-out split by group, temperature calibration, the unknown rule, ONNX
 * export with the full contract), checks the written model with the sensor's own contract check, writes its
 * self-check (models/train/self_check.py: reference outputs of this runtime, checked again at every load), rescores the
 * held-out rows through the ONNX runtime (`sensor eval`), and only then moves the model to --out (a daemon
 * reloading on SIGHUP never sees half a model). Writes the card next to it. Progress goes to `log`.
 */
export async function runTrain(o: TrainOptions, log: (line: string) => void): Promise<TrainResult> {
  if (!existsSync(o.csv)) throw new TrainError(`--csv ${o.csv}: no such file`);
  if (o.runs !== null && !existsSync(o.runs)) throw new TrainError(`--runs ${o.runs}: no such file`);
  const outDir = path.dirname(path.resolve(o.out));
  if (!existsSync(outDir) || !statSync(outDir).isDirectory()) throw new TrainError(`--out ${o.out}: folder ${outDir} does not exist`);
  const py = findPython(o.python);
  if (o.device === 'cuda' && !py.cuda) throw new TrainError(`--device cuda: torch ${py.torch} (${py.python}) sees no CUDA device; use --device auto or cpu`);
  const device = o.device === 'auto' ? (py.cuda ? 'cuda' : 'cpu') : o.device;
  log(`sensor train: ${py.python} (Python ${py.version}, torch ${py.torch}), device ${device}`);

  const check = await run(py.python, [CHECKER, '--check', o.csv, ...(o.runs !== null ? ['--runs', o.runs] : []), '--min-rows', String(o.minClassRows)], () => undefined);
  if (check.code !== 0) throw new TrainError(lastWords(check.stderr) || `${o.csv}: the CSV check failed (exit ${check.code})`);

  mkdirSync(o.work, { recursive: true });
  const partial = path.join(outDir, `.${path.basename(o.out)}.partial.onnx`);
  rmSync(partial, { force: true });
  const args = [TRAINER, '--csv', o.csv, '--out', o.work, '--export', partial, '--device', o.device, '--min-class-flows', String(o.minClassRows)];
  if (o.runs !== null) args.push('--runs', o.runs);
  if (o.epochs !== null) args.push('--epochs', String(o.epochs));
  if (o.arch !== null) args.push('--arch', o.arch);
  if (o.seed !== null) args.push('--seed', String(o.seed));
  if (o.threads !== null) args.push('--threads', String(o.threads));
  if (o.quick) args.push('--quick');
  const started = Date.now();
  const t = await run(py.python, args, (line) => log(`  ${line}`));
  if (t.code !== 0 || !existsSync(partial)) {
    rmSync(partial, { force: true });
    throw new TrainError(`training failed (models/train/train.py exit ${t.code}): ${lastWords(t.stderr) || 'no message'}`);
  }
  const wallSeconds = (Date.now() - started) / 1000;
  let model: ModelInfo;
  try {
    model = await loadModelInfo(partial);
  } catch (e) {
    rmSync(partial, { force: true });
    throw new TrainError(`the trained model breaks the contract: ${(e as Error).message}`);
  }
  const testCsv = path.join(o.work, 'test.csv');
  // The model's self-check: rows of the held-out set (else of the training CSV) and the probabilities this runtime,
  // the pinned one, gives for them; a sensor on a runtime that computes the model otherwise then refuses it.
  const sc = await run(py.python, [SELF_CHECK, '--model', partial, '--csv', existsSync(testCsv) ? testCsv : o.csv, '--node', process.execPath], () => undefined);
  try {
    if (sc.code !== 0) throw new Error(lastWords(sc.stderr) || `exit ${sc.code}`);
    model = await loadModelInfo(partial);
  } catch (e) {
    rmSync(partial, { force: true });
    throw new TrainError(`writing the model's self-check failed (models/train/self_check.py): ${(e as Error).message}`);
  }
  const metrics = JSON.parse(readFileSync(path.join(o.work, 'metrics.json'), 'utf8')) as TrainMetrics;
  // The held-out rows again, through the exported file and the sensor's own runtime.
  let heldOut: string | null = null;
  if (existsSync(testCsv)) {
    const e = spawnSync(process.execPath, [BIN, 'eval', '--csv', testCsv, '--model', partial], { encoding: 'utf8', maxBuffer: 64 << 20 });
    if (e.status !== 0) {
      rmSync(partial, { force: true });
      throw new TrainError(`sensor eval of the held-out rows failed: ${(e.stderr ?? '').trim().split('\n').pop() ?? ''}`);
    }
    heldOut = e.stdout.replaceAll(partial, o.out);
    writeFileSync(path.join(o.work, 'eval.txt'), heldOut);
  }
  renameSync(partial, o.out);
  model = { ...model, path: o.out };
  const card = cardPath(o.out);
  writeFileSync(card, writeCard({ options: o, model, metrics, heldOut, python: py, device, wallSeconds, bytes: statSync(o.out).size }));
  return { model, card, metrics, heldOut };
}
