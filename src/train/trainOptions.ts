import * as path from 'node:path';
import { ConfigError, show } from '../config/config';

/** What `sensor train` was asked to do. */
export interface TrainOptions {
  /** Who's-talking rows: app_service,tcp_len_1..tcp_len_N (sensor learn's, or any other, the public one included). */
  csv: string;
  /** Group of each row (one a line, e.g. sensor learn's OUT.runs): the held-out split keeps groups whole. */
  runs: string | null;
  /** The model file to write; its card goes next to it (OUT.md). */
  out: string;
  /** Folder for the trainer's measured files (metrics.json, test.csv, pictures); default OUT.train/. */
  work: string;
  epochs: number | null;
  /** The trainer's network: null for its default (the MLP); 'cnn' keeps the raw rows only (the public dataset's scale). */
  arch: 'mlp' | 'cnn' | null;
  device: 'auto' | 'cpu' | 'cuda';
  /** Every class needs at least this many rows. */
  minClassRows: number;
  /** Python interpreter; null: $SENSOR_PYTHON, else python3 on PATH, else /usr/bin/python3. */
  python: string | null;
  seed: number | null;
  threads: number | null;
  quick: boolean;
}

/** `sensor train`'s flags, in help order. */
export const TRAIN_FLAGS: readonly { flag: string; describe: string; required?: boolean }[] = [
  { flag: 'csv', describe: "who's-talking rows (app_service,tcp_len_1..N): sensor learn's output or any such CSV", required: true },
  { flag: 'out', describe: 'model file to write (ONNX); its card is written next to it as OUT.md', required: true },
  { flag: 'runs', describe: "group of each row, one a line (sensor learn's OUT.runs): held-out rows are whole groups (default: blocks of consecutive rows)" },
  { flag: 'epochs', describe: "training epochs (default: the trainer's, as for the bundled model)" },
  { flag: 'arch', describe: "network: mlp (the trainer's default, the bundled model's; on large data its inputs are computed per batch: ~1.5 GB of memory at 1M rows) or cnn (about 10x the CPU per epoch)" },
  { flag: 'device', describe: 'auto, cpu or cuda (default auto: CUDA when torch sees a device)' },
  { flag: 'work', describe: "folder for the trainer's files: metrics.json, test.csv, confusion.png (default OUT.train/)" },
  { flag: 'min-class-rows', describe: 'refuse the CSV when a class has fewer rows than this (default 20, what the trainer needs to hold some out)' },
  { flag: 'python', describe: 'Python interpreter with torch and onnx (default $SENSOR_PYTHON, else python3, else /usr/bin/python3)' },
  { flag: 'seed', describe: 'random seed (default 7)' },
  { flag: 'threads', describe: 'CPU threads for torch (default: torch decides)' },
];

function count(get: (flag: string) => string | undefined, flag: string, min: number): number | null {
  const text = get(flag);
  if (text === undefined) return null;
  const v = Number(text);
  if (!/^\s*\d+\s*$/.test(text) || !Number.isInteger(v) || v < min) throw new ConfigError(`--${flag} must be an integer >= ${min}, got ${show(text)}`);
  return v;
}

/** Reads and checks the flags (ConfigError, one line, for anything wrong). */
export function trainOptions(get: (flag: string) => string | undefined, quick: boolean): TrainOptions {
  const need = (flag: string): string => {
    const v = get(flag);
    if (v === undefined || v === '') throw new ConfigError(`sensor train needs --${flag} (see sensor train --help)`);
    return v;
  };
  const out = need('out');
  const device = get('device') ?? 'auto';
  if (device !== 'auto' && device !== 'cpu' && device !== 'cuda') throw new ConfigError(`--device must be auto, cpu or cuda, got ${show(device)}`);
  const arch = get('arch') ?? null;
  if (arch !== null && arch !== 'mlp' && arch !== 'cnn') throw new ConfigError(`--arch must be mlp or cnn, got ${show(arch)}`);
  return {
    csv: need('csv'),
    arch,
    runs: get('runs') ?? null,
    out,
    work: get('work') ?? `${out}.train`,
    epochs: count(get, 'epochs', 1),
    device,
    minClassRows: count(get, 'min-class-rows', 1) ?? 20,
    python: get('python') ?? null,
    seed: count(get, 'seed', 0),
    threads: count(get, 'threads', 1),
    quick,
  };
}

/** The card's file: model.onnx -> model.onnx.md. */
export function cardPath(out: string): string {
  return path.join(path.dirname(out), path.basename(out) + '.md');
}
