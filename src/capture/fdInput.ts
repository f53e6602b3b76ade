import { closeSync, readSync } from 'node:fs';
import type { ByteInput } from './byteInput';

/** Reads a regular file with positioned synchronous reads, straight into the caller's buffer. */
export class FdInput implements ByteInput {
  fileBytesRead = 0;
  failure: Error | null = null;
  done = false;

  constructor(private readonly fd: number) {}

  fill(buf: Buffer, off: number, len: number): number {
    let n = 0;
    while (n < len) {
      let got: number;
      try {
        got = readSync(this.fd, buf, off + n, len - n, this.fileBytesRead);
      } catch (e) {
        // EIO on a failing disk, a file on a network mount that went away: the input ends here.
        this.failure = e instanceof Error ? e : new Error(String(e));
        this.done = true;
        break;
      }
      if (got === 0) {
        this.done = true;
        break;
      }
      n += got;
      this.fileBytesRead += got;
    }
    return n;
  }

  abort(): void {
    // Reads of a regular file never wait; the reader checks for a stop between reads.
  }

  close(): void {
    closeSync(this.fd);
  }
}
