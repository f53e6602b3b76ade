import { ChildProcess, spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import * as path from 'node:path';
import { until } from '../../helpers/until';

/**
 * `node bin/sensor.js --interface ...` as a child process: its operational log (JSON lines on stderr) parsed as it
 * arrives, and helpers to wait for a line or for the exit. Waits never assert on time: they give up at a generous
 * deadline and the test's assertions then say what was missing.
 */

export const ROOT = path.resolve(__dirname, '../../..');
export const BIN = path.join(ROOT, 'bin/sensor.js');
const DIST_MAIN = path.join(ROOT, 'dist/cli/main.js');

/** src/ files newer than their dist/ output: the spawned daemon would run old code. */
function staleOutputs(): string[] {
  const stale: string[] = [];
  const walk = (dir: string): void => {
    for (const e of readdirSync(path.join(ROOT, dir), { withFileTypes: true })) {
      const rel = path.join(dir, e.name);
      if (e.isDirectory()) walk(rel);
      else if (rel.endsWith('.ts')) {
        const out = path.join(ROOT, 'dist', path.relative('src', rel).replace(/\.ts$/, '.js'));
        if (!existsSync(out) || statSync(out).mtimeMs < statSync(path.join(ROOT, rel)).mtimeMs) stale.push(rel);
      }
    }
  };
  walk('src');
  return stale;
}

let checkedDist = false;
/** The tests spawn bin/sensor.js, which runs dist/: fail when it is missing, warn when src/ is newer. */
function checkDist(): void {
  if (checkedDist) return;
  checkedDist = true;
  if (!existsSync(DIST_MAIN)) throw new Error(`${DIST_MAIN} is missing: build with npx tsc -p tsconfig.json before the daemon tests`);
  const stale = staleOutputs();
  if (stale.length > 0) console.warn(`dist/ is older than ${stale.join(', ')}: run npx tsc -p tsconfig.json, or the daemon tests run old code`);
}

/** One operational log line (winston JSON): message, level, timestamp and the line's fields. */
export type LogLine = Record<string, unknown> & { message: string; level: string };

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}


export class Daemon {
  readonly proc: ChildProcess;
  /** Every parsed log line so far, in order. */
  readonly lines: LogLine[] = [];
  /** stderr lines that were not JSON (a crash, a one-line usage error). */
  readonly other: string[] = [];
  /** Resolves when the process has exited. */
  readonly exited: Promise<Exit>;
  exit: Exit | null = null;
  private partial = '';

  /** `env` is added to this process's environment (SENSOR_* overrides). */
  constructor(args: string[], env: NodeJS.ProcessEnv = {}) {
    checkDist();
    this.proc = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } });
    this.proc.stderr!.setEncoding('utf8');
    this.proc.stderr!.on('data', (chunk: string) => {
      const parts = (this.partial + chunk).split('\n');
      this.partial = parts.pop()!;
      for (const p of parts) this.take(p);
    });
    this.exited = new Promise<Exit>((resolve) => {
      this.proc.on('exit', (code, signal) => {
        if (this.partial !== '') this.take(this.partial);
        this.partial = '';
        this.exit = { code, signal };
        resolve(this.exit);
      });
    });
  }

  private take(text: string): void {
    if (text.trim() === '') return;
    try {
      const v = JSON.parse(text) as LogLine;
      if (typeof v === 'object' && v !== null && typeof v.message === 'string') {
        this.lines.push(v);
        return;
      }
    } catch {
      // not a log line: kept below
    }
    this.other.push(text);
  }

  /** The log so far as text, for failure messages. */
  logText(): string {
    return [...this.lines.map((l) => JSON.stringify(l)), ...this.other].join('\n');
  }

  /** Lines whose message is `message`. */
  messages(message: string): LogLine[] {
    return this.lines.filter((l) => l.message === message);
  }

  /** The last `stats` line (periodic) or `stopped` line (final), whichever came last. */
  lastStats(): LogLine | undefined {
    for (let i = this.lines.length - 1; i >= 0; i--) {
      const l = this.lines[i]!;
      if (l.message === 'stats' || l.message === 'stopped') return l;
    }
    return undefined;
  }

  /** Waits for a line matching `pred` (or the exit); returns it, or undefined. */
  async waitForLine(pred: (l: LogLine) => boolean, deadlineMs: number): Promise<LogLine | undefined> {
    await until(() => this.exit !== null || this.lines.some(pred), deadlineMs, 50);
    return this.lines.find(pred);
  }

  /** Waits for 'capture started'; throws with the log when the daemon exits or never gets there. */
  async started(deadlineMs = 30000): Promise<void> {
    const line = await this.waitForLine((l) => l.message === 'capture started', deadlineMs);
    if (line === undefined) throw new Error(`the daemon did not start capturing (exit ${JSON.stringify(this.exit)}):\n${this.logText()}`);
  }

  /**
   * Waits until the capture's packet counter (from the stats lines, so stats.intervalSeconds must be set) has
   * reached `atLeast` and then not moved for `quietMs`. Returns the last count seen.
   */
  async packetsSettled(atLeast: number, quietMs: number, deadlineMs: number): Promise<number> {
    let last = -1;
    let since = Date.now();
    await until(
      () => {
        const n = Number(this.lastStats()?.packets_received ?? -1);
        if (n !== last) {
          last = n;
          since = Date.now();
        }
        return this.exit !== null || (n >= atLeast && Date.now() - since >= quietMs);
      },
      deadlineMs,
      100,
    );
    return last;
  }

  /** Sends `signal` and waits for the exit (SIGKILL after the deadline so no daemon outlives its test). */
  async stop(signal: NodeJS.Signals, deadlineMs = 20000): Promise<Exit & { ms: number }> {
    const t0 = Date.now();
    if (this.exit === null) this.proc.kill(signal);
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), deadlineMs);
    const exit = await this.exited;
    clearTimeout(timer);
    return { ...exit, ms: Date.now() - t0 };
  }

  /** Teardown: kills the process if it is still running. */
  kill(): void {
    if (this.exit === null) this.proc.kill('SIGKILL');
  }
}

/** A process run inside a namespace (tcpPeer.js), with its stdout collected. */
export class NsProcess {
  readonly proc: ChildProcess;
  out = '';
  err = '';

  constructor(ns: string, args: string[]) {
    this.proc = spawn('ip', ['netns', 'exec', ns, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc.stdout!.on('data', (d: Buffer) => (this.out += d.toString()));
    this.proc.stderr!.on('data', (d: Buffer) => (this.err += d.toString()));
  }

  /** Waits until stdout has a line `word`; throws with stderr when it never comes. */
  async waitFor(word: string, deadlineMs: number): Promise<void> {
    const ok = await until(() => this.out.split('\n').includes(word) || this.proc.exitCode !== null, deadlineMs, 50);
    if (!ok || !this.out.split('\n').includes(word)) {
      throw new Error(`${this.proc.spawnargs.join(' ')}: no "${word}" (exit ${this.proc.exitCode}): ${this.err.trim()}`);
    }
  }

  kill(): void {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill('SIGTERM');
  }
}

export const PEER = path.join(__dirname, 'tcpPeer.js');

/** A tcpPeer.js server in `ns`, listening once this resolves. */
export async function startServer(ns: string, addr: string, port: number): Promise<NsProcess> {
  const p = new NsProcess(ns, [process.execPath, PEER, 'server', addr, String(port)]);
  await p.waitFor('listening', 20000);
  return p;
}

/** `count` tcpPeer.js connections from `ns`; resolves when every one got its answer (and closed, for 'close'). */
export async function openConnections(
  ns: string,
  addr: string,
  port: number,
  count: number,
  reqLen: number,
  mode: 'hold' | 'close',
): Promise<NsProcess> {
  const p = new NsProcess(ns, [process.execPath, PEER, 'clients', addr, String(port), String(count), String(reqLen), mode]);
  await p.waitFor('ready', 30000);
  return p;
}

/** A TCP port that was free a moment ago on 127.0.0.1 (the daemon or a metrics server binds it next). */
export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}
