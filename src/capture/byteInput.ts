/**
 * Where a FileSource's bytes come from: the file itself or its gunzip output. Either way the bytes
 * are written into the reader's own buffer, so the parsers see one kind of input.
 */
export interface ByteInput {
  /**
   * Writes up to `len` bytes into buf[off, off + len) and returns how many; fewer than `len` only at
   * the end of the input. Rejects/throws on a read or decompression error.
   */
  fill(buf: Buffer, off: number, len: number): Promise<number> | number;
  /** Bytes of the file on disk read so far (compressed bytes for gzip), for progress. */
  readonly fileBytesRead: number;
  /** Releases the file descriptor / streams; safe to call once at the end, whatever happened. */
  close(): void;
}
