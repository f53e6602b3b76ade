/**
 * The model's side of an InferenceThread, in a worker thread: onnxruntime-node runs a session synchronously on the
 * thread that calls it, so inference on the capture thread stalls reading, decoding and the flow table for as long
 * as each batch takes. Here it runs beside them.
 *
 * The worker loads and checks the model (InlineRunner: the same contract as on the capture thread), answers
 * `ready` with what the main thread needs, then runs batches in the order they arrive. Each batch travels in one
 * transferred ArrayBuffer that holds the input rows and room for the output rows (the Classifier owns a small pool
 * of them), so nothing is copied through the message channel and nothing is allocated per batch.
 */
// First, so that the modules below load through the code cache.
import '../startup/installCodeCache';

import { parentPort, workerData } from 'node:worker_threads';

import type { Device } from './deviceSession';
import type { ModelInfo } from './modelContract';
import { InlineRunner } from './modelRunner';
import { loadInWorker, type WorkerLog, type WorkerRefused } from './modelWorker';

export interface InferenceWorkerData {
  modelPath: string;
  device: Device;
  intraOpThreads: number | undefined;
}

/** A batch: see ModelRunner.run(). */
export interface RunRequest {
  kind: 'run';
  id: number;
  rows: number;
  buf: ArrayBuffer;
  outAt: number;
}

export type WorkerRequest = RunRequest | { kind: 'close' };

export type WorkerReply =
  | WorkerLog
  | { kind: 'ready'; info: ModelInfo; cudaError: string | null }
  | WorkerRefused
  /** `error`: one line when the run failed or its output broke the contract (the output rows are then garbage). */
  | { kind: 'done'; id: number; buf: ArrayBuffer; error: string | null };

const port = parentPort!;
const data = workerData as InferenceWorkerData;

function post(msg: WorkerReply, transfer?: ArrayBuffer[]): void {
  port.postMessage(msg, transfer);
}

async function main(): Promise<void> {
  const runner = await loadInWorker(port, (logger) => InlineRunner.open(data.modelPath, data.device, data.intraOpThreads, logger));
  if (runner === null) return;
  // Requests are answered strictly one after another, in arrival order.
  let queue: Promise<void> = Promise.resolve();
  port.on('message', (req: WorkerRequest) => {
    if (req.kind === 'close') {
      queue = queue.then(async () => {
        await runner.close();
        port.close();
      });
      return;
    }
    queue = queue.then(async () => {
      const r = await runner.run(req.buf, req.rows, req.outAt);
      post({ kind: 'done', id: req.id, buf: r.buf, error: r.error }, [r.buf]);
    });
  });
  post({ kind: 'ready', info: runner.info, cudaError: runner.cudaError });
}

void main();
