import * as winston from 'winston';

export interface LogOptions {
  level: string;
  /** `pretty`: one readable line per message (colours when `color`); `json`: one JSON object per line. */
  format: 'json' | 'pretty';
  stream: 'stdout' | 'stderr';
  /** Colour the level in pretty lines (a terminal). */
  color?: boolean;
}

/** `auto` resolved: pretty on a terminal, JSON lines for journald, files and pipes. */
export function resolveLogFormat(format: 'auto' | 'json' | 'pretty', isTTY: boolean): 'json' | 'pretty' {
  return format === 'auto' ? (isTTY ? 'pretty' : 'json') : format;
}

export type Logger = winston.Logger;

const LEVELS = ['error', 'warn', 'info', 'debug'];

/** `2026-01-02T03:04:05.678Z warn message key=value ...` for people reading a terminal. */
const textLine = winston.format.printf((info) => {
  const { timestamp, level, message, ...meta } = info as winston.Logform.TransformableInfo & { timestamp?: string };
  let line = `${String(timestamp)} ${level} ${String(message)}`;
  for (const [k, v] of Object.entries(meta)) line += ` ${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`;
  return line;
});

/**
 * The operational log (start-up, model, drops, errors, periodic stats): JSON lines on stderr by default, so
 * stdout stays free for `--jsonl -`. Flow records never go through it (they go to the sinks), and nothing
 * logged may carry payload bytes. Components take a child logger: `log.child({ component: 'capture' })`.
 */
export function createLogger(opts: LogOptions): Logger {
  if (!LEVELS.includes(opts.level)) {
    throw new RangeError(`log level '${opts.level}' is not one of ${LEVELS.join(', ')}`);
  }
  const format =
    opts.format === 'json'
      ? winston.format.combine(winston.format.timestamp(), winston.format.json())
      : opts.color === true
        ? winston.format.combine(winston.format.timestamp(), winston.format.colorize({ level: true }), textLine)
        : winston.format.combine(winston.format.timestamp(), textLine);
  return winston.createLogger({
    level: opts.level,
    levels: winston.config.npm.levels,
    format,
    transports: [new winston.transports.Console({ stderrLevels: opts.stream === 'stderr' ? LEVELS : [] })],
  });
}
