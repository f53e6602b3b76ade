/**
 * The anomaly model's side of a ScorerThread, in a worker thread: an AnomalyScorer runs here exactly as it would on
 * the capture thread (the same context counters over the flows in the same order, the same features, the same
 * onnxruntime session options), so the scores are the same; what the capture thread no longer does is the context
 * lookups, the features and the inference. Batches arrive packed (recordPack.ts); each request is answered, in
 * order, with one number triple per flow it released.
 */
// First, so that the modules below load through the code cache.
import '../startup/installCodeCache';

import { parentPort, workerData } from 'node:worker_threads';

import { loadInWorker, type WorkerLog, type WorkerRefused } from '../classify/modelWorker';
import { unpackBatch, type PackedBatch } from '../sink/recordPack';
import { AnomalyScorer, type ScorerOptions } from './scorer';
import type { AnomalyModelInfo } from './anomalyModel';

export type ScorerWorkerData = Omit<ScorerOptions, 'logger'>;

export type ScorerRequest = { kind: 'score'; batch: PackedBatch } | { kind: 'flush' } | { kind: 'advance'; now: number } | { kind: 'close' };

export type ScorerReply =
  | WorkerLog
  | { kind: 'ready'; info: AnomalyModelInfo; threshold: number; fpr: number }
  | WorkerRefused
  /**
   * One per `score`, `flush` and `advance` request, in order: the flows it released (n, the oldest of those sent
   * and not yet answered: a model with a context hold keeps flows back), per flow 1/0 (scored or not: the inference
   * failed), the score and 1/0 (above the threshold); and the scorer's counters so far.
   */
  | { kind: 'scored'; n: number; out: Float64Array; stats: AnomalyScorer['stats'] }
  | { kind: 'closed'; error: string | null };

const port = parentPort!;
const opts = workerData as ScorerWorkerData;

function post(msg: ScorerReply, transfer?: ArrayBuffer[]): void {
  port.postMessage(msg, transfer);
}

async function main(): Promise<void> {
  const scorer = await loadInWorker(port, (logger) => AnomalyScorer.load({ ...opts, logger }));
  if (scorer === null) return;
  scorer.onResult = (batch) => {
    const out = new Float64Array(3 * batch.length);
    for (let i = 0; i < batch.length; i++) {
      const a = batch[i]!.anomaly ?? null;
      if (a === null) continue;
      out[3 * i] = 1;
      out[3 * i + 1] = a.score;
      out[3 * i + 2] = a.anomaly ? 1 : 0;
    }
    post({ kind: 'scored', n: batch.length, out, stats: { ...scorer.stats } }, [out.buffer as ArrayBuffer]);
  };
  port.on('message', (req: ScorerRequest) => {
    if (req.kind === 'score') {
      scorer.submit(unpackBatch(req.batch));
      return;
    }
    if (req.kind === 'flush') {
      scorer.flush();
      return;
    }
    if (req.kind === 'advance') {
      // Answered even when nothing moved: the capture thread counts one reply per request.
      if (!scorer.advance(req.now)) post({ kind: 'scored', n: 0, out: new Float64Array(0), stats: { ...scorer.stats } });
      return;
    }
    void scorer.close().then(
      () => post({ kind: 'closed', error: null }),
      (e: unknown) => post({ kind: 'closed', error: e instanceof Error ? e.message : String(e) }),
    ).finally(() => port.close());
  });
  post({ kind: 'ready', info: scorer.modelInfo, threshold: scorer.threshold, fpr: scorer.fpr });
}

void main();
