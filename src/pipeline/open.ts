import { existsSync, rmSync } from 'node:fs';
import type { Logger } from 'winston';
import { loadScorer, type FlowScorer } from '../anomaly/scorerThread';
import { Classifier } from '../classify/classifier';
import { classifierOptions } from '../classify/fromConfig';
import { ConfigError, NO_GROUPS, type SensorConfig } from '../config/config';
import { helperThread } from '../config/helperThreads';
import { loadGroupModel, type GroupModel } from '../hosts/behaviourGroups';
import { HostProfiles, type HostProfilesOptions } from '../hosts/hostProfiles';
import { HostProfilesThread, type HostProfilesView } from '../hosts/hostProfilesThread';
import type { LatencyHistogram } from '../metrics/latencyHistogram';
import type { ClickHouseSink } from '../sink/clickhouse/clickhouseSink';
import { JsonlSink } from '../sink/jsonlSink';
import { GROUP_COMMIT_MS, SqliteSink } from '../sink/sqliteSink';
import { SqliteThreadSink } from '../sink/sqliteThreadSink';
import { GuardedSink, type FlowSink } from './flowSink';

/** What the daemon asks of the database besides writes: its statistics and retention. */
export type DbSink = Pick<SqliteSink, 'latency' | 'shed' | 'rows' | 'deleteOlderThan' | 'trimToSize' | 'localDb'>;

/** The outputs of a run: every sink in write order, and those the caller asks for statistics and operations. */
export interface OpenedSinks {
  all: FlowSink[];
  db: DbSink | null;
  clickhouse: ClickHouseSink | null;
  /** The host profiles (on this thread or the database thread's), or null when off. */
  hosts: HostProfilesView | null;
}

/**
 * Opens the sinks the config asks for; with no output at all, JSON lines go to stdout. Where the process may use
 * more than one CPU, the database is written by its own thread (SqliteThreadSink), which then keeps the host profiles
 * too, else on this one (SqliteSink); `thread` overrides that choice (SENSOR_THREADS_OFF=database turns the default
 * off; openRun() passes the file-run rule's choice for a run over regular files). `bulk` (offline runs): a new database gets its secondary indexes at the end of the run instead of row by row.
 * `shedAbove` (live mode): the database sheds records of flows without payload while writing takes more than this
 * share of its thread's time (or, threaded, while it is far behind). Host profiles (hosts.enabled) go into the flows
 * database, and come right before it.
 */
export async function openSinks(
  cfg: SensorConfig,
  log: Logger,
  opts: { bulk?: boolean; shedAbove?: number; thread?: boolean } = {},
): Promise<OpenedSinks> {
  const all: FlowSink[] = [];
  let db: DbSink | null = null;
  let clickhouse: ClickHouseSink | null = null;
  let hosts: HostProfilesView | null = null;
  try {
    if (cfg.output.db !== null) {
      const dbOpts = {
        sensorName: cfg.sensor.name,
        groupMs: GROUP_COMMIT_MS,
        deferIndexes: opts.bulk === true,
        ...(opts.shedAbove !== undefined ? { shedAbove: opts.shedAbove } : {}),
      };
      // Host profiles go where the database is written: in its thread they update from the batches it writes and
      // write through its connection (written from this thread beside it, they failed with `database is locked`
      // behind the thread's back-to-back transactions of a flood, test/cli/flood.test.ts). The model monitor writes
      // once per window and keeps a connection of its own (localDb()).
      const threaded = opts.thread ?? helperThread('database');
      if (threaded) {
        const sink = await SqliteThreadSink.open(cfg.output.db, dbOpts, cfg.hosts.enabled ? hostOptions(cfg, log) : null);
        db = sink;
        hosts = sink.hosts;
        // Before the database in the list, as below: a failure of the profiles is reported as theirs (guardSinks).
        if (sink.hosts !== null) all.push(sink.hosts);
        all.push(sink);
      } else {
        const sink = new SqliteSink(cfg.output.db, dbOpts);
        db = sink;
        // Host profiles before the database in the list: sinks close in list order, and the profiles write their open
        // windows into the database as they close.
        if (cfg.hosts.enabled) {
          let profiles: HostProfiles;
          try {
            profiles = openHostProfiles(cfg, sink, log);
          } catch (e) {
            sink.close();
            throw e;
          }
          hosts = profiles;
          all.push(profiles);
        }
        all.push(sink);
      }
    }
    if (cfg.output.jsonl !== null) all.push(new JsonlSink(cfg.output.jsonl));
    const ch = cfg.output.clickhouse;
    if (ch !== null && ch.url.length > 0) {
      // Loaded only when configured: the ClickHouse client is a large part of the start-up time otherwise.
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { openClickHouseSink } = require('../sink/clickhouse/openClickHouseSink') as typeof import('../sink/clickhouse/openClickHouseSink');
      clickhouse = openClickHouseSink(cfg, ch, log.child({ component: 'clickhouse' }));
      all.push(clickhouse);
    }
  } catch (e) {
    // One output that cannot open: close the ones already open (a spool lock, a database thread) before failing.
    for (const s of all.reverse()) await Promise.resolve(s.close()).catch(() => undefined);
    throw e;
  }
  if (all.length === 0) all.push(new JsonlSink('-'));
  return { all, db, clickhouse, hosts };
}

/**
 * Loads the model the config names, or null when classification is off. `offline` (a run over regular capture
 * files): batches close only when full or at the end of the input, never on classify.batchDeadlineMs, so that the
 * records of a capture do not depend on the machine's load (a flow's scores depend on the flows that share its
 * batch); and inference gets its thread by the file-run rule (helperThread(), FILE_RUN_THREAD_CPUS).
 */
export async function openClassifier(
  cfg: SensorConfig,
  log: Logger,
  latency?: LatencyHistogram,
  offline = false,
): Promise<Classifier | null> {
  if (!cfg.classify.enabled) return null;
  const c = cfg.classify;
  const classifier = await Classifier.load({
    ...classifierOptions(c, { warn: (m) => log.warn(m), info: (m) => log.info(m) }),
    ...(offline ? { batchDeadlineMs: null, thread: helperThread('inference', process.env, true) } : {}),
    ...(latency !== undefined ? { latency } : {}),
  });
  const m = classifier.modelInfo;
  // One line, whatever the host: a CPU-only host is normal, so device 'auto' only notes that CUDA was not there.
  const cuda = c.device === 'auto' && classifier.cudaError !== null ? { cuda: 'not available' } : {};
  log.info('model loaded', { model: m.path, version: m.version, classes: m.classes.length, sequence_length: m.sequenceLength, device: m.device, ...cuda });
  if (classifier.cudaError !== null && c.device === 'auto') log.debug(`CUDA execution provider not loaded: ${classifier.cudaError}`);
  if (c.minPayloadPackets > m.sequenceLength) {
    await classifier.close();
    throw new ConfigError(
      `classify.minPayloadPackets (${c.minPayloadPackets}) is larger than the model's sequence length (${m.sequenceLength}): every flow would be labelled no-payload`,
    );
  }
  return classifier;
}

/** The behaviour groups the config names (hosts.groups), or null for "none". Throws ConfigError (one line). */
export function loadHostGroups(cfg: SensorConfig): GroupModel | null {
  if (cfg.hosts.groups === NO_GROUPS) return null;
  try {
    return loadGroupModel(cfg.hosts.groups);
  } catch (e) {
    throw new ConfigError(`hosts.groups: ${(e as Error).message}`);
  }
}

/**
 * Guards the opened sinks with `onFail` (one error line and a stop, by the caller), except that host profiles, which
 * write into the flows database, report a failure of their own with a `host profiles:` prefix and stay silent once
 * the database's own sink has failed (a full disk is then one error line, not two).
 */
export function guardSinks(opened: FlowSink[], onFail: (e: Error) => void): GuardedSink[] {
  let db: GuardedSink | null = null;
  return opened.map((s) => {
    const g =
      s instanceof HostProfiles || s instanceof HostProfilesThread
        ? new GuardedSink(s, (e) => onFail(db?.hasFailed === true ? new QuietSinkError(e.message) : new Error(`host profiles: ${e.message}`)))
        : new GuardedSink(s, onFail);
    if (s instanceof SqliteSink || s instanceof SqliteThreadSink) db = g;
    return g;
  });
}

/** A sink failure that follows from another already reported (the caller stops without a second line). */
export class QuietSinkError extends Error {
  override name = 'QuietSinkError';
}

/** Host profiles in the database of `db`, with the behaviour groups the config names; group changes are logged. */
export function openHostProfiles(cfg: SensorConfig, db: DbSink, log: Logger | null): HostProfiles {
  return new HostProfiles(db.localDb(), hostOptions(cfg, log));
}

/** The host profiles' settings from the config (the behaviour groups loaded: throws ConfigError, one line). */
export function hostOptions(cfg: SensorConfig, log: Logger | null): HostProfilesOptions {
  const h = cfg.hosts;
  return {
    sensor: cfg.sensor.name,
    windowSeconds: h.windowSeconds,
    maxHosts: h.maxHosts,
    longFlowSeconds: h.longFlowSeconds,
    lateSeconds: h.lateSeconds,
    groups: loadHostGroups(cfg),
    flushEveryMs: 10_000,
    onEvent: (e) => log?.info('host changed group', { ...e }),
  };
}

/**
 * Loads the anomaly model the config names, or null when anomaly scoring is off. With anomaly.thread, in
 * a worker thread where the process may use more than one CPU (loadScorer): its context lookups, features and
 * inference then leave the capture thread.
 */
export async function openScorer(cfg: SensorConfig, log: Logger): Promise<FlowScorer | null> {
  const scorer = await loadConfiguredScorer(cfg, log);
  if (scorer !== null) logScorerLoaded(scorer, log);
  return scorer;
}

/** openScorer() without its `anomaly model loaded` line. */
async function loadConfiguredScorer(cfg: SensorConfig, log: Logger): Promise<FlowScorer | null> {
  if (!cfg.anomaly.enabled) return null;
  const c = cfg.classify;
  return loadScorer({
    modelPath: cfg.anomaly.model,
    device: c.device,
    batchSize: c.batchSize,
    falsePositiveRate: cfg.anomaly.falsePositiveRate,
    // anomaly.thread: a worker thread where the process may use more than one CPU; off: this thread.
    ...(cfg.anomaly.thread ? {} : { thread: false }),
    ...(c.intraOpThreads !== null ? { intraOpThreads: c.intraOpThreads } : {}),
    logger: { warn: (m) => log.warn(m), info: (m) => log.debug(m) },
  });
}

function logScorerLoaded(scorer: FlowScorer, log: Logger): void {
  const m = scorer.modelInfo;
  log.info('anomaly model loaded', { model: m.path, version: m.version, false_positive_rate: scorer.fpr, threshold: scorer.threshold, device: m.device });
}

/**
 * The classifier, the outputs and the anomaly model of a run, opened at the same time: each of them starts a thread
 * (inference, database) or loads a model, and one after another they held the start of a run for their sum
 * (bench/HISTORY.md, round perf3). On a failure everything that did open is closed and the first failure in the order classifier,
 * outputs, anomaly model goes on (the order in which they were once opened, so a run with a bad model and a database
 * that cannot be opened still says the model's line). `offline`: see openClassifier.
 */
export async function openRun(
  cfg: SensorConfig,
  log: Logger,
  sinkOpts: Parameters<typeof openSinks>[2],
  latency?: LatencyHistogram,
  offline = false,
): Promise<{ classifier: Classifier | null; opened: OpenedSinks; scorer: FlowScorer | null }> {
  // Output files this run creates: opened beside the models, so a model that fails to load must not leave them behind.
  const created = [cfg.output.db, cfg.output.jsonl].filter((p): p is string => p !== null && p !== '-' && !existsSync(p));
  // Over regular files the database's thread follows the file-run rule too (helperThread(), FILE_RUN_THREAD_CPUS).
  const sinks = offline && sinkOpts?.thread === undefined ? { ...sinkOpts, thread: helperThread('database', process.env, true) } : sinkOpts;
  const [c, o, s] = await Promise.allSettled([openClassifier(cfg, log, latency, offline), openSinks(cfg, log, sinks), loadConfiguredScorer(cfg, log)]);
  if (c.status === 'fulfilled' && o.status === 'fulfilled' && s.status === 'fulfilled') {
    // Its line once the outputs opened, as when it was loaded after them: a database that cannot be opened is then
    // the one line after the classifier's.
    if (s.value !== null) logScorerLoaded(s.value, log);
    return { classifier: c.value, opened: o.value, scorer: s.value };
  }
  if (o.status === 'fulfilled') for (const sink of o.value.all) await Promise.resolve(sink.close()).catch(() => undefined);
  if (s.status === 'fulfilled' && s.value !== null) await s.value.close().catch(() => undefined);
  if (c.status === 'fulfilled' && c.value !== null) await c.value.close().catch(() => undefined);
  for (const p of created) for (const f of [p, `${p}-wal`, `${p}-shm`, `${p}-journal`]) rmSync(f, { force: true });
  throw c.status === 'rejected' ? c.reason : o.status === 'rejected' ? o.reason : (s as PromiseRejectedResult).reason;
}
