import type { Logger } from 'winston';

import type { ClassifierOptions } from '../classify/classifier';
import { classifierOptions } from '../classify/fromConfig';
import { ConfigError, type SensorConfig } from '../config/config';
import { FlowDb } from './flowDb';
import { parseListen, resolveToken } from './listen';
import { startServer, type SensorServer } from './server';

/**
 * How long a posted sequence waits for others to share its inference batch. Short: a lone request should not
 * pay the sensor's capture-side deadline (classify.batchDeadlineMs, 5 ms), while requests parsed in the same
 * turn of the event loop still share one call.
 */
export const SERVE_BATCH_DEADLINE_MS = 1;
/** Rows per inference call for the API: batches of 1,000 posted rows go in one call. */
export const SERVE_BATCH_SIZE = 1024;

function serveLogger(log: Logger): { info(m: string): void; warn(m: string): void; error(m: string): void } {
  return { info: (m) => log.info(m), warn: (m) => log.warn(m), error: (m) => log.error(m) };
}

/**
 * The sensor's classifier settings (model, rules, device) with the API's batching, and without the verdict memo: an
 * answer depends on the request alone (the same request twice gets the same scores, as `sensor eval --csv` gives
 * them), not on which sequences earlier requests left in the memo.
 */
export function serveClassifierOptions(c: SensorConfig['classify'], log: Logger): ClassifierOptions {
  return {
    ...classifierOptions(c, serveLogger(log)),
    batchDeadlineMs: Math.min(c.batchDeadlineMs, SERVE_BATCH_DEADLINE_MS),
    batchSize: Math.max(c.batchSize, SERVE_BATCH_SIZE),
    verdictCache: 0,
  };
}

/** Starts the HTTP API and web view as the config's `serve` section says (address, token); logs the URL. */
export async function startConfiguredServer(
  cfg: SensorConfig,
  log: Logger,
  extraMetrics?: () => Promise<string>,
): Promise<SensorServer> {
  if (cfg.serve.listen === null) throw new ConfigError('serve.listen is not set (give --listen HOST:PORT)');
  const addr = parseListen(cfg.serve.listen);
  const token = resolveToken(addr, cfg.serve.allowRemote, cfg.serve.tokenFile);
  const logger = serveLogger(log);
  const classify = cfg.classify.enabled ? serveClassifierOptions(cfg.classify, log) : null;
  const server = await startServer({ listen: addr, dbPath: cfg.output.db, classify, token, logger, ...(extraMetrics !== undefined ? { extraMetrics } : {}) });
  log.info('serving the HTTP API and web view', { url: server.url, db: cfg.output.db, token: token !== null, classify: classify !== null });
  return server;
}

/** Resolves with the name of the first SIGINT/SIGTERM. */
export function untilStopSignal(): Promise<string> {
  return new Promise((resolve) => {
    const on = (sig: string): void => {
      process.removeListener('SIGINT', on);
      process.removeListener('SIGTERM', on);
      resolve(sig);
    };
    process.once('SIGINT', on);
    process.once('SIGTERM', on);
  });
}

/** `sensor serve --db flows.db [--listen 127.0.0.1:8080]`: serves until SIGINT/SIGTERM; returns the exit code. */
export async function serveCommand(cfg: SensorConfig, log: Logger): Promise<number> {
  // A database that is not there (yet) is fine for a running sensor's --serve, not for a standalone server.
  if (cfg.output.db !== null) new FlowDb(cfg.output.db).close();
  const server = await startConfiguredServer(cfg, log);
  const signal = await untilStopSignal();
  log.info('stopping', { signal });
  await server.close();
  return 0;
}
