import { rmSync } from 'node:fs';

import { DEFAULT_CLASSIFIER_OPTIONS } from './classifierOptions';
import { buildFlowsDb, MODEL, type FlowsDb } from './flowsDb';
import type { ListenAddress } from '../../../src/serve/listen';
import { startServer, type SensorServer, type ServeOptions } from '../../../src/serve/server';

/**
 * `sensor serve`'s options for a test: a loopback port the kernel picks, no token, and the bundled model (MODEL) with
 * the classifier settings `sensor serve` uses by default; `dbPath` null serves no database.
 */
export function testServeOptions(dbPath: string | null, logger: ServeOptions['logger']): ServeOptions & { listen: ListenAddress } {
  return {
    listen: { host: '127.0.0.1', port: 0, loopback: true },
    dbPath,
    classify: { ...DEFAULT_CLASSIFIER_OPTIONS, modelPath: MODEL },
    token: null,
    logger,
  };
}

/** A database built by buildFlowsDb() and a server over it (testServeOptions()). */
export interface ServedFlowsDb {
  fx: FlowsDb;
  server: SensorServer;
}

/** Builds a database in a new directory named from `prefix` and serves it; the directory is removed if serving fails. */
export async function serveFlowsDb(prefix: string, logger: ServeOptions['logger']): Promise<ServedFlowsDb> {
  const fx = await buildFlowsDb(prefix);
  try {
    return { fx, server: await startServer(testServeOptions(fx.db, logger)) };
  } catch (e) {
    rmSync(fx.dir, { recursive: true, force: true });
    throw e;
  }
}

/** Closes the server and removes the database's directory; nothing when serveFlowsDb() did not get that far. */
export async function closeServedFlowsDb(served: ServedFlowsDb | undefined): Promise<void> {
  if (served === undefined) return;
  await served.server.close();
  rmSync(served.fx.dir, { recursive: true, force: true });
}
