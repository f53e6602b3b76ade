import { createWriteStream, rmSync } from 'node:fs';
import * as path from 'node:path';
import { ConfigError } from '../config/config';
import { createLogger, resolveLogFormat } from '../sink/log';
import { parseArgs } from './args';

/** Exit codes (README, `sensor --help`). */
export const EXIT_OK = 0;
export const EXIT_DAMAGED_INPUT = 1;
export const EXIT_USAGE = 2;

function packageVersion(): string {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require(path.resolve(__dirname, '..', '..', 'package.json')) as { version: string }).version;
}

/** Error classes whose message is a complete one-line answer for the user (exit 2, no stack trace). */
const USER_ERRORS = new Set(['ConfigError', 'RulesError', 'ModelContractError', 'OnnxFormatError', 'SinkError', 'CaptureError', 'LiveCaptureError', 'ServeError', 'FlowDbError', 'TrainError']);

function isUserError(e: unknown): e is Error {
  return e instanceof Error && (USER_ERRORS.has(e.name) || (e as NodeJS.ErrnoException).code !== undefined);
}

/** The `sensor` command. Returns the process exit code. */
export async function main(argv: string[]): Promise<number> {
  let cmd;
  try {
    cmd = await parseArgs(argv, packageVersion());
  } catch (e) {
    process.stderr.write(`sensor: ${(e as Error).message}\n`);
    return EXIT_USAGE;
  }
  try {
    switch (cmd.kind) {
      case 'help':
        process.stdout.write(cmd.text + '\n');
        return EXIT_OK;
      case 'version':
        process.stdout.write(cmd.text + '\n');
        return EXIT_OK;
      case 'export': {
        const { exportCsv } = await import('../sink/exportCsv');
        const out = cmd.out === '-' ? process.stdout : createWriteStream(cmd.out);
        const rows = await exportCsv(cmd.db, out, { length: cmd.length, label: cmd.label });
        if (out !== process.stdout) await new Promise<void>((res) => out.end(() => res()));
        process.stderr.write(`sensor: exported ${rows} flows\n`);
        return EXIT_OK;
      }
      case 'eval': {
        const { evalCommand } = await import('./evalCommand');
        return await evalCommand({ csv: cmd.csv, model: cmd.model, out: process.stdout });
      }
      case 'clickhouse-schema': {
        const { clickhouseSchemaCommand } = await import('./clickhouseSchemaCommand');
        return await clickhouseSchemaCommand(cmd, process.stdout, process.stderr);
      }
      case 'serve': {
        const cfg = cmd.config;
        const tty = process.stderr.isTTY === true;
        const log = createLogger({ level: cfg.log.level, format: resolveLogFormat(cfg.log.format, tty), stream: 'stderr', color: tty });
        const { serveCommand } = await import('../serve/run');
        const code = await serveCommand(cfg, log);
        await new Promise<void>((res) => log.on('finish', res).end());
        return code;
      }
      case 'report': {
        const { writeReport } = await import('../report/report');
        const r = writeReport({ db: cmd.db, out: cmd.out, ...(cmd.from !== null ? { from: cmd.from } : {}), ...(cmd.to !== null ? { to: cmd.to } : {}) });
        process.stderr.write(`sensor: wrote ${cmd.out} (${(r.bytes / 1e6).toFixed(1)} MB, ${r.flows} latest flows in its table)\n`);
        return EXIT_OK;
      }
      case 'learn': {
        const tty = process.stderr.isTTY === true;
        const log = createLogger({ level: cmd.config.log.level, format: resolveLogFormat(cmd.config.log.format, tty), stream: 'stderr', color: tty });
        const { runLearn } = await import('../learn/learnRun');
        const { code, summary } = await runLearn(cmd.config, cmd.learn, log);
        await new Promise<void>((res) => log.on('finish', res).end());
        process.stderr.write(learnReport(summary));
        return code;
      }
      case 'anomaly-fit': {
        const { anomalyFit } = await import('../anomaly/fitCommand');
        const r = await anomalyFit({ ...cmd, sequenceLength: 30, log: (line) => process.stderr.write(`fit: ${line}\n`) });
        const t = r.thresholds.map((x) => `${x.fpr}: ${x.threshold}`).join(', ');
        process.stderr.write(`sensor: fitted ${cmd.out} (${r.version}) on ${r.flows} flows; thresholds by false-positive rate ${t}\n`);
        return EXIT_OK;
      }
      case 'hosts-fit': {
        const { hostsFit } = await import('../hosts/fitCommand');
        const m = hostsFit(cmd);
        process.stderr.write(`sensor: fitted ${cmd.out}: ${m.groups.length} groups on ${m.profiles} profiles (silhouette ${m.silhouette}): ${m.groups.map((g) => `${g.name} (${g.size})`).join('; ')}\n`);
        return EXIT_OK;
      }
      case 'eval-labels': {
        const { evalLabelsCommand } = await import('./evalCommand');
        return await evalLabelsCommand({ ...cmd, out: process.stdout });
      }
      case 'train': {
        const { runTrain } = await import('../train/trainRun');
        const r = await runTrain(cmd.train, (line) => process.stderr.write(line + '\n'));
        const n = r.metrics.network;
        process.stderr.write(
          `sensor train: wrote ${r.model.path} (${r.model.classes.length} classes, version ${r.model.version}` +
            (n !== undefined ? `, held-out macro-F1 ${n.macro_f1.toFixed(4)} on ${n.flows} rows` : ', no held-out rows') +
            `) and its card ${r.card}\n`,
        );
        return EXIT_OK;
      }
      case 'interfaces': {
        const { listInterfaces } = await import('../capture/interfaces');
        process.stdout.write(listInterfaces() + '\n');
        return EXIT_OK;
      }
      case 'run': {
        const cfg = cmd.config;
        // JSON lines on stdout must stay clean: the operational log goes to stderr.
        const tty = process.stderr.isTTY === true;
        const log = createLogger({ level: cfg.log.level, format: resolveLogFormat(cfg.log.format, tty), stream: 'stderr', color: tty });
        if (cfg.capture.interface !== null) {
          const { runLive } = await import('../daemon/daemon');
          const reload = async (): Promise<typeof cfg> => {
            const again = await parseArgs(argv, packageVersion());
            if (again.kind !== 'run') throw new Error('reload: the command line no longer describes a capture');
            return again.config;
          };
          return await runLive(cfg, log, reload, packageVersion());
        }
        if (cmd.replaceDb && cfg.output.db !== null) for (const suffix of ['', '-wal', '-shm']) rmSync(cfg.output.db + suffix, { force: true });
        let server = null;
        let stopServing: Promise<string> | null = null;
        let stopSignal: string | null = null;
        if (cfg.serve.listen !== null) {
          const { startConfiguredServer, untilStopSignal } = await import('../serve/run');
          server = await startConfiguredServer(cfg, log);
          // Armed before the run, beside runOffline's own handlers: a signal while the capture is read stops the run
          // and then the serving (one signal ends the process, as without --serve), and one that comes between the
          // end of the run and the serving finds a handler instead of the signal's default action, which kills the process.
          stopServing = untilStopSignal().then((s) => (stopSignal = s));
        }
        let code: number;
        try {
          // Loaded here, not at the top: the pipeline brings onnxruntime and SQLite, which `--help`, `--version` and
          // the other commands do not need (~0.25 s of their start on the Zen 5 guest).
          const { runOffline } = await import('./offline');
          ({ code } = await runOffline(cfg, log, cmd.progress, { summary: cmd.summary }));
          if (server !== null && stopServing !== null) {
            // The point of --serve on a capture file: look at the result. Serve until asked to stop.
            if (stopSignal === null) log.info('capture done; still serving until SIGINT/SIGTERM', { url: server.url });
            await stopServing;
          }
        } finally {
          if (server !== null) await server.close();
        }
        await new Promise<void>((res) => log.on('finish', res).end());
        return code;
      }
    }
  } catch (e) {
    if (isUserError(e)) {
      process.stderr.write(`sensor: ${e.message}\n`);
      return EXIT_USAGE;
    }
    throw e;
  }
}

/** The human end of `sensor learn`: rows per label and what was left out. */
function learnReport(s: import('../learn/learnRun').LearnSummary): string {
  const lines = [`sensor learn: ${s.rows} rows from ${s.flows} flows -> ${s.outputs.csv} (+ ${s.outputs.runs}, ${s.outputs.flows})`];
  const labels = Object.entries(s.labels);
  for (const [label, n] of labels.slice(0, 20)) lines.push(`  ${String(n).padStart(8)}  ${label}`);
  if (labels.length > 20) lines.push(`  ... ${labels.length - 20} more labels`);
  lines.push(
    `  not written: ${s.unlabelled} unlabelled, ${s.midstream_skipped} mid-stream, ${s.few_payload_skipped} with too few payload packets; ` +
      `${s.handshake_cut_by_snaplen} of ${s.inspected} inspected flows had their handshake cut by the snaplen`,
  );
  return lines.join('\n') + '\n';
}
