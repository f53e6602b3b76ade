import type { Logger } from 'winston';
import { openLive } from '../capture/liveSource';
import { Classifier, loadModelInfo } from '../classify/classifier';
import type { SensorConfig } from '../config/config';
import { openClassifier, openSinks } from '../cli/offline';
import { SqliteSink } from '../sink/sqliteSink';
import { startMetricsServer } from './metrics';
import { Pseudonymizer } from '../flow/pseudonymizer';
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
  const pseudonymizer = cfg.privacy.pseudonymizeKey !== null ? new Pseudonymizer(cfg.privacy.pseudonymizeKey) : null;
  const pipeline = new Pipeline({ ...cfg.flow, source: iface, length }, classifier, sinks, pseudonymizer);
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

  // (Re)started from cfg at start and after each reload, so that a new interval, or retention configured only
  // in the reloaded file, takes effect without a restart.
  let statsTimer: NodeJS.Timeout | null = null;
  let retentionTimer: NodeJS.Timeout | null = null;
  const stopTimers = (): void => {
    if (statsTimer !== null) clearInterval(statsTimer);
    if (retentionTimer !== null) clearInterval(retentionTimer);
    statsTimer = retentionTimer = null;
  };
  const startTimers = (): void => {
    stopTimers();
    if (cfg.stats.intervalSeconds > 0) statsTimer = setInterval(() => log.info('stats', stats()), cfg.stats.intervalSeconds * 1000);
    if (cfg.retention.maxAgeDays !== null || cfg.retention.maxBytes !== null) {
      retentionTimer = setInterval(() => void retention(), cfg.retention.intervalSeconds * 1000);
    }
  };
  startTimers();

  const reloadOnce = async (): Promise<void> => {
    let next: SensorConfig;
    try {
      next = await reload();
      if (next.classify.enabled) await loadModelInfo(next.classify.model);
    } catch (e) {
      log.error(`reload refused, keeping the running config and model: ${(e as Error).message}`);
      return;
    }
    try {
      // Turning classification on or off changes what the running pipeline is: that waits for a restart.
      const fresh = next.classify.enabled && classifier !== null ? await openClassifier(next, log) : null;
      if (fresh !== null) {
        const old = await pipeline.swapClassifier(fresh);
        classifier = fresh;
        cfg.classify = next.classify;
        if (old !== null) await old.close();
      }
      const waiting = restartOnlyChanges(cfg, next);
      cfg.retention = next.retention;
      cfg.stats = { ...next.stats, prometheusPort: cfg.stats.prometheusPort, prometheusHost: cfg.stats.prometheusHost };
      startTimers();
      if (waiting.length > 0) log.warn(`reload: ${waiting.join(', ')} changed; the running capture keeps the old values until the sensor is restarted (systemctl restart)`);
      const running = classifier?.modelInfo ?? null;
      log.info('reloaded', { model: running?.path ?? null, version: running?.version ?? null });
    } catch (e) {
      log.error(`reload refused, keeping the running model: ${(e as Error).message}`);
    }
  };
  // One reload at a time: a second SIGHUP waits for the first, so two classifiers never race to be swapped in.
  let reloading: Promise<void> = Promise.resolve();
  let stopping = false;
  // The listener stays until exit: without one, a SIGHUP during the shutdown flush would kill the process.
  const onHup = (): void => {
    if (stopping) log.warn('SIGHUP ignored: the sensor is stopping');
    else reloading = reloading.then(reloadOnce);
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
  stopTimers();
  stopping = true;
  // A reload in flight finishes first, so the flush below goes to the classifier that stays.
  await reloading;
  stopTimers();
  await pipeline.flush('shutdown');
  const final = stats();
  await pipeline.close();
  if (classifier !== null) await (classifier as Classifier).close();
  if (metrics !== null) await metrics.close();
  log.info('stopped', final);
  await new Promise<void>((res) => log.on('finish', res).end());
  return signal === 'capture-error' ? EXIT_CAPTURE_FAILED : 0;
}

/** Sections whose values the running capture, flow table and sinks were built with. */
const RESTART_ONLY = ['capture', 'flow', 'output', 'log', 'privacy'] as const;

/**
 * Settings that differ between the running config and a reloaded one but only take effect at a restart, as
 * "section.key" names: everything in RESTART_ONLY, the Prometheus address, and switching classification on/off.
 */
function restartOnlyChanges(running: SensorConfig, next: SensorConfig): string[] {
  const changed: string[] = [];
  const diff = (section: string, a: Record<string, unknown>, b: Record<string, unknown>, keys: string[]): void => {
    for (const k of keys) if (JSON.stringify(a[k]) !== JSON.stringify(b[k])) changed.push(`${section}.${k}`);
  };
  for (const section of RESTART_ONLY) {
    const a = (running as unknown as Record<string, Record<string, unknown> | undefined>)[section];
    const b = (next as unknown as Record<string, Record<string, unknown> | undefined>)[section];
    if (a === undefined || b === undefined) continue;
    diff(section, a, b, Object.keys(a));
  }
  diff('stats', running.stats, next.stats, ['prometheusPort', 'prometheusHost']);
  diff('classify', running.classify, next.classify, ['enabled']);
  return changed;
}
