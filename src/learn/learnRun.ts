import type { Logger } from 'winston';
import { FileSource } from '../capture/fileSource';
import { listCaptures } from '../capture/listCaptures';
import { ConfigError, SensorConfig } from '../config/config';
import { Pipeline } from '../pipeline/pipeline';
import { HandshakeInspector, InspectorStats } from './handshakeInspector';
import { Labeller } from './labeller';
import { LearnCounts, LearnCsvSink } from './learnCsv';
import { LEARN_SNAPLEN } from './learnDefaults';
import { loadRules } from './rules';

/** Live learn refuses a snaplen below this: a full Ethernet frame, so a ClientHello segment is read whole. */
export const LEARN_MIN_SNAPLEN = 1518;
/** Share of inspected flows with a cut handshake above which the run warns that the capture's snaplen is too small. */
const TRUNCATED_WARN_SHARE = 0.5;
/** ... when at least this many flows were inspected. */
const TRUNCATED_WARN_MIN = 10;
const TICK_MS = 1000;

export interface LearnOptions {
  out: string;
  rules: string;
  keepNames: boolean;
  minPayloadPackets: number;
  includeMidstream: boolean;
  length: number;
  /** Payload segments of each flow read for its handshake. */
  inspectPackets: number;
  /** Live mode: stop after this many seconds (null: at SIGINT/SIGTERM). */
  durationSeconds: number | null;
}

export interface LearnSummary {
  files: number;
  damaged_files: number;
  frames: number;
  flows: number;
  rows: number;
  unlabelled: number;
  midstream_skipped: number;
  few_payload_skipped: number;
  handshake_cut_by_snaplen: number;
  inspected: number;
  labels: Record<string, number>;
  outputs: { csv: string; runs: string; flows: string };
}

function summarise(files: number, damaged: number, frames: number, c: LearnCounts, st: InspectorStats, paths: LearnSummary['outputs']): LearnSummary {
  const labels: Record<string, number> = {};
  for (const [k, v] of [...c.byLabel].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))) labels[k] = v;
  return {
    files,
    damaged_files: damaged,
    frames,
    flows: c.flows,
    rows: c.rows,
    unlabelled: c.unlabelled,
    midstream_skipped: c.midstream,
    few_payload_skipped: c.fewPayload,
    handshake_cut_by_snaplen: st.truncated,
    inspected: st.flows,
    labels,
    outputs: paths,
  };
}

function snaplenWarning(st: InspectorStats): string | null {
  if (st.flows < TRUNCATED_WARN_MIN || st.truncated / st.flows < TRUNCATED_WARN_SHARE) return null;
  return (
    `${st.truncated} of ${st.flows} flows had their first packets cut by the capture's snaplen, so their handshakes ` +
    `(TLS ClientHello, HTTP request) could not be read: capture whole packets for learning (tcpdump -s 0, or sensor learn --interface, which uses ${LEARN_SNAPLEN})`
  );
}

/**
 * `sensor learn`: runs the sensor's own pipeline (decoder, flow table, sequence rules) with the handshake
 * labeller and writes the labelled rows. Offline over --pcap files, or live on --interface until SIGINT/SIGTERM
 * or --duration. Returns the exit code (0, or 1 when a capture file was damaged) and the summary.
 */
export async function runLearn(cfg: SensorConfig, o: LearnOptions, log: Logger): Promise<{ code: number; summary: LearnSummary }> {
  const labeller = new Labeller(loadRules(o.rules));
  const inspector = new HandshakeInspector(labeller, { packets: o.inspectPackets });
  const live = cfg.capture.interface;
  let files: string[] = [];
  if (live === null) {
    try {
      files = listCaptures(cfg.capture.pcap);
    } catch (e) {
      throw new ConfigError((e as Error).message);
    }
  } else if (cfg.capture.snaplen < LEARN_MIN_SNAPLEN) {
    throw new ConfigError(
      `sensor learn needs whole packets to read handshakes: --snaplen ${cfg.capture.snaplen} is below ${LEARN_MIN_SNAPLEN} (leave it out for ${LEARN_SNAPLEN})`,
    );
  }
  const sink = new LearnCsvSink(o.out, { length: o.length, minPayloadPackets: o.minPayloadPackets, includeMidstream: o.includeMidstream, keepNames: o.keepNames });
  const pipeline = new Pipeline({ ...cfg.flow, source: live ?? files[0] ?? '', length: o.length }, null, [sink], null, { sensor: cfg.sensor.name, live: live !== null }, inspector);
  log.info('learn started', { rules: o.rules, rules_count: labeller.rules.rules.length, ...(live !== null ? { interface: live } : { files: files.length }) });

  let frames = 0;
  let damaged = 0;
  if (live === null) {
    let stopping = false;
    const onSignal = (): void => {
      stopping = true;
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    try {
      for (const file of files) {
        if (stopping) break;
        pipeline.table.setSource(file);
        const result = await new FileSource(file).run(pipeline.onFrame, async () => {
          await pipeline.settle();
          if (stopping) throw new Stop();
        }).catch((e: unknown) => {
          if (e instanceof Stop) return null;
          throw e;
        });
        if (result === null) break;
        frames += result.frames;
        if (result.error !== null) {
          damaged++;
          log.error(result.error, { file, frames_read: result.frames });
        }
        if (!cfg.capture.rotated) await pipeline.flush('eof');
      }
      await pipeline.flush(stopping ? 'shutdown' : 'eof');
    } finally {
      // The handlers stay until the CSV files are closed: a signal meanwhile then changes nothing, where without a
      // handler it would kill the process with the files half written (as src/cli/offline.ts).
      try {
        await pipeline.close();
      } finally {
        process.removeListener('SIGINT', onSignal);
        process.removeListener('SIGTERM', onSignal);
      }
    }
  } else {
    const { openLive } = await import('../capture/liveSource');
    const { liveOptionsOf } = await import('../capture/liveOptions');
    const source = openLive(liveOptionsOf(live, cfg.capture));
    let requestStop: (why: string) => void = () => {};
    const stopped = new Promise<string>((resolve) => (requestStop = resolve));
    source.start(pipeline.onFrame, (e) => {
      log.error(e.message, { interface: live });
      requestStop('capture-error');
    });
    if (source.warning) log.warn(source.warning);
    log.info('capture started', { interface: live, engine: source.engine, snaplen: cfg.capture.snaplen, filter: cfg.capture.filter });
    // One timer step at a time (the pipeline ends idle flows in budgeted steps), as the daemon does.
    let ticking: Promise<void> | null = null;
    const tick = setInterval(() => {
      if (ticking !== null) return;
      ticking = pipeline
        .tick(Date.now() / 1000)
        .catch((e: Error) => requestStop(`error: ${e.message}`))
        .finally(() => (ticking = null));
    }, TICK_MS);
    const timer = o.durationSeconds !== null ? setTimeout(() => requestStop('duration'), o.durationSeconds * 1000) : null;
    const onInt = (): void => requestStop('SIGINT');
    const onTerm = (): void => requestStop('SIGTERM');
    process.once('SIGINT', onInt);
    process.once('SIGTERM', onTerm);
    const why = await stopped;
    log.info('stopping', { reason: why });
    source.stop();
    clearInterval(tick);
    if (ticking !== null) await ticking;
    if (timer !== null) clearTimeout(timer);
    frames = pipeline.decoder.stats.frames;
    // The handlers stay through the flush and the close (a stop by --duration leaves both armed): a signal then
    // changes nothing, where without a handler it would kill the process with the files half written.
    try {
      await pipeline.flush('shutdown');
      await pipeline.close();
    } finally {
      process.removeListener('SIGINT', onInt);
      process.removeListener('SIGTERM', onTerm);
    }
    if (why === 'capture-error' || why.startsWith('error')) damaged++;
  }

  const summary = summarise(files.length, damaged, frames, sink.counts, inspector.stats, sink.paths);
  const warning = snaplenWarning(inspector.stats);
  if (warning !== null) log.warn(warning);
  log.info('learn done', { ...summary });
  return { code: damaged > 0 ? 1 : 0, summary };
}

/** Thrown from the between-chunks hook to stop reading at SIGINT/SIGTERM. */
class Stop extends Error {}
