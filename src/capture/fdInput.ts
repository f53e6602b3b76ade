import { closeSync, readSync } from 'node:fs';
import type { ByteInput } from './byteInput';

/** Reads an uncompressed file with positioned synchronous reads, straight into the caller's buffer. */
export class FdInput implements ByteInput {
  fileBytesRead = 0;

  constructor(private readonly fd: number) {}

  fill(buf: Buffer, off: number, len: number): number {
    let n = 0;
    while (n < len) {
      const got = readSync(this.fd, buf, off + n, len - n, this.fileBytesRead);
      if (got === 0) break;
      n += got;
      this.fileBytesRead += got;
    }
    return n;
  }

  close(): void {
    closeSync(this.fd);
  }
}
