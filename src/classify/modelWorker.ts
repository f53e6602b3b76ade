/**
 * The load handshake of a model that runs in a worker thread (the classifier's InferenceThread, the anomaly model's
 * ScorerThread): the worker loads and checks the model with a logger whose lines travel to the main thread, then
 * answers `ready` (with what the main thread needs) or `refused` (the load's one-line error), and the main thread
 * waits for that answer, turning a worker that fails or exits first into one line too.
 */
import type { MessagePort, Worker } from 'node:worker_threads';

import { ModelContractError } from './contractError';
import type { SessionLogger } from './deviceSession';

/** A log line of the worker, for the main thread's logger. */
export type WorkerLog = { kind: 'log'; level: 'warn' | 'info'; msg: string };
/** The worker could not load the model: the error's name (ModelContractError stays one) and its line. */
export type WorkerRefused = { kind: 'refused'; name: string; message: string };

/**
 * In the worker: runs `load` with a logger that posts its lines to the main thread. When it throws, posts `refused`,
 * closes the port and gives null (the worker then ends); else gives what it loaded.
 */
export async function loadInWorker<T>(port: MessagePort, load: (logger: SessionLogger) => Promise<T>): Promise<T | null> {
  const post = (msg: WorkerLog | WorkerRefused): void => port.postMessage(msg);
  try {
    return await load({
      warn: (msg) => post({ kind: 'log', level: 'warn', msg }),
      info: (msg) => post({ kind: 'log', level: 'info', msg }),
    });
  } catch (e) {
    const err = e instanceof Error ? e : new Error(String(e));
    post({ kind: 'refused', name: err.name, message: err.message });
    port.close();
    return null;
  }
}

/**
 * On the main thread: waits for the worker's answer to its load. Its log lines go to `logger`, during the load and
 * after it. Resolves with the `ready` message; rejects with the refusal, or with one ModelContractError line when
 * the worker fails or exits before answering. `model` names the model in those lines (`anomaly model X`), `thread`
 * the worker (`the scoring thread`).
 */
export function awaitWorkerReady<R extends { kind: string }>(
  worker: Worker,
  logger: SessionLogger,
  model: string,
  thread: string,
): Promise<Extract<R, { kind: 'ready' }>> {
  worker.on('message', (m: R | WorkerLog) => {
    if (m.kind !== 'log') return;
    const l = m as WorkerLog;
    if (l.level === 'warn') logger.warn(l.msg);
    else logger.info(l.msg);
  });
  return new Promise((resolve, reject) => {
    const done = (): void => {
      worker.off('message', onMessage);
      worker.off('error', onError);
      worker.off('exit', onExit);
    };
    const onMessage = (m: R | WorkerRefused): void => {
      if (m.kind === 'log') return;
      worker.off('message', onMessage);
      // Once ready, the thread's own handlers take over its failures; after a refusal these stay (a settled promise
      // ignores them), so that an 'error' of the ending worker is never unhandled.
      if (m.kind === 'ready') {
        done();
        resolve(m as Extract<R, { kind: 'ready' }>);
      } else if (m.kind === 'refused') {
        const r = m as WorkerRefused;
        reject(r.name === 'ModelContractError' ? new ModelContractError(r.message) : Object.assign(new Error(r.message), { name: r.name }));
      } else reject(new ModelContractError(`${model}: unexpected reply from its thread`));
    };
    const onError = (e: Error): void => {
      done();
      reject(new ModelContractError(`${model}: ${thread} failed while loading it: ${e.message.split('\n')[0]}`));
    };
    const onExit = (code: number): void => {
      done();
      reject(new ModelContractError(`${model}: ${thread} exited (code ${code}) while loading it`));
    };
    worker.on('message', onMessage);
    worker.on('error', onError);
    worker.on('exit', onExit);
  });
}
