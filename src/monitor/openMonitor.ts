import type { Logger } from 'winston';
import type { Classifier } from '../classify/classifier';
import type { SensorConfig } from '../config/config';
import type { HandshakeInspector } from '../learn/handshakeInspector';
import type { SqliteDatabase } from '../sink/sqliteBinding';
import { Monitor } from './monitor';

/**
 * The monitor and, with monitor.groundTruth, the handshake labeller the pipeline needs for it: built once, the same
 * way for `sensor --pcap` and the daemon. Nothing is built when classification or the monitor is off. `db` gives the
 * database connection the monitor writes its windows through (called only when the monitor is built).
 */
export function openMonitor(
  cfg: SensorConfig,
  classifier: Classifier | null,
  db: (() => SqliteDatabase) | null,
  log: Logger,
): { monitor: Monitor | null; inspector: HandshakeInspector | null } {
  const m = cfg.monitor;
  if (classifier === null || !m.enabled) {
    if (m.groundTruth) log.warn('monitor.groundTruth needs classification and the monitor on: ground truth is not scored');
    return { monitor: null, inspector: null };
  }
  let inspector: HandshakeInspector | null = null;
  if (m.groundTruth) {
    // Loaded only for ground truth: the labeller and the learn mode's modules (tldts, csv-stringify) are a part of the
    // start-up of every run otherwise.
    /* eslint-disable @typescript-eslint/no-require-imports */
    const { HandshakeInspector } = require('../learn/handshakeInspector') as typeof import('../learn/handshakeInspector');
    const { Labeller } = require('../learn/labeller') as typeof import('../learn/labeller');
    const { LEARN_MIN_SNAPLEN } = require('../learn/learnRun') as typeof import('../learn/learnRun');
    const { DEFAULT_RULES, loadRules } = require('../learn/rules') as typeof import('../learn/rules');
    /* eslint-enable @typescript-eslint/no-require-imports */
    inspector = new HandshakeInspector(new Labeller(loadRules(m.rules ?? DEFAULT_RULES)));
    if (cfg.capture.interface !== null && cfg.capture.snaplen < LEARN_MIN_SNAPLEN) {
      log.warn(
        `monitor.groundTruth reads handshakes, which a snaplen of ${cfg.capture.snaplen} cuts: most flows will have no truth (set capture.snaplen to ${LEARN_MIN_SNAPLEN} or more)`,
      );
    }
  }
  const monitor = new Monitor(
    classifier.modelInfo,
    { groundTruth: m.groundTruth, windowSeconds: m.windowSeconds, minFlows: m.minFlows, driftThreshold: m.driftThreshold, unknownSurge: m.unknownSurge },
    db !== null ? db() : null,
    log,
  );
  return { monitor, inspector };
}
