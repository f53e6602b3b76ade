import type { ClassifierOptions } from '../../../src/classify/classifier';
import { classifierOptions } from '../../../src/classify/fromConfig';
import { defaultConfig } from '../../../src/config/config';
import { SERVE_BATCH_DEADLINE_MS, SERVE_BATCH_SIZE } from '../../../src/serve/run';

/** The classifier settings `sensor serve` uses with the default config (the bundled model, its rules). */
export const DEFAULT_CLASSIFIER_OPTIONS: ClassifierOptions = {
  ...classifierOptions(defaultConfig().classify, { warn() {}, info() {} }),
  batchDeadlineMs: SERVE_BATCH_DEADLINE_MS,
  batchSize: SERVE_BATCH_SIZE,
};
