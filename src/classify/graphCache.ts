import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { threadId } from 'node:worker_threads';

import { startupCacheDir } from '../startup/codeCache';

/**
 * onnxruntime's optimised graphs, cached (round perf35; issue 11: start-up counts in the end-to-end time). A CPU
 * session built with `graphOptimizationLevel: 'all'` spends most of its construction rewriting the graph (constant
 * folding, the int8 fusions); ORT can write the rewritten graph out (`optimizedModelFilePath`), and a session built
 * from that file with the optimiser off runs the same kernels on the same graph: every output of both models
 * bit-identical over the bench capture's 20,002 rows in six batchings (bench/ort-options-ab.js), ~20 ms less a run.
 *
 * An entry is named by the SHA-256 of what the graph is made from: the model's bytes, onnxruntime's version, the
 * session options that shape the graph, and the machine (architecture and the CPU's name and feature flags, as ORT's
 * level-'all' rewrites may pick layouts for the CPU it runs on). The file holds the SHA-256 of the graph and the
 * graph: one that does not match (torn, corrupt) or that ORT refuses is a miss, and the model is optimised again
 * from its own bytes and the entry rewritten. It lives beside the V8 code cache (startupCacheDir(): same directory
 * rules, `SENSOR_CODE_CACHE=off` switches both off) and only in threads that installed the code cache, the CLI's;
 * `SENSOR_GRAPH_CACHE=off` switches this one off alone. Whatever fails here falls back to an ordinary session.
 */

/** Above this many entries the directory is emptied before a new one is written (old models' and runtimes' entries). */
const MAX_ENTRIES = 64;
const DIGEST = 32;

let machine: string | null = null;

/** The CPU's name and feature flags (Linux: the first processor of /proc/cpuinfo), else os.cpus()'s model. */
function machineKey(): string {
  if (machine !== null) return machine;
  let key = `${process.platform}-${process.arch}`;
  try {
    const info = fs.readFileSync('/proc/cpuinfo', 'latin1');
    const end = info.indexOf('\n\n');
    for (const line of (end < 0 ? info : info.slice(0, end)).split('\n')) {
      if (/^(vendor_id|cpu family|model|model name|flags|Features|CPU implementer|CPU part)\s*:/.test(line)) key += `\n${line}`;
    }
  } catch {
    key += `\n${os.cpus()[0]?.model ?? ''}`;
  }
  machine = key;
  return key;
}

/** Where the optimised graph of `model` under `options` (the graph-shaping part, as text) goes, or null when there is no cache. */
export function graphCacheFile(model: Uint8Array, runtime: string, options: string, env: NodeJS.ProcessEnv = process.env): string | null {
  const v = env['SENSOR_GRAPH_CACHE'];
  if (v === 'off' || v === '0') return null;
  const dir = startupCacheDir('ort-graphs');
  if (dir === null) return null;
  const key = crypto.createHash('sha256').update(model).update('\0').update(runtime).update('\0').update(options).update('\0').update(machineKey()).digest('hex');
  return path.join(dir, `${key}.onnx`);
}

/** The cached graph in `file` when it is there and whole, else null. */
export function readGraph(file: string): Uint8Array | null {
  let buf: Buffer;
  try {
    buf = fs.readFileSync(file);
  } catch {
    return null;
  }
  if (buf.length <= DIGEST) return null;
  const graph = buf.subarray(DIGEST);
  const sum = crypto.createHash('sha256').update(graph).digest();
  return sum.equals(buf.subarray(0, DIGEST)) ? graph : null;
}

/** A temporary name for ORT to write the graph to (per process and thread), beside `file`. */
export function scratchFile(file: string): string {
  return `${file}.${process.pid}.${threadId}.tmp`;
}

/** Makes the graph ORT wrote to `scratch` the entry `file` (checksum first, then a rename); never throws. */
export function saveGraph(scratch: string, file: string): void {
  try {
    const graph = fs.readFileSync(scratch);
    if (graph.length === 0) return;
    const dir = path.dirname(file);
    const entries = fs.readdirSync(dir);
    if (entries.length >= MAX_ENTRIES) {
      for (const f of entries) if (f !== path.basename(scratch)) fs.rmSync(path.join(dir, f), { force: true });
    }
    const tmp = `${scratch}.sum`;
    fs.writeFileSync(tmp, Buffer.concat([crypto.createHash('sha256').update(graph).digest(), graph]), { mode: 0o600 });
    // A reader meanwhile sees the old entry or the new one, never half of one.
    fs.renameSync(tmp, file);
  } catch {
    // A full or read-only disk: the next run optimises the model again.
  }
  dropScratch(scratch);
}

/** Removes what saveGraph() or ORT left under the temporary name `scratch`; never throws. */
export function dropScratch(scratch: string): void {
  for (const f of [scratch, `${scratch}.sum`]) {
    try {
      fs.rmSync(f, { force: true });
    } catch {
      // Left for the directory's next emptying.
    }
  }
}
