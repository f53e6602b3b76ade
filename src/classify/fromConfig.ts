import type { SensorConfig } from '../config/config';
import type { ClassifierOptions } from './classifier';
import type { SessionLogger } from './deviceSession';

/** The Classifier's options from the config's `classify` section: the sensor and `sensor serve` use the same ones. */
export function classifierOptions(c: SensorConfig['classify'], logger: SessionLogger): ClassifierOptions {
  return {
    modelPath: c.model,
    device: c.device,
    batchSize: c.batchSize,
    batchDeadlineMs: c.batchDeadlineMs,
    unknownThreshold: c.unknownThreshold,
    minPayloadPackets: c.minPayloadPackets,
    topK: c.topK,
    verdictCache: c.verdictCache,
    ...(c.intraOpThreads !== null ? { intraOpThreads: c.intraOpThreads } : {}),
    logger,
  };
}
