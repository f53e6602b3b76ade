import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import type { ByteInput } from './byteInput';
import type { CaptureParser } from './captureParser';
import { MAGIC_BYTES, captureKind, formatMagic, magicNumber } from './captureMagic';
import { FdInput } from './fdInput';
import { Frame, type FrameHandler } from './frame';
import { GunzipInput } from './gunzipInput';
import { PcapParser } from './pcapReader';
import { PcapngParser } from './pcapngReader';

/**
 * Default read buffer. Large enough that a syscall and a `between()` await cost nothing per packet
 * (~40k small packets per chunk), small enough to stay in memory for any file size.
 */
const DEFAULT_CHUNK_SIZE = 4 * 1024 * 1024;
/** Smallest accepted chunkSize (tests use tiny chunks to make records straddle chunk ends). */
const MIN_CHUNK_SIZE = 16;

/** Outcome of reading one capture file. */
export interface FileReadResult {
  /** Frames delivered. */
  frames: number;
  /** Capture bytes consumed (decompressed bytes for a gzip file). */
  bytes: number;
  /** One line naming the file and what is wrong, or null. */
  error: string | null;
}

/**
 * Reads one offline capture (classic pcap, pcapng, either one gzipped) in chunks into one reused
 * buffer and hands out every packet as a view into it: no copy, no allocation per packet.
 */
export class FileSource {
  readonly path: string;
  private readonly chunkSize: number;
  private readonly frame = new Frame();
  private consumed = 0;
  private fileSize = 0;
  private input: ByteInput | null = null;

  constructor(path: string, opts?: { chunkSize?: number }) {
    this.path = path;
    this.chunkSize = Math.max(MIN_CHUNK_SIZE, Math.floor(opts?.chunkSize ?? DEFAULT_CHUNK_SIZE));
  }

  /** Bytes of the file consumed so far (compressed bytes read, for a gzip file). */
  get bytesRead(): number {
    return this.input instanceof GunzipInput ? this.input.fileBytesRead : this.consumed;
  }

  /** Size of the file on disk (0 until run() opened it). */
  get size(): number {
    return this.fileSize;
  }

  /**
   * Reads the whole file, calling onFrame for every packet (one reused Frame). Between chunks it
   * awaits `between()` if given. Damaged input never throws: reading stops at the damage and the
   * result's `error` says where. Throws only when the path cannot be opened.
   */
  async run(onFrame: FrameHandler, between?: () => Promise<void> | void): Promise<FileReadResult> {
    const input = this.open();
    this.input = input;
    try {
      return await this.pump(input, onFrame, between);
    } finally {
      input.close();
    }
  }

  /** Opens the file and picks the plain or gunzip input by its first two bytes. */
  private open(): ByteInput {
    let fd: number;
    try {
      fd = openSync(this.path, 'r');
    } catch (err) {
      throw new Error(`Cannot read capture ${this.path}: ${describeOpenError(err)}`);
    }
    const stat = fstatSync(fd);
    if (stat.isDirectory()) {
      closeSync(fd);
      throw new Error(`Cannot read capture ${this.path}: it is a directory (expand it with listCaptures first)`);
    }
    this.fileSize = stat.size;
    const head = Buffer.alloc(2);
    if (readSync(fd, head, 0, 2, 0) === 2 && captureKind(head, 2) === 'gzip') {
      closeSync(fd);
      return new GunzipInput(this.path);
    }
    return new FdInput(fd);
  }

  /** Fill, parse, keep the unfinished tail, repeat; stops at end of input or at damage. */
  private async pump(input: ByteInput, onFrame: FrameHandler, between?: () => Promise<void> | void): Promise<FileReadResult> {
    const gzip = input instanceof GunzipInput;
    const where = gzip ? ' of the decompressed data' : '';
    const subject = gzip ? 'decompressed data' : 'file';
    const frame = this.frame;
    let buf = Buffer.allocUnsafe(this.chunkSize);
    let base = 0; // capture offset of buf[0]
    let end = 0; // bytes of buf filled
    let pos = 0; // first byte not yet parsed
    let eof = false;
    let parser: CaptureParser | null = null;
    for (;;) {
      const want = buf.length - end;
      let got: number;
      try {
        got = await input.fill(buf, end, want);
      } catch (err) {
        return this.result(parser, base + pos, `${this.path}: ${describeInputError(err)} at byte ${base + end}${where}`);
      }
      end += got;
      eof = got < want;
      if (parser === null) {
        if (end < MAGIC_BYTES) {
          return this.result(null, 0, `${this.path}: ${subject} is ${end} bytes, too short to be a pcap or pcapng file`);
        }
        const kind = captureKind(buf, end);
        if (kind === 'pcap') parser = new PcapParser();
        else if (kind === 'pcapng') parser = new PcapngParser();
        else {
          const what = gzip ? 'gzip content is not a pcap or pcapng file' : 'not a pcap or pcapng file';
          return this.result(null, 0, `${this.path}: ${what} (magic ${formatMagic(magicNumber(buf))})`);
        }
      }
      pos = parser.parse(buf, pos, end, frame, onFrame);
      this.consumed = base + pos;
      if (parser.damage !== null) {
        return this.result(parser, base + pos, `${this.path}: damaged ${parser.unit} at byte ${base + pos}${where}: ${parser.damage}`);
      }
      if (eof) {
        if (pos === end) return this.result(parser, base + pos, null);
        return this.result(parser, base + pos, cutMessage(this.path, parser, base + pos, base + end, gzip));
      }
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
      if (between !== undefined) await between();
    }
  }

  private result(parser: CaptureParser | null, bytes: number, error: string | null): FileReadResult {
    return { frames: parser === null ? 0 : parser.frames, bytes, error };
  }
}

/** The message for a file that ends in the middle of something. */
function cutMessage(path: string, parser: CaptureParser, at: number, total: number, gzip: boolean): string {
  const subject = gzip ? 'decompressed data' : 'file';
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
