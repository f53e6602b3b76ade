import { Worker } from 'node:worker_threads';

import type { Device, SessionLogger } from './deviceSession';
import type { InferenceWorkerData, RunRequest, WorkerReply } from './inferenceWorker';
import type { ModelInfo } from './modelContract';
import type { ModelRunner, RunResult } from './modelRunner';
import { awaitWorkerReady } from './modelWorker';
import { workerEntry } from '../startup/bundle';

/** The compiled worker: its bundle when this process runs from the start-up bundle, else dist/ (src/startup/bundle.ts). */
const WORKER = workerEntry('classify', 'inferenceWorker');


/**
 * A model loaded in its own worker thread (inferenceWorker.ts). `run()` transfers a batch buffer to the worker and
 * resolves with it when the output rows are in it; batches run one at a time, in the order they were handed over,
 * so a caller may keep several in flight and the worker always has the next one queued.
 */
export class InferenceThread implements ModelRunner {
  private readonly waiting = new Map<number, (r: RunResult) => void>();
  private nextId = 1;
  /** Set when the worker stopped other than by close(): every later run() fails at once with it. */
  private stopped: string | null = null;
  private closing: Promise<void> | null = null;

  private constructor(
    private readonly worker: Worker,
    readonly info: ModelInfo,
    readonly cudaError: string | null,
  ) {
    worker.on('message', (m: WorkerReply) => {
      if (m.kind !== 'done') return;
      const resolve = this.waiting.get(m.id);
      if (resolve === undefined) return;
      this.waiting.delete(m.id);
      if (this.waiting.size === 0) worker.unref();
      resolve({ buf: m.buf, error: m.error });
    });
    const fail = (why: string): void => {
      if (this.stopped !== null) return;
      this.stopped = `the inference thread stopped (${why})`;
      // The buffers of the batches in flight are gone with the worker: the caller gets fresh ones to reuse.
      for (const [id, resolve] of this.waiting) resolve({ buf: new ArrayBuffer(0), error: this.stopped + ` [batch ${id}]` });
      this.waiting.clear();
    };
    worker.on('error', (e) => fail(e.message));
    worker.on('exit', (code) => fail(`exit code ${code}`));
    // Idle, the worker must not keep a finished process alive; while batches are in flight it does (see run()).
    worker.unref();
  }

  /**
   * Starts a worker that loads and checks the model. Resolves once it is ready; rejects with the worker's
   * ModelContractError (one line) when the model is refused. Log lines of the load (the CUDA fallback) go to
   * `logger` as they would from openModel() on this thread.
   */
  static open(modelPath: string, device: Device, intraOpThreads: number | undefined, logger: SessionLogger): Promise<InferenceThread> {
    const workerData: InferenceWorkerData = { modelPath, device, intraOpThreads };
    const worker = new Worker(WORKER, { workerData });
    return awaitWorkerReady<WorkerReply>(worker, logger, `model ${modelPath}`, 'the inference thread').then(
      (m) => new InferenceThread(worker, m.info, m.cudaError),
    );
  }

  /**
   * Runs the first `rows` rows of `buf` (row width: the model's sequence length) and writes the output rows into
   * it from float `outAt`. `buf` is transferred: it is unusable until the promise gives it back.
   */
  run(buf: ArrayBuffer, rows: number, outAt: number): Promise<RunResult> {
    if (this.stopped !== null) return Promise.resolve({ buf, error: this.stopped });
    const id = this.nextId++;
    if (this.waiting.size === 0) this.worker.ref();
    const req: RunRequest = { kind: 'run', id, rows, buf, outAt };
    return new Promise<RunResult>((resolve) => {
      this.waiting.set(id, resolve);
      this.worker.postMessage(req, [buf]);
    });
  }

  /** Releases the session and ends the worker (after the batches already handed over). */
  close(): Promise<void> {
    if (this.closing !== null) return this.closing;
    this.closing = new Promise<void>((resolve) => {
      if (this.stopped !== null) {
        resolve();
        return;
      }
      this.worker.ref();
      this.worker.once('exit', () => resolve());
      this.worker.postMessage({ kind: 'close' });
    });
    return this.closing;
  }
}
