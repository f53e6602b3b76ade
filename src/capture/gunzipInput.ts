import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { StreamInput } from './streamInput';

/**
 * Size of the pieces gunzip emits (Node's default is 16 KiB). Larger pieces mean fewer promises and
 * copies per MB; 256 KiB keeps the copy into the reader's buffer cheap.
 */
const GUNZIP_OUTPUT_SIZE = 256 * 1024;

/**
 * Decompresses a gzip stream (a file's read stream, stdin, a FIFO) and hands the output to the reader as a
 * StreamInput, so a compressed capture goes through the same parser as a plain one and is never held in memory
 * whole. Concatenated gzip members are read as one stream, as gunzip(1) does. gunzip only decompresses as fast
 * as the reader takes its output (stream back-pressure), so a highly compressed file cannot flood memory.
 */
export function gunzipInput(source: Readable & { bytesRead?: number }): StreamInput {
  const gunzip = createGunzip({ chunkSize: GUNZIP_OUTPUT_SIZE });
  // pipe() does not forward source errors; without this a read error would leave the reader waiting.
  source.on('error', (err) => gunzip.destroy(err));
  source.pipe(gunzip);
  return new StreamInput(gunzip, () => source.bytesRead ?? 0, () => source.destroy());
}
