/**
 * Where a FileSource's bytes come from: a file read in place, a stream (stdin, a FIFO) or gunzip output. Either
 * way the bytes are written into the reader's own buffer, so the parsers see one kind of input.
 */
export interface ByteInput {
  /**
   * Writes up to `len` bytes into buf[off, off + len) and returns how many. A stream returns what has arrived
   * once it has some (a live pipe must not wait for a full buffer), so fewer than `len` means the input ended
   * only when `done` is set: at its end, at a read or decompression error (`failure` then says which; everything
   * before it was delivered first), or because abort() was called and nothing more had arrived. Never rejects.
   */
  fill(buf: Buffer, off: number, len: number): Promise<number> | number;
  /** No more bytes will come (end, failure, or abort() with nothing left): set by the fill() that found it. */
  readonly done: boolean;
  /** The error that ended the input early, or null. */
  readonly failure: Error | null;
  /** Bytes of the file (or stream) read so far (compressed bytes for gzip), for progress. */
  readonly fileBytesRead: number;
  /** Makes a fill() that is waiting for data (a FIFO with no writer yet) return at once with what it has. */
  abort(): void;
  /** Releases the file descriptor / streams; safe to call once at the end, whatever happened. */
  close(): void;
}
