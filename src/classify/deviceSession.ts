import { dropScratch, graphCacheFile, readGraph, saveGraph, scratchFile, touchGraph } from './graphCache';
import { ort, type OrtSession } from './ortBinding';

export type Device = 'auto' | 'cpu' | 'cuda';

export interface SessionLogger {
  warn(msg: string): void;
  info(msg: string): void;
}

/** What to do when the CUDA execution provider cannot be loaded; printed once per model load. */
export const CUDA_HOWTO =
  'to use the GPU, reinstall onnxruntime-node with its CUDA 12 binaries (ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node) ' +
  "on a host with the NVIDIA driver, CUDA 12 and cuDNN 9, or set classify.device to 'cpu' to silence this warning";

function firstLine(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return msg.split('\n')[0]!.trim();
}

function options(providers: string[], intraOpThreads: number | undefined): ort.InferenceSession.SessionOptions {
  const opts: ort.InferenceSession.SessionOptions = {
    executionProviders: providers,
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
  };
  if (intraOpThreads !== undefined) opts.intraOpNumThreads = intraOpThreads;
  return opts;
}

/**
 * Creates an ORT session on the requested device. 'cuda' falls back to CPU with one warning that says how to
 * enable CUDA; 'auto' tries CUDA and falls back to CPU quietly (the reason comes back in `cudaError`, and the
 * caller's one "model loaded" line says `cuda: not available`): a CPU-only host is the normal case, not an error.
 * Errors on CPU are the model's own and are thrown as they are (the caller turns them into a contract error).
 */
export async function createDeviceSession(
  model: Uint8Array,
  device: Device,
  intraOpThreads: number | undefined,
  logger: SessionLogger,
): Promise<{ session: OrtSession; device: 'cpu' | 'cuda'; cudaError: string | null }> {
  let cudaError: string | null = null;
  if (device !== 'cpu') {
    try {
      // 'cpu' after 'cuda' lets ORT place the few operators CUDA lacks on the CPU instead of failing.
      const session = await ort.InferenceSession.create(model, options(['cuda', 'cpu'], intraOpThreads));
      return { session, device: 'cuda', cudaError: null };
    } catch (e) {
      cudaError = firstLine(e);
      if (device === 'cuda') logger.warn(`CUDA execution provider not available (${cudaError}); classifying on CPU: ${CUDA_HOWTO}`);
    }
  }
  const session = await createCpuSession(model, intraOpThreads);
  return { session, device: 'cpu', cudaError };
}

/**
 * A CPU session; where the graph cache is on (graphCache.ts), from the graph ORT optimised on an earlier run, with
 * the optimiser off (the same graph, kernels and outputs; ~20 ms less), else optimised now and the result saved.
 */
async function createCpuSession(model: Uint8Array, intraOpThreads: number | undefined): Promise<OrtSession> {
  const opts = options(['cpu'], intraOpThreads);
  let file: string | null = null;
  try {
    file = graphCacheFile(model, ort.env.versions.node ?? '', `${opts.graphOptimizationLevel}/${opts.executionMode}`);
  } catch {
    file = null;
  }
  if (file === null) return ort.InferenceSession.create(model, opts);
  const graph = readGraph(file);
  if (graph !== null) {
    try {
      const session = await ort.InferenceSession.create(graph, { ...opts, graphOptimizationLevel: 'disabled' });
      touchGraph(file);
      return session;
    } catch {
      // Not a graph this runtime loads: optimise the model again, below, and rewrite the entry.
    }
  }
  const scratch = scratchFile(file);
  let session: OrtSession;
  try {
    session = await ort.InferenceSession.create(model, { ...opts, optimizedModelFilePath: scratch });
  } catch {
    dropScratch(scratch);
    return ort.InferenceSession.create(model, opts);
  }
  saveGraph(scratch, file);
  return session;
}

export { firstLine };
