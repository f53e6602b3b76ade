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
 *
 * Its size is bounded (round perf40): every new model, onnxruntime version, CPU or option set adds an entry, so each
 * write ends by removing the least recently used entries beyond GRAPH_CACHE_BOUND (a run that loads an entry marks it
 * used: its modification time set to now), and a graph larger than the byte bound is not kept at all. Concurrent
 * processes (the CLI's worker threads, two sensors at once) are safe without a lock: an entry appears by a rename,
 * so a reader sees a whole entry or none; one removed under a reader is either already open (Linux keeps its bytes)
 * or missing (a miss); every removal ignores a file that is already gone; and each writer prunes after its own rename,
 * so once the last writer is done the directory is within the bound.
 */

/**
 * At most this many entries and bytes in `ort-graphs/`: the bundled models are two entries, ~1.5 MB together, so
 * eight entries keep a user's three or four set-ups (models, onnxruntime versions) and the byte bound keeps a large
 * model of one's own from filling the disk. Beyond either, the least recently used entries go.
 */
export const GRAPH_CACHE_BOUND = { entries: 8, bytes: 32 * 1024 * 1024 };
/** A temporary file older than this was left by a process that died while writing (a live one takes well under a second). */
const STALE_SCRATCH_MS = 10 * 60 * 1000;
/** The name of an entry: the key's SHA-256 in hex. */
const ENTRY = /^[0-9a-f]{64}\.onnx$/;
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

/**
 * Makes the graph ORT wrote to `scratch` the entry `file` (checksum first, then a rename), then removes the least
 * recently used entries beyond `bound`; never throws.
 */
export function saveGraph(scratch: string, file: string, bound: { entries: number; bytes: number } = GRAPH_CACHE_BOUND): void {
  try {
    const graph = fs.readFileSync(scratch);
    if (graph.length > 0 && graph.length + DIGEST <= bound.bytes) {
      const tmp = `${scratch}.sum`;
      fs.writeFileSync(tmp, Buffer.concat([crypto.createHash('sha256').update(graph).digest(), graph]), { mode: 0o600 });
      // A reader meanwhile sees the old entry or the new one, never half of one.
      fs.renameSync(tmp, file);
      pruneGraphs(path.dirname(file), path.basename(file), bound);
    }
  } catch {
    // A full or read-only disk: the next run optimises the model again.
  }
  dropScratch(scratch);
}

/** Marks the entry `file` used now (its modification time), so that pruning keeps it; never throws. */
export function touchGraph(file: string): void {
  try {
    const now = new Date();
    fs.utimesSync(file, now, now);
  } catch {
    // Removed meanwhile by another process's pruning, or a read-only cache: the entry just ages.
  }
}

/**
 * Removes from `dir` the least recently used entries (by modification time, oldest first) beyond `bound`'s count
 * or bytes, never `keep` (the entry just written), and temporary files older than STALE_SCRATCH_MS; files that
 * vanish meanwhile (another process pruning) are skipped. Never throws.
 */
export function pruneGraphs(dir: string, keep: string, bound: { entries: number; bytes: number } = GRAPH_CACHE_BOUND, now: number = Date.now()): void {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return;
  }
  const entries: Array<{ name: string; used: number; size: number }> = [];
  for (const name of names) {
    const entry = ENTRY.test(name);
    if (!entry && !name.endsWith('.tmp') && !name.endsWith('.tmp.sum')) continue;
    let st: fs.Stats;
    try {
      st = fs.lstatSync(path.join(dir, name));
    } catch {
      continue;
    }
    if (!st.isFile()) continue;
    if (entry) entries.push({ name, used: name === keep ? Infinity : st.mtimeMs, size: st.size });
    else if (now - st.mtimeMs > STALE_SCRATCH_MS) remove(path.join(dir, name));
  }
  // The most recently used first (ties by name, so that concurrent pruners agree); those within the bound stay, the rest go.
  entries.sort((a, b) => b.used - a.used || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  let count = 0;
  let bytes = 0;
  let full = false;
  for (const e of entries) {
    full ||= e.name !== keep && (count + 1 > bound.entries || bytes + e.size > bound.bytes);
    if (full) {
      remove(path.join(dir, e.name));
    } else {
      count += 1;
      bytes += e.size;
    }
  }
}

function remove(file: string): void {
  try {
    fs.rmSync(file, { force: true });
  } catch {
    // Not ours to remove after all (permissions): left as it is.
  }
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
