import { createReadStream, type ReadStream } from 'node:fs';
import { createGunzip, type Gunzip } from 'node:zlib';
import type { ByteInput } from './byteInput';

/** Read size for the compressed file: large reads, few syscalls. */
const COMPRESSED_READ_SIZE = 1024 * 1024;
/**
 * Size of the pieces gunzip emits (Node's default is 16 KiB). Larger pieces mean fewer promises and
 * copies per MB; 256 KiB keeps the copy into the reader's buffer cheap.
 */
const GUNZIP_OUTPUT_SIZE = 256 * 1024;

/**
 * Decompresses a gzip file as a stream (createGunzip over a read stream) and copies the output into
 * the reader's buffer, so a compressed capture goes through the same parser as a plain one and is
 * never held in memory whole. Concatenated gzip members are read as one stream, as gunzip(1) does.
 */
export class GunzipInput implements ByteInput {
  private readonly file: ReadStream;
  private readonly gunzip: Gunzip;
  private readonly pieces: AsyncIterator<Buffer>;
  private piece: Buffer | null = null;
  private pieceOff = 0;

  constructor(path: string) {
    this.file = createReadStream(path, { highWaterMark: COMPRESSED_READ_SIZE });
    this.gunzip = createGunzip({ chunkSize: GUNZIP_OUTPUT_SIZE });
    // pipe() does not forward source errors; without this a read error would leave the reader waiting.
    this.file.on('error', (err) => this.gunzip.destroy(err));
    this.file.pipe(this.gunzip);
    this.pieces = this.gunzip[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  }

  get fileBytesRead(): number {
    return this.file.bytesRead;
  }

  async fill(buf: Buffer, off: number, len: number): Promise<number> {
    let n = 0;
    while (n < len) {
      if (this.piece === null) {
        const next = await this.pieces.next();
        if (next.done === true) break;
        this.piece = next.value;
        this.pieceOff = 0;
      }
      const piece = this.piece;
      const copied = piece.copy(buf, off + n, this.pieceOff, Math.min(piece.length, this.pieceOff + len - n));
      n += copied;
      this.pieceOff += copied;
      if (this.pieceOff >= piece.length) this.piece = null;
    }
    return n;
  }

  close(): void {
    this.gunzip.destroy();
    this.file.destroy();
  }
}
