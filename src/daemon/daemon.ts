import type { Logger } from 'winston';
import { openLive } from '../capture/liveSource';
import { Classifier, loadModelInfo } from '../classify/classifier';
import type { SensorConfig } from '../config/config';
import { openClassifier, openSinks } from '../cli/offline';
import { SqliteSink } from '../sink/sqliteSink';
import { startMetricsServer } from './metrics';
import { Pipeline } from './pipeline';
import { buildStats, CaptureCounters, StatsReport } from './statsReport';

/** Wall-clock timer period: idle/grace timers advance even when no packet arrives (SPEC.md, live mode). */
const TICK_MS = 1000;
/** Exit code when the capture itself failed while running (interface gone): systemd restarts the unit. */
const EXIT_CAPTURE_FAILED = 1;
/** Rows deleted per retention step; small so that one step never holds the write lock for long. */
const RETENTION_BATCH_ROWS = 2000;

/**
 * `sensor --interface IF`: captures until SIGTERM/SIGINT, then flushes every open flow (end_reason shutdown),
 * finishes inference, commits and returns 0. SIGHUP reloads the config and the model; a model that fails its
 * contract check is refused and the running one stays.
 */
export async function runLive(cfg: SensorConfig, log: Logger, reload: () => Promise<SensorConfig>): Promise<number> {
  const iface = cfg.capture.interface!;
  let classifier = await openClassifier(cfg, log);
  const length = classifier !== null ? classifier.modelInfo.sequenceLength : 30;
  const sinks = openSinks(cfg);
  const db = sinks.find((s): s is SqliteSink => s instanceof SqliteSink) ?? null;
  const pipeline = new Pipeline({ ...cfg.flow, source: iface, length }, classifier, sinks);
  const source = openLive({
    interface: iface,
    engine: cfg.capture.engine,
    filter: cfg.capture.filter,
    snaplen: cfg.capture.snaplen,
    bufferSize: cfg.capture.bufferSize,
    promisc: cfg.capture.promisc,
    timeoutMs: cfg.capture.timeoutMs,
    fanoutGroup: cfg.capture.fanoutGroup,
  });
  const started = Date.now();
  const captureCounters = (): CaptureCounters => source.stats();
  const stats = (): StatsReport => buildStats(started, pipeline, captureCounters(), classifier, db);

  // A capture that fails while running (interface removed) ends the run like a stop, with a non-zero exit so
  // systemd's Restart=on-failure brings the service back; open flows are still flushed and written.
  let captureFailure: ((e: Error) => void) | null = null;
  source.start(pipeline.onFrame, (e: Error) => captureFailure?.(e));
  if (source.warning) log.warn(source.warning);
  log.info('capture started', { interface: iface, engine: source.engine, link_type: source.linkType, filter: cfg.capture.filter, snaplen: cfg.capture.snaplen });

  const tick = setInterval(() => {
    pipeline.table.advance(Date.now() / 1000);
    void pipeline.settle();
  }, TICK_MS);
  const statsTimer =
    cfg.stats.intervalSeconds > 0 ? setInterval(() => log.info('stats', stats()), cfg.stats.intervalSeconds * 1000) : null;
  const metrics = cfg.stats.prometheusPort !== null ? await startMetricsServer(cfg.stats.prometheusHost, cfg.stats.prometheusPort, stats) : null;
  if (metrics !== null) log.info('prometheus endpoint listening', { url: metrics.url });

  let retentionRunning = false;
  const retention = async (): Promise<void> => {
    if (db === null || retentionRunning) return;
    retentionRunning = true;
    try {
      const { maxAgeDays, maxBytes } = cfg.retention;
      let deleted = 0;
      // Both helpers delete RETENTION_BATCH_ROWS rows per transaction and yield to capture in between.
      if (maxAgeDays !== null) deleted += await db.deleteOlderThan(Date.now() / 1000 - maxAgeDays * 86400, RETENTION_BATCH_ROWS);
      if (maxBytes !== null) deleted += await db.trimToSize(maxBytes, RETENTION_BATCH_ROWS);
      if (deleted > 0) log.info('retention', { deleted_rows: deleted });
    } catch (e) {
      log.error(`retention failed: ${(e as Error).message}`);
    } finally {
      retentionRunning = false;
    }
  };
  const retentionTimer =
    cfg.retention.maxAgeDays !== null || cfg.retention.maxBytes !== null
      ? setInterval(() => void retention(), cfg.retention.intervalSeconds * 1000)
      : null;

  const onHup = (): void => {
    void (async () => {
      let next: SensorConfig;
      try {
        next = await reload();
        if (next.classify.enabled) await loadModelInfo(next.classify.model);
      } catch (e) {
        log.error(`reload refused, keeping the running config and model: ${(e as Error).message}`);
        return;
      }
      try {
        const fresh = next.classify.enabled ? await openClassifier(next, log) : null;
        if (fresh !== null) {
          const old = await pipeline.swapClassifier(fresh);
          classifier = fresh;
          if (old !== null) await old.close();
        }
        cfg.retention = next.retention;
        cfg.stats = next.stats;
        log.info('reloaded', { model: fresh?.modelInfo.path ?? null, version: fresh?.modelInfo.version ?? null });
      } catch (e) {
        log.error(`reload refused, keeping the running model: ${(e as Error).message}`);
      }
    })();
  };
  process.on('SIGHUP', onHup);

  const signal = await new Promise<string>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
    captureFailure = (e) => {
      log.error(e.message, { interface: iface });
      resolve('capture-error');
    };
  });
  log.info('stopping', { signal });
  source.stop();
  clearInterval(tick);
  if (statsTimer !== null) clearInterval(statsTimer);
  if (retentionTimer !== null) clearInterval(retentionTimer);
  process.removeListener('SIGHUP', onHup);
  await pipeline.flush('shutdown');
  const final = stats();
  await pipeline.close();
  if (classifier !== null) await (classifier as Classifier).close();
  if (metrics !== null) await metrics.close();
  log.info('stopped', final);
  await new Promise<void>((res) => log.on('finish', res).end());
  return signal === 'capture-error' ? EXIT_CAPTURE_FAILED : 0;
}
