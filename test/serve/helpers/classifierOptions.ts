import type { ClassifierOptions } from '../../../src/classify/classifier';
import { defaultConfig } from '../../../src/config/config';
import { createLogger } from '../../../src/sink/log';
import { serveClassifierOptions } from '../../../src/serve/run';

/** The classifier settings `sensor serve` uses with the default config (the bundled model, its rules, its batching). */
export const DEFAULT_CLASSIFIER_OPTIONS: ClassifierOptions = serveClassifierOptions(
  defaultConfig().classify,
  createLogger({ level: 'error', format: 'json', stream: 'stderr' }),
);
