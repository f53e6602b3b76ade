import type { Readable } from 'node:stream';
import type { ByteInput } from './byteInput';

/**
 * Reads a Node stream (stdin, a FIFO, gunzip output) in paused mode with read(), copying into the reader's
 * buffer. Unlike the stream's async iterator, read() still returns what the stream had buffered after it failed
 * (gunzip on a file cut short decodes everything up to the cut, then fails), so nothing readable is lost: fill()
 * delivers those bytes and only then reports the end, with `failure` set.
 */
export class StreamInput implements ByteInput {
  failure: Error | null = null;
  done = false;
  private ended = false;
  private aborted = false;
  private piece: Buffer | null = null;
  private pieceOff = 0;
  private wake: (() => void) | null = null;
  private copied = 0;

  /**
   * @param stream what to read
   * @param bytesRead bytes of the underlying file read so far (the compressed file for gunzip); by default the
   *   bytes this input delivered
   * @param release closes whatever feeds the stream (the compressed file for gunzip), after the stream itself
   */
  constructor(
    private readonly stream: Readable,
    private readonly bytesRead: (() => number) | null = null,
    private readonly release: () => void = () => undefined,
  ) {
    stream.on('readable', this.notify);
    stream.on('end', () => {
      this.ended = true;
      this.notify();
    });
    stream.on('error', (e: Error) => {
      if (this.failure === null) this.failure = e;
      this.notify();
    });
    stream.on('close', this.notify);
  }

  get fileBytesRead(): number {
    return this.bytesRead !== null ? this.bytesRead() : this.copied;
  }

  async fill(buf: Buffer, off: number, len: number): Promise<number> {
    let n = 0;
    while (n < len) {
      if (this.piece === null) {
        const next = this.stream.read() as Buffer | null;
        if (next === null) {
          // After abort() what has arrived is still handed over (a pipe's bytes cannot be read again); no waiting.
          if (this.ended || this.failure !== null || this.stream.destroyed || this.aborted) {
            this.done = true;
            break;
          }
          // A live pipe (tcpdump -U -w - | sensor --pcap -): what arrived is parsed now, not when a chunk is full.
          if (n > 0) break;
          await new Promise<void>((resolve) => (this.wake = resolve));
          continue;
        }
        this.piece = next;
        this.pieceOff = 0;
      }
      const piece = this.piece;
      const copied = piece.copy(buf, off + n, this.pieceOff, Math.min(piece.length, this.pieceOff + len - n));
      n += copied;
      this.pieceOff += copied;
      if (this.pieceOff >= piece.length) this.piece = null;
    }
    this.copied += n;
    return n;
  }

  abort(): void {
    this.aborted = true;
    this.notify();
  }

  close(): void {
    this.aborted = true;
    this.stream.destroy();
    this.release();
    this.notify();
  }

  private readonly notify = (): void => {
    const wake = this.wake;
    this.wake = null;
    if (wake !== null) wake();
  };
}
