import type { Logger } from 'winston';
import { statSync } from 'node:fs';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { FileSource, STDIN_PATH } from '../capture/fileSource';
import { listCaptures } from '../capture/listCaptures';
import { ConfigError, SensorConfig } from '../config/config';
import { DAMAGE_ANOMALIES } from '../decode/anomalies';
import { Pseudonymizer } from '../flow/pseudonymizer';
import { GuardedSink } from '../pipeline/flowSink';
import type { FlowScorer } from '../anomaly/scorerThread';
import type { HostStats } from '../hosts/hostProfiles';
import { guardSinks, openRun, QuietSinkError } from '../pipeline/open';
import { Pipeline } from '../pipeline/pipeline';
import { openMonitor } from '../monitor/openMonitor';
import type { MonitorReport } from '../monitor/monitor';
import { RunSummary } from './runSummary';

/** Seconds between progress-line updates on a terminal. */
const PROGRESS_EVERY_MS = 500;

/** Exit code of a run with damaged input or records that could not be written (README "Exit codes"). */
const EXIT_INCOMPLETE = 1;

/** Summary of an offline run, logged at the end and returned for tests. */
export interface OfflineSummary {
  files: number;
  damaged_files: number;
  frames: number;
  bytes: number;
  tcp_packets: number;
  /** Flow records written to every output. */
  flows: number;
  /** Flow records an output failed to write (disk full): the run stops at the first failure. */
  flows_unwritten: number;
  seconds: number;
  anomalies: Record<string, number>;
  ended: Record<string, number>;
  /** SIGINT / SIGTERM / write-error when the run stopped before the end of its input, else null. */
  stopped_by: string | null;
  /** Highest resident memory of the process during the run (README "Reliability" states the bound). */
  peak_rss_bytes: number;
  /** The model monitor's figures (null when it did not run). */
  monitor: MonitorReport | null;
  /** Flows the anomaly model flagged (null when it is off). */
  anomalous_flows: number | null;
  /** Host profile counters (null without host profiles). */
  hosts: HostStats | null;
  /**
   * The classifier's counters (null when classification is off): inference batches, flows answered, batches that
   * failed, and flows answered from the verdict memo without inference (classify.verdictCache).
   */
  inference: { batches: number; flows: number; errors: number; reused: number } | null;
}

/** Whether flow records go to stdout (`--jsonl -`, or no output at all): then stdout is not free. */
export function recordsOnStdout(cfg: SensorConfig): boolean {
  return cfg.output.jsonl === '-' || (cfg.output.db === null && cfg.output.jsonl === null && cfg.output.clickhouse === null);
}

/**
 * Whether every input is a regular file, which the run reads at its own pace: then inference batches close only when
 * full or at the end (openClassifier's `offline`), so the records do not depend on the machine's load. Standard input
 * and FIFOs (`tcpdump -w - | sensor --pcap -`) may be live, and keep classify.batchDeadlineMs.
 */
function allRegularFiles(files: string[]): boolean {
  return files.every((f) => {
    if (f === STDIN_PATH) return false;
    try {
      return statSync(f).isFile();
    } catch {
      return false;
    }
  });
}

/**
 * `sensor --pcap ...`: reads every capture, writes every flow, returns the exit code (0 clean, 1 damaged input
 * or records not written). Each file is its own capture (flows end `eof` at its end) unless capture.rotated is
 * set. SIGINT/SIGTERM stop reading at once (within a window of records), and every open flow is then written
 * with end_reason `shutdown`, as in live mode; a failed write (disk full) stops the run the same way.
 */
export async function runOffline(
  cfg: SensorConfig,
  log: Logger,
  progress: boolean,
  opts: { summary?: boolean } = {},
): Promise<{ code: number; summary: OfflineSummary }> {
  let files: string[];
  try {
    files = listCaptures(cfg.capture.pcap);
  } catch (e) {
    throw new ConfigError((e as Error).message);
  }
  let stopping: string | null = null;
  let closing = false;
  let source: FileSource | null = null;
  const requestStop = (why: string): void => {
    if (stopping === null) stopping = why;
    source?.stop();
  };
  // From the start: loading the models takes a while (seconds on a loaded machine), and a signal meanwhile stops
  // the run before its first file rather than killing the process. They stay until the outputs are closed: a signal
  // while they close (the last commit, the deferred indexes, the host profiles' last window) would otherwise find no
  // handler and kill the process with the close half done. Then there is nothing left to stop: the close finishes
  // and the run ends as it would have (a second signal still kills, as everywhere).
  const onSignal = (signal: string): void => {
    if (closing) log.info('signal while the outputs close; finishing the close first', { signal });
    else requestStop(signal);
  };
  const onSigint = (): void => onSignal('SIGINT');
  const onSigterm = (): void => onSignal('SIGTERM');
  process.once('SIGINT', onSigint);
  process.once('SIGTERM', onSigterm);
  const detach = (): void => {
    process.removeListener('SIGINT', onSigint);
    process.removeListener('SIGTERM', onSigterm);
  };
  let classifier;
  let opened;
  let scorer: FlowScorer | null;
  try {
    ({ classifier, opened, scorer } = await openRun(cfg, log, { bulk: true }, undefined, allRegularFiles(files)));
  } catch (e) {
    detach();
    throw e;
  }
  const length = classifier !== null ? classifier.modelInfo.sequenceLength : 30;
  const hosts = opened.hosts;
  const sinks = guardSinks(opened.all, (e) => {
    if (!(e instanceof QuietSinkError)) log.error(`${e.message}; stopping: free space or fix the output, then run again`);
    requestStop('write-error');
  });
  const pseudonymizer = cfg.privacy.pseudonymizeKey !== null ? new Pseudonymizer(cfg.privacy.pseudonymizeKey) : null;
  const clickhouse = opened.clickhouse;
  // The human summary table sees every record like the other sinks (counters only).
  const table = opts.summary === false ? null : new RunSummary();
  if (table !== null) sinks.push(new GuardedSink(table, () => undefined));
  // The model monitor (README "Watching the model") and, with monitor.groundTruth, the handshake labeller. It goes
  // first, so that it closes (writing its last window) before the database does; a failure of its own is logged and
  // does not stop the run or count flow records as unwritten.
  const db = opened.db;
  const { monitor, inspector } = openMonitor(cfg, classifier, db !== null ? () => db.localDb() : null, log);
  const monitorSinks = monitor !== null ? [new GuardedSink(monitor, (e) => log.error(`model monitor: ${e.message}`))] : [];
  const pipeline = new Pipeline(
    { ...cfg.flow, source: files[0] ?? '', length },
    classifier,
    [...monitorSinks, ...sinks],
    pseudonymizer,
    { sensor: cfg.sensor.name, live: false },
    inspector,
    scorer,
  );

  const started = process.hrtime.bigint();
  let frames = 0;
  let bytes = 0;
  let damaged = 0;
  let lastProgress = Date.now();
  try {
    for (const file of files) {
      if (stopping !== null) break;
      pipeline.table.setSource(file);
      const src = new FileSource(file);
      source = src;
      // Runs after every window of records: no promise unless there is something to wait for (Pipeline.settle).
      const between = (): Promise<void> | void => {
        if (progress && Date.now() - lastProgress >= PROGRESS_EVERY_MS) {
          lastProgress = Date.now();
          const secs = Number(process.hrtime.bigint() - started) / 1e9;
          const mb = (bytes + src.bytesRead) / 1e6;
          const share = src.size > 0 ? `${((100 * src.bytesRead) / src.size).toFixed(0)}%  ` : '';
          process.stderr.write(
            `\r${file}: ${share}packets ${pipeline.decoder.stats.frames}  flows ${pipeline.table.stats.flowsCreated}  ${(mb / secs).toFixed(0)} MB/s `,
          );
        }
        return pipeline.settle();
      };
      const result = await src.run(pipeline.onFrame, between, pipeline.fastPath);
      source = null;
      frames += result.frames;
      bytes += result.bytes;
      if (result.error !== null) {
        damaged++;
        log.error(result.error, { file, frames_read: result.frames });
      }
      if (!cfg.capture.rotated && stopping === null) await pipeline.flush('eof');
    }
    if (stopping !== null) log.info('stopping', { reason: stopping });
    await pipeline.flush(stopping !== null ? 'shutdown' : 'eof');
  } finally {
    closing = true;
    if (progress) process.stderr.write('\r\x1b[K');
    log.debug('closing the outputs', { stopped_by: stopping });
    try {
      await pipeline.close();
      if (classifier !== null) await classifier.close();
      if (scorer !== null) await scorer.close();
    } finally {
      // A signal that came while an output closed in one piece on this thread (SQLite without its thread) is read in
      // a poll phase of the event loop: let one pass (two check phases apart) before the handlers go, so that it meets
      // them rather than the signal's default action or, with --serve, the serving's "still serving" line.
      await yieldToEventLoop();
      await yieldToEventLoop();
      detach();
    }
  }

  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const anomalies: Record<string, number> = {};
  let damagedPackets = 0;
  for (const [k, v] of Object.entries(pipeline.anomalies)) {
    if (v > 0) anomalies[k] = v;
    if (v > 0 && DAMAGE_ANOMALIES.has(k as never)) damagedPackets += v;
  }
  // A record counts once however many outputs missed it (the same batches go to every output).
  const unwritten = sinks.reduce((n, s) => Math.max(n, s.lost), 0);
  const summary: OfflineSummary = {
    files: files.length,
    damaged_files: damaged,
    frames,
    bytes,
    tcp_packets: pipeline.table.stats.packets,
    flows: pipeline.written - unwritten,
    flows_unwritten: unwritten,
    seconds,
    anomalies,
    ended: { ...pipeline.table.stats.ended },
    stopped_by: stopping,
    peak_rss_bytes: process.resourceUsage().maxRSS * 1024,
    monitor: monitor?.report() ?? null,
    anomalous_flows: scorer !== null ? scorer.stats.anomalies : null,
    hosts: hosts !== null ? { ...hosts.stats } : null,
    inference: classifier !== null ? { ...classifier.stats } : null,
  };
  if (unwritten > 0) log.error(`${unwritten} flow records could not be written (see the first error above)`);
  // The offline fast path's share of the packets and why it handed records back (--log-level debug; src/fastpath/).
  if (pipeline.fastPath !== null) log.debug('fast path', { ...pipeline.fastPath.summary() });
  log.info('capture done', {
    ...summary,
    packets_per_second: Math.round(frames / Math.max(seconds, 1e-9)),
    damaged_packets: damagedPackets,
    ...(clickhouse !== null ? { clickhouse: clickhouse.stats() } : {}),
  });
  if (table !== null) {
    // On stdout when it is free; next to the log on stderr when the records themselves go to stdout.
    const text = table.render({ files: files.length, seconds, packets: frames });
    await new Promise<void>((resolve) => (recordsOnStdout(cfg) ? process.stderr : process.stdout).write(text, () => resolve()));
  }
  return { code: damaged > 0 || unwritten > 0 ? EXIT_INCOMPLETE : 0, summary };
}
