import type { Logger } from 'winston';
import { FileSource } from '../capture/fileSource';
import { listCaptures } from '../capture/listCaptures';
import { Classifier } from '../classify/classifier';
import { classifierOptions } from '../classify/fromConfig';
import { ConfigError, SensorConfig } from '../config/config';
import { DAMAGE_ANOMALIES } from '../decode/anomalies';
import { FlowSink, Pipeline } from '../daemon/pipeline';
import { Pseudonymizer } from '../flow/pseudonymizer';
import { ClickHouseSink } from '../sink/clickhouse/clickhouseSink';
import { openClickHouseSink } from '../sink/clickhouse/openClickHouseSink';
import { JsonlSink } from '../sink/jsonlSink';
import { SqliteSink } from '../sink/sqliteSink';
import type { LatencyHistogram } from '../metrics/latencyHistogram';
import { RunSummary } from './runSummary';

/** Seconds between progress-line updates on a terminal. */
const PROGRESS_EVERY_MS = 500;

/** Summary of an offline run, logged at the end and returned for tests. */
export interface OfflineSummary {
  files: number;
  damaged_files: number;
  frames: number;
  bytes: number;
  tcp_packets: number;
  flows: number;
  seconds: number;
  anomalies: Record<string, number>;
  ended: Record<string, number>;
}

/** Whether flow records go to stdout (`--jsonl -`, or no output at all): then stdout is not free. */
export function recordsOnStdout(cfg: SensorConfig): boolean {
  return cfg.output.jsonl === '-' || (cfg.output.db === null && cfg.output.jsonl === null && cfg.output.clickhouse === null);
}

/** Opens the sinks the config asks for; with no output at all, JSON lines go to stdout. */
export function openSinks(cfg: SensorConfig, log: Logger): FlowSink[] {
  const sinks: FlowSink[] = [];
  try {
    if (cfg.output.db !== null) sinks.push(new SqliteSink(cfg.output.db, { sensorName: cfg.sensor.name }));
    if (cfg.output.jsonl !== null) sinks.push(new JsonlSink(cfg.output.jsonl));
    const ch = cfg.output.clickhouse;
    if (ch !== null && ch.url.length > 0) sinks.push(openClickHouseSink(cfg, ch, log.child({ component: 'clickhouse' })));
  } catch (e) {
    // One output that cannot open: close the ones already open (a spool lock, a database handle) before failing.
    for (const s of sinks) void s.close();
    throw e;
  }
  if (sinks.length === 0) sinks.push(new JsonlSink('-'));
  return sinks;
}

/** Loads the model the config names, or null when classification is off. */
export async function openClassifier(cfg: SensorConfig, log: Logger, latency?: LatencyHistogram): Promise<Classifier | null> {
  if (!cfg.classify.enabled) return null;
  const c = cfg.classify;
  const classifier = await Classifier.load({
    ...classifierOptions(c, { warn: (m) => log.warn(m), info: (m) => log.info(m) }),
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

/**
 * `sensor --pcap ...`: reads every capture, writes every flow, returns the exit code (0 clean, 1 damaged input).
 * Each file is its own capture (flows end `eof` at its end) unless capture.rotated is set.
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
  const classifier = await openClassifier(cfg, log);
  const length = classifier !== null ? classifier.modelInfo.sequenceLength : 30;
  const sinks = openSinks(cfg, log);
  const clickhouse = sinks.find((s): s is ClickHouseSink => s instanceof ClickHouseSink);
  // The human summary table sees every record like the other sinks (counters only).
  const table = opts.summary === false ? null : new RunSummary();
  if (table !== null) sinks.push(table);
  const pseudonymizer = cfg.privacy.pseudonymizeKey !== null ? new Pseudonymizer(cfg.privacy.pseudonymizeKey) : null;
  const pipeline = new Pipeline({ ...cfg.flow, source: files[0] ?? '', length }, classifier, sinks, pseudonymizer, {
    sensor: cfg.sensor.name,
    live: false,
  });

  let stopping: string | null = null;
  const onSignal = (sig: string): void => {
    stopping = sig;
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

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
      const between = async (): Promise<void> => {
        await pipeline.settle();
        if (progress && Date.now() - lastProgress >= PROGRESS_EVERY_MS) {
          lastProgress = Date.now();
          const secs = Number(process.hrtime.bigint() - started) / 1e9;
          const mb = (bytes + src.bytesRead) / 1e6;
          process.stderr.write(
            `\r${file}: ${((100 * src.bytesRead) / Math.max(1, src.size)).toFixed(0)}%  packets ${pipeline.decoder.stats.frames}  flows ${pipeline.table.stats.flowsCreated}  ${(mb / secs).toFixed(0)} MB/s `,
          );
        }
        if (stopping !== null) throw new StopRequested();
      };
      let result;
      try {
        result = await src.run(pipeline.onFrame, between);
      } catch (e) {
        if (e instanceof StopRequested) break;
        throw e;
      }
      frames += result.frames;
      bytes += result.bytes;
      if (result.error !== null) {
        damaged++;
        log.error(result.error, { file, frames_read: result.frames });
      }
      if (!cfg.capture.rotated) await pipeline.flush('eof');
    }
    await pipeline.flush(stopping !== null ? 'shutdown' : 'eof');
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    if (progress) process.stderr.write('\r\x1b[K');
    await pipeline.close();
    if (classifier !== null) await classifier.close();
  }

  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const anomalies: Record<string, number> = {};
  let damagedPackets = 0;
  for (const [k, v] of Object.entries(pipeline.anomalies)) {
    if (v > 0) anomalies[k] = v;
    if (v > 0 && DAMAGE_ANOMALIES.has(k as never)) damagedPackets += v;
  }
  const summary: OfflineSummary = {
    files: files.length,
    damaged_files: damaged,
    frames,
    bytes,
    tcp_packets: pipeline.table.stats.packets,
    flows: pipeline.written,
    seconds,
    anomalies,
    ended: { ...pipeline.table.stats.ended },
  };
  log.info('capture done', {
    ...summary,
    packets_per_second: Math.round(frames / Math.max(seconds, 1e-9)),
    damaged_packets: damagedPackets,
    stopped_by: stopping,
    ...(clickhouse !== undefined ? { clickhouse: clickhouse.stats() } : {}),
  });
  if (table !== null) {
    // On stdout when it is free; next to the log on stderr when the records themselves go to stdout.
    const text = table.render({ files: files.length, seconds, packets: frames });
    await new Promise<void>((resolve) => (recordsOnStdout(cfg) ? process.stderr : process.stdout).write(text, () => resolve()));
  }
  return { code: damaged > 0 ? 1 : 0, summary };
}

/** Thrown from the between-chunks hook to stop reading when SIGINT/SIGTERM arrives. */
class StopRequested extends Error {}
