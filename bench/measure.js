'use strict';
/**
 * Runs one command and measures it: wall time (parent's monotonic clock around spawn/exit), peak RSS and CPU
 * time (GNU time's %M %U %S when /usr/bin/time exists, else VmHWM polled from /proc). Optionally pinned to a
 * CPU list with taskset, so that two tools can be given the same cores.
 */
const fs = require('node:fs');
const path = require('node:path');
const { spawn } = require('node:child_process');

const GNU_TIME = '/usr/bin/time';
const TASKSET = '/usr/bin/taskset';
/** VmHWM polling interval when GNU time is missing; peaks shorter than this can be missed. */
const POLL_MS = 20;

function hasGnuTime() {
  return fs.existsSync(GNU_TIME);
}

function hasTaskset() {
  return fs.existsSync(TASKSET);
}

/**
 * Environment for the timed runs: this one without NODE_EXTRA_CA_CERTS. Node reads and parses that certificate
 * bundle when every process starts (~0.05 s of CPU for Debian's 220 KB bundle on the bench machine, which sets
 * it), work that has nothing to do with the run: the sensor makes no TLS connection on a capture file. Debian
 * does not set it; a machine that does pays it once per sensor process. BENCH_KEEP_NODE_EXTRA_CA_CERTS=1 keeps it.
 */
function runEnv() {
  if (process.env.BENCH_KEEP_NODE_EXTRA_CA_CERTS === '1') return process.env;
  const env = { ...process.env };
  delete env.NODE_EXTRA_CA_CERTS;
  return env;
}

/**
 * runEnv() for a command started through its `#!/usr/bin/env ... node` line (bin/sensor.js run as an executable, as
 * users start it): this Node's directory first on PATH, so that the line's `node` is the one running the bench.
 */
function executableEnv() {
  const env = runEnv();
  return { ...env, PATH: [path.dirname(process.execPath), env.PATH].filter(Boolean).join(path.delimiter) };
}

/** What runEnv() took away, for the report: the bundle's path or null. */
function droppedCaBundle() {
  return runEnv() === process.env ? null : process.env.NODE_EXTRA_CA_CERTS ?? null;
}

/**
 * @param {string} cmd
 * @param {string[]} args
 * @param {{ cpus?: string | null, stdout: string, stderr: string, cwd?: string, env?: NodeJS.ProcessEnv }} opts (env: runEnv()'s by default)
 *   cpus: taskset CPU list ('0', '0,1') or null for no pinning; stdout/stderr: files that receive the output.
 * @returns {Promise<{ code: number | null, signal: string | null, wallSeconds: number, maxRssKB: number,
 *   userSeconds: number | null, sysSeconds: number | null, rssSource: string }>}
 */
function measure(cmd, args, opts) {
  const timeFile = `${opts.stderr}.time`;
  let argv = [cmd, ...args];
  const useTime = hasGnuTime();
  if (useTime) argv = [GNU_TIME, '-f', '%e %M %U %S', '-o', timeFile, ...argv];
  if (opts.cpus !== null && opts.cpus !== undefined) argv = [TASKSET, '-c', opts.cpus, ...argv];
  fs.mkdirSync(path.dirname(opts.stdout), { recursive: true });
  const out = fs.openSync(opts.stdout, 'w');
  const err = fs.openSync(opts.stderr, 'w');
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(argv[0], argv.slice(1), { cwd: opts.cwd, env: opts.env ?? runEnv(), stdio: ['ignore', out, err] });
    let hwm = 0;
    let timer = null;
    if (!useTime) {
      timer = setInterval(() => {
        const kb = readVmHwm(child.pid);
        if (kb > hwm) hwm = kb;
      }, POLL_MS);
    }
    child.on('error', (e) => {
      if (timer !== null) clearInterval(timer);
      fs.closeSync(out);
      fs.closeSync(err);
      reject(new Error(`cannot run ${argv[0]}: ${e.message}`));
    });
    child.on('exit', (code, signal) => {
      const wallSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
      if (timer !== null) clearInterval(timer);
      fs.closeSync(out);
      fs.closeSync(err);
      let maxRssKB = hwm;
      let userSeconds = null;
      let sysSeconds = null;
      if (useTime) {
        // GNU time writes "Command exited with non-zero status N" before the format line when the command fails.
        const lines = fs.readFileSync(timeFile, 'utf8').trim().split('\n');
        const f = lines[lines.length - 1].trim().split(/\s+/).map(Number);
        maxRssKB = f[1];
        userSeconds = f[2];
        sysSeconds = f[3];
        fs.rmSync(timeFile, { force: true });
      }
      resolve({ code, signal, wallSeconds, maxRssKB, userSeconds, sysSeconds, rssSource: useTime ? 'gnu-time' : 'vmhwm-poll' });
    });
  });
}

function readVmHwm(pid) {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m === null ? 0 : Number(m[1]);
  } catch {
    return 0;
  }
}

module.exports = { measure, hasGnuTime, hasTaskset, runEnv, executableEnv, droppedCaBundle };
