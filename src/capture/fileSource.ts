import { CaptureError } from './captureError';
import { closeSync, constants, createReadStream, fstatSync, openSync, readSync } from 'node:fs';
import { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { ByteInput } from './byteInput';
import type { CaptureParser } from './captureParser';
import { MAGIC_BYTES, captureKind, formatMagic, magicNumber } from './captureMagic';
import { FdInput } from './fdInput';
import { Frame, type FrameHandler } from './frame';
import { gunzipInput } from './gunzipInput';
import { PcapParser } from './pcapReader';
import { PcapngParser } from './pcapngReader';
import type { RecordFastPath } from './recordFastPath';
import { StreamInput } from './streamInput';

/**
 * Default read buffer of a stream (stdin, a FIFO, gunzip output). Large enough that a syscall costs nothing per
 * packet (~40k small packets per chunk), small enough to stay in memory for any file size.
 */
const DEFAULT_CHUNK_SIZE = 4 * 1024 * 1024;
/**
 * Default chunk of a regular file (fdInput.ts). Smaller than a stream's: the copy out of the page cache writes into a
 * buffer that is still in the CPU's caches when the next chunk is read into it, and the parser reads the chunk soon
 * after the copy brought it there. In a one-core run of the 1.2 GB bench capture, `read` took 0.18-0.19 s of CPU
 * profile with 1 MiB (and 256 KiB) chunks against 0.22-0.30 s with 4 MiB ones, and the whole process 0.11 s less CPU
 * (round perf10, bench/HISTORY.md); 1 MiB keeps the syscalls and read-ahead turns few (~1,200 for that file).
 */
const FILE_CHUNK_SIZE = 1024 * 1024;
/** Smallest accepted chunkSize (tests use tiny chunks to make records straddle chunk ends). */
const MIN_CHUNK_SIZE = 16;
/**
 * Records are parsed in windows of this many bytes (~1,000 minimum-size packets), and `between()` runs after
 * each window: that is where the pipeline waits for the classifier and the sinks, so what one window can end
 * (evictions, port reuse) bounds the records queued between two waits.
 */
const PARSE_WINDOW = 64 * 1024;
/**
 * Longest the reader works without letting the event loop turn. Reading a file never waits on anything, so
 * without these turns a signal (SIGTERM, SIGINT), a timer or a stream callback would only run at the end of
 * the input.
 */
const YIELD_EVERY_MS = 20;

/** Read size for a compressed file: large reads, few syscalls. */
const COMPRESSED_READ_SIZE = 1024 * 1024;

/** The path that names standard input. */
export const STDIN_PATH = '-';

/** Outcome of reading one capture file. */
export interface FileReadResult {
  /** Frames delivered. */
  frames: number;
  /** Capture bytes consumed (decompressed bytes for a gzip file). */
  bytes: number;
  /** One line naming the file and what is wrong, or null. */
  error: string | null;
  /** stop() ended the read before the end of the input. */
  stopped: boolean;
}

/**
 * Reads one offline capture (classic pcap, pcapng, either one gzipped) in chunks into reused buffers and hands
 * out every packet as a view into one: no copy, no allocation per packet. A regular file is read with positioned
 * reads into two buffers in turn, ahead of the parser where there is more than one CPU (fdInput.ts); standard input
 * (`-`), a FIFO or a socket is read as a stream into one buffer, in order, as it arrives (so
 * `tcpdump -w - | sensor --pcap -` works).
 */
export class FileSource {
  readonly path: string;
  /** The path as messages name it (`stdin` for `-`). */
  readonly label: string;
  private readonly chunkSize: number;
  private readonly fileChunkSize: number;
  private readonly carryRoom: number | undefined;
  private readonly readAhead: boolean | undefined;
  private readonly frame = new Frame();
  private consumed = 0;
  private fileSize = 0;
  private input: ByteInput | FdInput | null = null;
  private stopRequested = false;
  /** The input is gzip: offsets in messages are offsets into the decompressed data. */
  private compressed = false;
  /** A stream whose first bytes open() is waiting for. */
  private opening: Readable | null = null;

  /**
   * `chunkSize`: bytes read at a time (default: FILE_CHUNK_SIZE from a regular file, DEFAULT_CHUNK_SIZE from a
   * stream); `carryRoom`: bytes kept in front of a regular file's chunk for the record cut
   * by the chunk before (fdInput.ts READ_AHEAD_ROOM; tests give less to make records outgrow it); `readAhead`: read a
   * regular file's next chunk while this one is parsed (default: with more than one CPU).
   */
  constructor(path: string, opts?: { chunkSize?: number; carryRoom?: number; readAhead?: boolean }) {
    this.path = path;
    this.label = path === STDIN_PATH ? 'stdin' : path;
    this.chunkSize = Math.max(MIN_CHUNK_SIZE, Math.floor(opts?.chunkSize ?? DEFAULT_CHUNK_SIZE));
    this.fileChunkSize = Math.max(MIN_CHUNK_SIZE, Math.floor(opts?.chunkSize ?? FILE_CHUNK_SIZE));
    this.carryRoom = opts?.carryRoom;
    this.readAhead = opts?.readAhead;
    // A byte count passes 2^30 in a file over 1 GiB, past V8's small integers, and the field's change from a small
    // integer to a double then threw pump()'s optimized code away near the end of the bench capture (round perf16): a
    // double from the start (a store of 0.5 makes the field's representation a double; 0 then keeps it).
    this.consumed = 0.5;
    this.consumed = 0;
  }

  /** Bytes of the file consumed so far (compressed bytes read, for a gzip file). */
  get bytesRead(): number {
    return this.input instanceof StreamInput ? this.input.fileBytesRead : this.consumed;
  }

  /** Size of the file on disk (0 until run() opened it, and for a stream). */
  get size(): number {
    return this.fileSize;
  }

  /**
   * Ends run() early: the frames of the window being parsed are still delivered, then run() returns with
   * `stopped` set. Also ends a wait for data (a FIFO with no writer yet). Safe to call at any time.
   */
  stop(): void {
    this.stopRequested = true;
    this.input?.abort();
    // Still opening: a stream waited on for its first bytes (no writer yet) is closed, which ends the wait.
    this.opening?.destroy();
  }

  /**
   * Reads the whole input, calling onFrame for every packet (one reused Frame). Between windows of records it
   * awaits `between()` if given, and it lets the event loop turn at least every YIELD_EVERY_MS. Damaged input
   * never throws: reading stops at the damage and the result's `error` says where. Throws only when the path
   * cannot be opened. `fastPath` (classic pcap and pcapng) takes the records it handles past onFrame (src/fastpath/).
   */
  async run(onFrame: FrameHandler, between?: () => Promise<void> | void, fastPath: RecordFastPath | null = null): Promise<FileReadResult> {
    const input = await this.open();
    this.input = input;
    try {
      if (this.stopRequested) return { frames: 0, bytes: 0, error: null, stopped: true };
      return await this.pump(input, onFrame, between, fastPath);
    } finally {
      await input.close();
    }
  }

  /**
   * Opens the input: a regular file by descriptor (gzip or not, by its first two bytes), anything that can only
   * be read in order (stdin, FIFO, socket) as a stream. A FIFO is opened without blocking, so that a FIFO with
   * no writer yet never freezes the process (the read waits instead, and stop() ends that wait).
   */
  private async open(): Promise<ByteInput | FdInput> {
    if (this.path === STDIN_PATH) {
      if (process.stdin.isTTY === true) {
        throw new CaptureError('Cannot read capture from standard input: it is a terminal (pipe a capture into it, e.g. tcpdump -w - | sensor --pcap -)');
      }
      return this.openStream(process.stdin);
    }
    let fd: number;
    try {
      fd = openSync(this.path, constants.O_RDONLY | constants.O_NONBLOCK);
    } catch (err) {
      throw new CaptureError(`Cannot read capture ${this.label}: ${describeOpenError(err)}`);
    }
    const stat = fstatSync(fd);
    if (stat.isFIFO() || stat.isSocket()) return this.openStream(new Socket({ fd, readable: true, writable: false }));
    if (!stat.isFile()) {
      closeSync(fd);
      const what = stat.isDirectory() ? 'a directory (expand it with listCaptures first)' : 'not a regular file, FIFO or socket';
      throw new CaptureError(`Cannot read capture ${this.label}: it is ${what}`);
    }
    this.fileSize = stat.size;
    const head = Buffer.alloc(2);
    if (readSync(fd, head, 0, 2, 0) === 2 && captureKind(head, 2) === 'gzip') {
      this.compressed = true;
      return gunzipInput(createReadStream('', { fd, highWaterMark: COMPRESSED_READ_SIZE }));
    }
    return new FdInput(fd, this.fileChunkSize, this.carryRoom, this.readAhead);
  }

  /** A stream input, through gunzip when its first two bytes say so (they are put back for the parser). */
  private async openStream(stream: Readable): Promise<ByteInput> {
    this.opening = stream;
    let head: Buffer;
    try {
      head = await peek(stream, 2);
    } finally {
      this.opening = null;
    }
    if (captureKind(head, head.length) === 'gzip') {
      this.compressed = true;
      return gunzipInput(stream);
    }
    return new StreamInput(stream);
  }

  /** Fill, parse window by window, keep the unfinished tail, repeat; stops at end of input, damage or stop(). */
  private async pump(
    input: ByteInput | FdInput,
    onFrame: FrameHandler,
    between: (() => Promise<void> | void) | undefined,
    fastPath: RecordFastPath | null,
  ): Promise<FileReadResult> {
    const gzip = this.compressed;
    const where = gzip ? ' of the decompressed data' : '';
    // A regular file is read ahead into a second buffer (fdInput.ts); a stream is read into this one buffer.
    const file = input instanceof FdInput ? input : null;
    const stream = input instanceof FdInput ? null : input;
    const subject = gzip ? 'decompressed data' : file !== null ? 'file' : 'input';
    const frame = this.frame;
    let buf: Buffer = Buffer.allocUnsafe(file !== null ? 0 : this.chunkSize);
    let base = 0; // capture offset of buf[0]
    let end = 0; // bytes of buf filled
    let pos = 0; // first byte not yet parsed
    let parser: CaptureParser | null = null;
    let lastYield = performance.now();
    for (;;) {
      let want: number;
      let got: number;
      if (file !== null) {
        const carried = end - pos;
        const chunk = await file.next(buf, pos, end);
        base += pos - chunk.start;
        buf = chunk.buf;
        pos = chunk.start;
        end = pos + carried + chunk.got;
        want = this.fileChunkSize;
        got = chunk.got;
      } else {
        want = buf.length - end;
        got = await stream!.fill(buf, end, want);
        end += got;
      }
      // `done` read first, on every chunk: read only after a short chunk (the last one), the load had no type feedback
      // and threw pump()'s optimized code away at the end of every file (round perf16).
      const eof = input.done && got < want;
      // A stop leaves a file where it is; bytes taken from a pipe, stdin or gunzip cannot be read again, so the
      // ones this fill() got are parsed first (what a stream had buffered: small, as fill() does not wait for more).
      const final = this.stopRequested;
      if (final && file !== null) return this.result(parser, base + pos, null, true);
      if (parser === null) {
        // Nothing parsed yet: buf[pos, end) are the capture's first bytes (pos is 0 for a stream).
        const have = end - pos;
        if (have < MAGIC_BYTES && !eof && !final) continue;
        if (have < MAGIC_BYTES && final) return this.result(null, 0, null, true);
        if (have < MAGIC_BYTES) {
          if (input.failure !== null) return this.result(null, 0, `${this.label}: ${describeInputError(input.failure)} at byte ${have}${where}`);
          return this.result(null, 0, `${this.label}: ${subject} is ${have} bytes, too short to be a pcap or pcapng file`);
        }
        const head = buf.subarray(pos, end);
        const kind = captureKind(head, have);
        if (kind === 'pcap') {
          const pcap = new PcapParser();
          pcap.fastPath = fastPath;
          parser = pcap;
        } else if (kind === 'pcapng') {
          const ng = new PcapngParser();
          ng.fastPath = fastPath;
          parser = ng;
        }
        else {
          const what = gzip ? 'gzip content is not a pcap or pcapng file' : 'not a pcap or pcapng file';
          return this.result(null, 0, `${this.label}: ${what} (magic ${formatMagic(magicNumber(head))})`);
        }
      }
      for (;;) {
        const before = pos;
        const stop = Math.min(end, pos + Math.max(PARSE_WINDOW, parser.need));
        pos = parser.parse(buf, pos, stop, frame, onFrame);
        this.consumed = base + pos;
        if (parser.damage !== null) {
          return this.result(parser, base + pos, `${this.label}: damaged ${parser.unit} at byte ${base + pos}${where}: ${parser.damage}`);
        }
        if (between !== undefined) {
          const wait = between();
          if (wait !== undefined) await wait;
        }
        if (performance.now() - lastYield >= YIELD_EVERY_MS) {
          await yieldToEventLoop();
          lastYield = performance.now();
        }
        if (this.stopRequested && file !== null) return this.result(parser, base + pos, null, true);
        // Done with this chunk when the window reached its end, or when the next record is not all there yet.
        if (stop === end || (pos === before && parser.need > end - pos)) break;
      }
      if (final) return this.result(parser, base + pos, null, true);
      if (eof) {
        if (input.failure !== null) {
          return this.result(parser, base + pos, `${this.label}: ${describeInputError(input.failure)} at byte ${base + end}${where}`);
        }
        if (pos === end) return this.result(parser, base + pos, null);
        return this.result(parser, base + pos, cutMessage(this.label, parser, base + pos, base + end, subject));
      }
      // A file's next chunk carries the unfinished record itself (FdInput.next()).
      if (file !== null) continue;
      // Keep the unfinished record: move it to the front, then make room for the rest of it.
      if (pos > 0) {
        buf.copy(buf, 0, pos, end);
        base += pos;
        end -= pos;
        pos = 0;
      }
      if (parser.need > buf.length) {
        // Parsers bound `need` (MAX_CAPTURED_LENGTH, MAX_BLOCK_LENGTH), so this growth is bounded too.
        const grown = Buffer.allocUnsafe(Math.max(parser.need, Math.min(buf.length * 2, DEFAULT_CHUNK_SIZE)));
        buf.copy(grown, 0, 0, end);
        buf = grown;
      }
    }
  }

  private result(parser: CaptureParser | null, bytes: number, error: string | null, stopped = false): FileReadResult {
    return { frames: parser === null ? 0 : parser.frames, bytes, error, stopped };
  }
}

/** The message for a file that ends in the middle of something. */
function cutMessage(path: string, parser: CaptureParser, at: number, total: number, subject: string): string {
  if (parser.unit === 'file header') {
    return `${path}: ${subject} is ${total} bytes, shorter than the 24-byte pcap file header (truncated capture)`;
  }
  return `${path}: ${subject} ends inside a ${parser.unit} at byte ${at} (truncated capture)`;
}

function describeOpenError(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'no such file (check the path)';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied (the sensor user needs read access)';
  return err instanceof Error ? err.message : String(err);
}

function describeInputError(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'Z_BUF_ERROR') return 'gzip data ends early (truncated file)';
  if (code === 'Z_DATA_ERROR') return `gzip data is damaged (${(err as Error).message})`;
  return `read error (${err instanceof Error ? err.message : String(err)})`;
}

/**
 * Waits until `stream` has `n` bytes buffered (or ended, or failed) and returns a copy of its first bytes
 * (fewer at an early end) without consuming them: the next read() starts at the first byte again.
 */
async function peek(stream: Readable, n: number): Promise<Buffer> {
  for (;;) {
    const got = stream.read() as Buffer | null;
    if (got !== null) {
      stream.unshift(got);
      if (got.length >= n || stream.readableEnded) return Buffer.from(got.subarray(0, n));
      // Fewer than n bytes so far: wait for more (rare; a pipe's first write is nearly always bigger).
    }
    if (stream.readableEnded || stream.destroyed || stream.errored !== null) return Buffer.alloc(0);
    await new Promise<void>((resolve) => {
      const done = (): void => {
        stream.off('readable', done);
        stream.off('end', done);
        stream.off('error', done);
        stream.off('close', done);
        resolve();
      };
      stream.on('readable', done);
      stream.on('end', done);
      stream.on('error', done);
      stream.on('close', done);
    });
  }
}
