import { existsSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'winston';
import { liveOptionsOf } from '../capture/liveOptions';
import { openLive } from '../capture/liveSource';
import { Classifier, inferenceLatencyHistogram, loadModelInfo } from '../classify/classifier';
import type { SensorConfig } from '../config/config';
import { Pseudonymizer } from '../flow/pseudonymizer';
import { GuardedSink } from '../pipeline/flowSink';
import { openMonitor } from '../monitor/openMonitor';
import { loadAnomalyModelInfo } from '../anomaly/anomalyModel';
import type { FlowScorer } from '../anomaly/scorerThread';
import { guardSinks, loadHostGroups, openClassifier, openRun, openScorer, QuietSinkError } from '../pipeline/open';
import { Pipeline } from '../pipeline/pipeline';
import { JsonlSink } from '../sink/jsonlSink';
import { type MetricsServer, type MetricsSources, sensorMetrics, startMetricsServer } from './metrics';
import { serveClassifierOptions, startConfiguredServer } from '../serve/run';
import type { SensorServer } from '../serve/server';
import { buildStats, CaptureCounters, StatsReport } from './statsReport';

/** Wall-clock timer period: idle/grace timers advance even when no packet arrives (SPEC.md, live mode). */
const TICK_MS = 1000;
/**
 * Exit code when the capture failed while running (interface gone) or flows could no longer be written (disk
 * full): systemd's Restart=on-failure restarts the unit.
 */
const EXIT_FAILED = 1;
/** Linux lists every network device under /sys/class/net; elsewhere (or for the `any` pseudo-device) we cannot tell. */
const SYS_NET = '/sys/class/net';

function interfaceGone(iface: string): boolean {
  return iface !== 'any' && existsSync(SYS_NET) && !existsSync(`${SYS_NET}/${iface}`);
}

/**
 * How long the shutdown flush may classify flows; flows ended after that are written with label `unclassified`.
 * The unit's TimeoutStopSec (systemd/sensor@.service) leaves room for this plus writing a full table
 * (README "Reliability" has the measured stop times).
 */
const SHUTDOWN_CLASSIFY_MS = 10_000;

/**
 * How long the shutdown flush makes a record of every flow; after that, flows without payload (a flood's half-open
 * connections) end without one (counted in flows_shed_at_stop), so that the flows worth keeping are written before
 * the stop timeout.
 */
const SHUTDOWN_SHED_AFTER_MS = 5_000;

/**
 * The shutdown flush's last resort: after this, every flow still open ends without a record (counted in
 * flows_shed_at_stop), so that the stop ends inside the unit's TimeoutStopSec=90 with the loss counted, instead of
 * being killed with the records in flight. Writing a full table of flows with payload can take longer than this on
 * a busy 2-core host (README "Reliability" has the measured stops).
 */
const SHUTDOWN_DROP_AFTER_MS = 60_000;

/**
 * Live mode's database shedding (counted in the stats as db_rows_shed). With more than one CPU the database has its
 * own thread and records of flows without payload are shed only while it is far behind (SqliteThreadSink
 * LIVE_SHED_QUEUED_ROWS); on one CPU writes share the capture thread, and they are shed while writing takes more
 * than this share of the wall time, so that a flood of SYNs cannot starve capture into dropping the packets of every
 * flow.
 */
const DB_SHED_ABOVE = 0.5;

/** Rows deleted per retention step; small so that one step never holds the write lock for long. */
const RETENTION_BATCH_ROWS = 2000;

/**
 * `sensor --interface IF`: captures until SIGTERM/SIGINT, then flushes every open flow (end_reason shutdown),
 * finishes inference, commits and returns 0. SIGHUP reloads the config and the model; a model that fails its
 * contract check is refused and the running one stays.
 */
export async function runLive(cfg: SensorConfig, log: Logger, reload: () => Promise<SensorConfig>, version = ''): Promise<number> {
  const iface = cfg.capture.interface!;
  // One inference histogram for the whole run: a reloaded model's batches go on counting in the same series.
  const inferenceLatency = inferenceLatencyHistogram();
  const outputs = await openRun(cfg, log, { shedAbove: DB_SHED_ABOVE }, inferenceLatency);
  let classifier = outputs.classifier;
  const length = classifier !== null ? classifier.modelInfo.sequenceLength : 30;
  const opened = outputs.opened;
  let scorer = outputs.scorer;
  const { db, clickhouse } = opened;
  const hosts = opened.hosts;

  // Whatever ends the run (a signal, a capture or write failure) resolves `stopRequested`; the first one wins.
  let requestStop: (why: string) => void = () => {};
  const stopRequested = new Promise<string>((resolve) => (requestStop = resolve));
  const sinks = guardSinks(opened.all, (e) => {
    if (!(e instanceof QuietSinkError)) log.error(`${e.message}; stopping: free space or fix the output, then restart the sensor`);
    requestStop('write-error');
  });
  // The model monitor (README "Watching the model") and, with monitor.groundTruth, the handshake labeller. It goes
  // first, so that it closes (writing its last window) before the database does; a failure of its own is logged and
  // neither stops capture nor counts flow records as unwritten.
  const { monitor, inspector } = openMonitor(cfg, classifier, db !== null ? () => db.localDb() : null, log);
  const monitorSinks = monitor !== null ? [new GuardedSink(monitor, (e) => log.error(`model monitor: ${e.message}`))] : [];
  const pseudonymizer = cfg.privacy.pseudonymizeKey !== null ? new Pseudonymizer(cfg.privacy.pseudonymizeKey) : null;
  const pipeline = new Pipeline(
    { ...cfg.flow, source: iface, length },
    classifier,
    [...monitorSinks, ...sinks],
    pseudonymizer,
    { sensor: cfg.sensor.name, live: true },
    inspector,
    scorer,
  );
  const source = openLive(liveOptionsOf(iface, cfg.capture));
  const started = Date.now();
  const captureCounters = (): CaptureCounters => source.stats();
  // A record counts once however many sinks missed it (the same batches go to every sink).
  const unwritten = (): number => sinks.reduce((n, s) => Math.max(n, s.lost), 0);
  const stats = async (): Promise<StatsReport> => {
    const s = await buildStats(started, pipeline, captureCounters(), classifier, db, unwritten(), clickhouse, scorer, hosts);
    if (monitor !== null) s.monitor = monitor.report();
    return s;
  };

  // Before capture starts: a port in use then fails the start-up with one line (exit 2), and nothing is left
  // running that would keep the process alive.
  let metrics: MetricsServer | null = null;
  const metricsSources: MetricsSources = {
    stats,
    iface,
    histograms: [...(classifier !== null ? [inferenceLatency] : []), ...(db !== null ? [db.latency] : [])],
    classifying: classifier !== null,
    clickhouse: clickhouse !== null,
    info: { version, sensor: cfg.sensor.name, modelVersion: () => classifier?.modelInfo.version ?? null },
    more: monitor !== null ? monitor.exported : [],
  };
  if (cfg.stats.prometheusPort !== null) {
    try {
      metrics = await startMetricsServer(cfg.stats.prometheusHost, cfg.stats.prometheusPort, metricsSources);
    } catch (e) {
      source.stop();
      await pipeline.close();
      if (classifier !== null) await classifier.close();
      if (scorer !== null) await scorer.close();
      throw e;
    }
    log.info('prometheus endpoint listening', { url: metrics.url });
  }
  // The HTTP API and web view (--serve): its /metrics carries the same numbers as the Prometheus endpoint.
  let server: SensorServer | null = null;
  if (cfg.serve.listen !== null) {
    const own = sensorMetrics(metricsSources);
    try {
      server = await startConfiguredServer(cfg, log, () => own.text());
    } catch (e) {
      source.stop();
      await pipeline.close();
      if (classifier !== null) await classifier.close();
      if (scorer !== null) await scorer.close();
      if (metrics !== null) await metrics.close();
      throw e;
    }
  }
  // A capture that fails while running (interface removed) ends the run like a stop, with a non-zero exit so
  // systemd's Restart=on-failure brings the service back; open flows are still flushed and written.
  let captureFailed = false;
  const onCaptureError = (e: Error): void => {
    if (captureFailed) return;
    captureFailed = true;
    log.error(e.message, { interface: iface });
    requestStop('capture-error');
  };
  source.start(pipeline.onFrame, onCaptureError, pipeline.fastPath);
  if (source.warning) log.warn(source.warning);
  log.info('capture started', { interface: iface, engine: source.engine, link_type: source.linkType, filter: cfg.capture.filter, snaplen: cfg.capture.snaplen });

  // One timer step at a time: a step that ends many flows waits for their records (bounded queues), and the
  // next tick must not start a second sweep beside it.
  let ticking: Promise<void> | null = null;
  const tick = setInterval(() => {
    // A deleted interface first looks like a link going down (which a mirror port survives), and the packet
    // socket may then report nothing more: check that the device still exists, once per tick.
    if (interfaceGone(iface)) onCaptureError(new Error(`Capture on ${iface} stopped: the interface no longer exists`));
    if (monitor !== null) monitor.tick(Date.now() / 1000);
    if (ticking !== null) return;
    // Profile windows close on the wall clock too, so a quiet network still gets its hours closed and grouped.
    if (hosts !== null) {
      try {
        hosts.advance(Date.now() / 1000);
      } catch (e) {
        log.error(`host profiles could not be written: ${(e as Error).message}; stopping`);
        requestStop('write-error');
      }
    }
    ticking = pipeline
      .tick(Date.now() / 1000)
      .catch((e: Error) => {
        log.error(`flow processing failed: ${e.message}; stopping`);
        requestStop('internal-error');
      })
      .finally(() => (ticking = null));
  }, TICK_MS);

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
    if (cfg.stats.intervalSeconds > 0) {
      statsTimer = setInterval(() => void stats().then((s) => log.info('stats', s)), cfg.stats.intervalSeconds * 1000);
    }
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
      if (next.anomaly.enabled) await loadAnomalyModelInfo(next.anomaly.model);
      if (next.hosts.enabled) loadHostGroups(next);
    } catch (e) {
      log.error(`reload refused, keeping the running config and model: ${(e as Error).message}`);
      return;
    }
    try {
      // Turning classification on or off changes what the running pipeline is: that waits for a restart.
      const fresh = next.classify.enabled && classifier !== null ? await openClassifier(next, log, inferenceLatency) : null;
      if (fresh !== null) {
        const old = await pipeline.swapClassifier(fresh);
        classifier = fresh;
        if (monitor !== null) monitor.setModel(fresh.modelInfo);
        cfg.classify = next.classify;
        if (old !== null) await old.close();
        // The API classifies with the model the sensor runs.
        if (server !== null && server.classify !== null) {
          await server.classify.reload(serveClassifierOptions(next.classify, log)).catch((e: Error) =>
            log.error(`reload: the HTTP API keeps its previous model: ${e.message}`),
          );
        }
      }
      const freshScorer = next.anomaly.enabled && scorer !== null ? await openScorer(next, log) : null;
      if (freshScorer !== null) {
        const old = await pipeline.swapScorer(freshScorer);
        scorer = freshScorer;
        cfg.anomaly = next.anomaly;
        if (old !== null) await old.close();
      }
      if (hosts !== null && next.hosts.enabled) {
        hosts.setGroups(loadHostGroups(next));
        cfg.hosts = { ...cfg.hosts, groups: next.hosts.groups };
      }
      // The log level applies at once (turning debug on for a while is what a reload is often for).
      log.level = next.log.level;
      cfg.log = { ...cfg.log, level: next.log.level };
      const waiting = restartOnlyChanges(cfg, next);
      cfg.retention = next.retention;
      cfg.stats = { ...next.stats, prometheusPort: cfg.stats.prometheusPort, prometheusHost: cfg.stats.prometheusHost };
      startTimers();
      if (waiting.length > 0) log.warn(`reload: ${waiting.join(', ')} changed; the running capture keeps the old values until the sensor is restarted (systemctl restart)`);
      const running = classifier?.modelInfo ?? null;
      log.info('reloaded', {
        model: running?.path ?? null,
        version: running?.version ?? null,
        anomaly_model: scorer?.modelInfo.path ?? null,
        anomaly_version: scorer?.modelInfo.version ?? null,
        host_groups: cfg.hosts.enabled ? cfg.hosts.groups : null,
      });
    } catch (e) {
      log.error(`reload refused, keeping the running config and model: ${(e as Error).message}`);
    }
  };
  // One reload at a time: a second SIGHUP waits for the first, so two classifiers never race to be swapped in.
  let reloading: Promise<void> = Promise.resolve();
  let stopping = false;
  // The listener stays until exit: without one, a SIGHUP during the shutdown flush would kill the process.
  // logrotate's postrotate sends SIGHUP too: JSON-lines files are reopened at their path, so new records go to a
  // fresh file instead of following the moved one.
  const reopenOutputs = async (): Promise<void> => {
    for (const s of opened.all) {
      if (!(s instanceof JsonlSink)) continue;
      try {
        await s.reopen();
      } catch (e) {
        log.error(`cannot reopen ${s.path}: ${(e as Error).message}`);
      }
    }
  };
  const onHup = (): void => {
    if (stopping) log.warn('SIGHUP ignored: the sensor is stopping');
    else {
      // A ClickHouse output stopped by a refusal tries again (the table may have been fixed meanwhile).
      clickhouse?.resume();
      reloading = reloading.then(reopenOutputs).then(reloadOnce);
    }
  };
  process.on('SIGHUP', onHup);

  process.once('SIGTERM', () => requestStop('SIGTERM'));
  process.once('SIGINT', () => requestStop('SIGINT'));
  const signal = await stopRequested;
  const stopStarted = performance.now();
  log.info('stopping', { signal, flows_active: pipeline.table.size });
  source.stop();
  clearInterval(tick);
  // A timer step in flight finishes first: the shutdown flush must not run beside it.
  if (ticking !== null) await ticking;
  stopTimers();
  stopping = true;
  // A reload in flight finishes first, so the flush below goes to the classifier that stays.
  await reloading;
  stopTimers();
  const skippedBefore = pipeline.skippedInference;
  const cpuBefore = process.cpuUsage();
  await pipeline.flush('shutdown', {
    classifyUntil: stopStarted + SHUTDOWN_CLASSIFY_MS,
    shedAfter: stopStarted + SHUTDOWN_SHED_AFTER_MS,
    dropAfter: stopStarted + SHUTDOWN_DROP_AFTER_MS,
  });
  const stopCpu = process.cpuUsage(cpuBefore);
  const shedAtStop = pipeline.table.stats.shed;
  if (shedAtStop > 0) {
    log.error(
      `${shedAtStop} flows were ended without a record to stop in time (flows without payload after ${SHUTDOWN_SHED_AFTER_MS / 1000} s, ` +
        `all after ${SHUTDOWN_DROP_AFTER_MS / 1000} s; the unit's TimeoutStopSec would have killed the flush)`,
    );
  }
  const unclassified = pipeline.skippedInference - skippedBefore;
  if (unclassified > 0) {
    log.warn(
      `${unclassified} flows were written with label 'unclassified': classifying the shutdown flush would have outlasted ${SHUTDOWN_CLASSIFY_MS / 1000} s`,
    );
  }
  await pipeline.close();
  // The fast path's share of the live packets and why it handed records back (--log-level debug; round perf39).
  if (pipeline.fastPath !== null) log.debug('fast path', { ...pipeline.fastPath.summary() });
  // After close: the ClickHouse output has then sent or spooled its last batch, and the line says which.
  const final = await stats();
  if (classifier !== null) await (classifier as Classifier).close();
  if (scorer !== null) await (scorer as FlowScorer).close();
  if (metrics !== null) await metrics.close();
  if (server !== null) await server.close();
  if (final.flows_unwritten > 0) log.error(`${final.flows_unwritten} flow records could not be written (see the first error above)`);
  log.info('stopped', { ...final, stop_seconds: Math.round(performance.now() - stopStarted) / 1000, flows_unclassified_at_stop: unclassified, flows_shed_at_stop: shedAtStop, stop_cpu_seconds: Math.round((stopCpu.user + stopCpu.system) / 1e3) / 1e3 });
  await new Promise<void>((res) => log.on('finish', res).end());
  return signal === 'SIGTERM' || signal === 'SIGINT' ? 0 : EXIT_FAILED;
}

/** Sections whose values the running capture, flow table and sinks were built with. */
const RESTART_ONLY = ['sensor', 'capture', 'flow', 'output', 'log', 'privacy', 'serve', 'monitor'] as const;
/** Host-profile settings the running profiler was built with (hosts.groups reloads). */
const HOSTS_RESTART_ONLY = ['enabled', 'windowSeconds', 'maxHosts', 'longFlowSeconds', 'lateSeconds'];

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
  diff('anomaly', running.anomaly, next.anomaly, ['enabled']);
  diff('hosts', running.hosts, next.hosts, HOSTS_RESTART_ONLY);
  return changed;
}
