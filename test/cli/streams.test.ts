import { spawn, spawnSync } from 'node:child_process';
import { createWriteStream, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { captureSummary } from '../helpers/captureSummary';
import { conversation, pcapBytes } from '../helpers/frames';

/**
 * Captures that can only be read in order (issue 9): `--pcap -` reads standard input (`tcpdump -w - | sensor
 * --pcap -`), a FIFO is read as a stream, and neither can freeze the process: a FIFO with no writer yet still
 * honours SIGTERM.
 */

const ROOT = path.resolve(__dirname, '../..');
const BIN = path.join(ROOT, 'bin/sensor.js');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Milliseconds from kill() to the exit, when killed. */
  stopMs: number;
}

/** The sensor as a child process; `feed` gets its stdin, `kill` sends a signal once it has started. */
function runSensor(args: string[], feed?: (stdin: NodeJS.WritableStream) => void): { done: Promise<Run>; kill(sig: NodeJS.Signals): void } {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, stdio: [feed ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let killedAt = 0;
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  if (feed) feed(child.stdin!);
  const timer = setTimeout(() => child.kill('SIGKILL'), 30000);
  const done = new Promise<Run>((resolve) =>
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, stopMs: killedAt === 0 ? 0 : Date.now() - killedAt });
    }),
  );
  return {
    done,
    kill(sig) {
      killedAt = Date.now();
      child.kill(sig);
    },
  };
}

/** JSON-lines records without where they were read (a file, stdin and a FIFO name it differently). */
function records(stdout: string): Record<string, unknown>[] {
  return stdout
    .trim()
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => {
      const r = JSON.parse(l) as Record<string, unknown>;
      delete r.source;
      delete r.pcap_filename;
      return r;
    });
}

let dir = '';
let capture = '';
let bytes: Buffer;
let frameCount = 0;
let expected: Record<string, unknown>[] = [];

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'sensor-cli-streams-'));
  capture = path.join(dir, 'three.pcap');
  const frames = [
    ...conversation(1700000000, '10.0.0.1', '10.0.0.2', 40001, 443, [[120, 1460], [0, 900]]),
    ...conversation(1700000001, '10.0.0.3', '10.0.0.2', 40002, 22, [[40, 40], [80, 0]]),
    ...conversation(1700000002, '10.0.0.4', '10.0.0.9', 40003, 80, [[300, 1200]]),
  ].sort((a, b) => a.ts - b.ts);
  bytes = pcapBytes(frames);
  frameCount = frames.length;
  writeFileSync(capture, bytes);
  const r = spawnSync(process.execPath, [BIN, '--pcap', capture, '--jsonl', '-', '--no-classify'], { encoding: 'utf8', cwd: ROOT });
  expected = records(r.stdout);
  expect(expected).toHaveLength(3);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function mkfifo(name: string): string {
  const p = path.join(dir, name);
  const r = spawnSync('mkfifo', [p]);
  if (r.status !== 0) throw new Error(`mkfifo ${p} failed: ${r.stderr.toString()}`);
  return p;
}

describe('sensor --pcap on streams', () => {
  it('--pcap - reads a capture piped into standard input, in small writes, with the same flows as the file', async () => {
    const run = runSensor(['--pcap', '-', '--jsonl', '-', '--no-classify'], (stdin) => {
      // Written in pieces that cut records, as a pipe from tcpdump delivers them.
      let off = 0;
      const step = (): void => {
        if (off >= bytes.length) return void stdin.end();
        stdin.write(bytes.subarray(off, off + 77));
        off += 77;
        setTimeout(step, 1);
      };
      step();
    });
    const r = await run.done;
    expect(r.code, r.stderr).toBe(0);
    expect(records(r.stdout)).toEqual(expected);
    expect(captureSummary(r.stderr)).toMatchObject({ files: 1, frames: frameCount, bytes: bytes.length });
  });

  it('--pcap - from a live writer that keeps the pipe open (tcpdump -U -w - | sensor --pcap -): frames are read as they come, and SIGINT keeps them', async () => {
    // The flows' first packets: each record's sequence then holds what was read before the stop.
    const run = runSensor(['--pcap', '-', '--jsonl', '-', '--no-classify'], (stdin) => stdin.write(bytes));
    // Far less than the reader's 4 MiB chunk: read at once, not when a chunk is full or the writer closes.
    await new Promise((r) => setTimeout(r, 2000));
    run.kill('SIGINT');
    const r = await run.done;
    expect(r.code, r.stderr).toBe(0);
    expect(captureSummary(r.stderr)).toMatchObject({ files: 1, frames: frameCount, bytes: bytes.length, stopped_by: 'SIGINT' });
    const got = records(r.stdout);
    expect(got).toHaveLength(3);
    expect(got.map((f) => f.lengths)).toEqual(expected.map((f) => f.lengths));
  });

  it('--pcap - reads a gzipped capture from standard input', async () => {
    const run = runSensor(['--pcap', '-', '--jsonl', '-', '--no-classify'], (stdin) => stdin.end(gzipSync(bytes)));
    const r = await run.done;
    expect(r.code, r.stderr).toBe(0);
    expect(records(r.stdout)).toEqual(expected);
  });

  it('--pcap - names standard input when the capture is cut short, exit 1, flows before the cut kept', async () => {
    const run = runSensor(['--pcap', '-', '--jsonl', '-', '--no-classify'], (stdin) => stdin.end(bytes.subarray(0, bytes.length - 30)));
    const r = await run.done;
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/"message":"stdin: input ends inside a record at byte \d+ \(truncated capture\)"/);
    expect(records(r.stdout)).toHaveLength(3);
  });

  it('reads a FIFO whose writer comes later, in order, with the same flows as the file', async () => {
    const fifo = mkfifo('capture.fifo');
    const run = runSensor(['--pcap', fifo, '--jsonl', '-', '--no-classify']);
    await new Promise((r) => setTimeout(r, 300));
    const w = createWriteStream(fifo);
    w.end(bytes);
    const r = await run.done;
    expect(r.code, r.stderr).toBe(0);
    expect(records(r.stdout)).toEqual(expected);
    expect(captureSummary(r.stderr)).toMatchObject({ files: 1, bytes: bytes.length, stopped_by: null });
  });

  it('stops at SIGTERM while waiting for a FIFO writer (open(2) never blocks the process)', async () => {
    const fifo = mkfifo('nobody-writes.fifo');
    const run = runSensor(['--pcap', fifo, '--jsonl', '-', '--no-classify']);
    // Node's start-up alone can take over a second on a loaded 2-core machine: the signal is sent once the
    // process has surely installed its handlers; the stop itself is measured from the signal.
    await new Promise((r) => setTimeout(r, 2500));
    run.kill('SIGTERM');
    const r = await run.done;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stopMs).toBeLessThan(2000);
    expect(captureSummary(r.stderr)).toMatchObject({ frames: 0, stopped_by: 'SIGTERM' });
  });

  it('gives one line for standard input that is not a capture', async () => {
    const run = runSensor(['--pcap', '-', '--jsonl', '-', '--no-classify'], (stdin) => stdin.end('hello, this is not a capture\n'));
    const r = await run.done;
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('stdin: not a pcap or pcapng file (magic 0x68656c6c)');
  });
});
