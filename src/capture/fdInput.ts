import { closeSync, read, readSync } from 'node:fs';

import { helperThread } from '../config/helperThreads';

/**
 * Bytes kept free in front of the data read into a buffer, for the unfinished record of the chunk before it (a
 * record cut by the chunk end is copied there, in front of its rest). A longer remainder (a record larger than
 * this, or tiny test chunks) is joined in a new buffer instead.
 */
export const READ_AHEAD_ROOM = 256 * 1024;
/**
 * The bytes of a chunk are read to this distance past the room, so that their place in a memory page differs from
 * theirs in the file (read at multiples of the chunk size, so at page starts): with both at the same page offset the
 * kernel's copy out of the page cache ran into 4K aliasing and took 0.19-0.22 s of system time for the 1.2 GB bench
 * capture against 0.14 s at 16 to 64 bytes off (readSync of 4 MiB chunks, pinned, best of 2).
 */
const PAGE_SKEW = 64;

/** A chunk handed to the reader: its bytes are buf[start, start + carried + got). */
export interface Chunk {
  buf: Buffer;
  start: number;
  got: number;
}

/**
 * Reads a regular file in chunks into two buffers in turn: with more than one CPU, ahead of the parser, with
 * positioned reads in libuv's thread pool into the buffer the parser is not reading, so that while the capture
 * thread parses one chunk the next one is read (the copy out of the page cache is about a tenth of the capture
 * thread's CPU time otherwise, see README "Design notes"). A chunk's unfinished record is carried in front of the
 * next chunk's bytes.
 */
export class FdInput {
  fileBytesRead = 0;
  failure: Error | null = null;
  done = false;
  /** The read in flight (into `spare` at `at`) and its outcome, or null. */
  private reading: Promise<number> | null = null;
  private spare: Buffer;
  /** The pair's other buffer until the caller's first, empty buffer comes back (then it takes its place). */
  private other: Buffer | null;
  private closed = false;
  /** Where in a buffer a chunk's bytes are read to: after the room for the carried record, and PAGE_SKEW. */
  private readonly at: number;

  /**
   * `room`: bytes kept in front of each chunk for the one before's unfinished record (READ_AHEAD_ROOM; tests use
   * less). `ahead`: read the next chunk in the thread pool while this one is parsed; by default only where the process
   * may use at least FILE_RUN_THREAD_CPUS CPUs (on one, the thread pool's read took 0.1-0.2 s more CPU in a run of the
   * 1M bench capture than reading on the capture thread, for no gain in wall time; on two, ~0.1 s more wall time,
   * round perf49; SENSOR_THREADS_OFF=readahead turns it off, SENSOR_THREADS_ON=readahead on), else each chunk is read
   * when it is asked for.
   */
  constructor(
    private readonly fd: number,
    private readonly chunkSize: number,
    room = READ_AHEAD_ROOM,
    private readonly ahead = helperThread('readahead', process.env, true),
  ) {
    this.at = room + PAGE_SKEW;
    // A double field from the start: it passes 2^30 in a file over 1 GiB (fileSource.ts, `consumed`).
    this.fileBytesRead = 0.5;
    this.fileBytesRead = 0;
    // Both buffers of the pair in one ArrayBuffer: the pcap parser keeps one DataView per ArrayBuffer (pcapReader.ts).
    // The second starts at + chunkSize bytes in, so its chunk bytes keep a page offset of their own (PAGE_SKEW's point).
    const size = this.at + chunkSize;
    const pair = Buffer.allocUnsafeSlow(2 * size);
    this.spare = pair.subarray(0, size);
    this.other = pair.subarray(size, 2 * size);
  }

  /**
   * The next chunk: waits for the read ahead (starting it if none is in flight), carries the caller's unfinished
   * bytes buf[pos, end) in front of it, and starts the read of the chunk after it into `buf` (which the caller must
   * no longer read). Fewer than chunkSize bytes means the end of the file or a read error (`done`, `failure`).
   */
  async next(buf: Buffer, pos: number, end: number): Promise<Chunk> {
    let got: number;
    if (this.reading !== null) {
      got = await this.reading;
      this.reading = null;
    } else {
      got = this.readNow();
    }
    const carried = end - pos;
    const data = this.spare;
    let chunk: Chunk;
    let free: Buffer;
    if (carried <= this.at) {
      buf.copy(data, this.at - carried, pos, end);
      chunk = { buf: data, start: this.at - carried, got };
      free = buf;
    } else {
      // A remainder longer than the room: the record and the new bytes joined in a buffer of their own.
      const joined = Buffer.allocUnsafe(Math.max(carried + got, this.at + this.chunkSize));
      buf.copy(joined, 0, pos, end);
      data.copy(joined, carried, this.at, this.at + got);
      chunk = { buf: joined, start: 0, got };
      free = data;
    }
    // The buffer given back is read into next, unless it is too small to be one of the pair (a first, empty one).
    if (free.length >= this.at + this.chunkSize) this.spare = free;
    else {
      this.spare = this.other ?? Buffer.allocUnsafe(this.at + this.chunkSize);
      this.other = null;
    }
    if (!this.done && this.ahead) this.startRead();
    return chunk;
  }

  /** Reads up to chunkSize bytes at the file position into spare[at...] on this thread (one CPU: no thread to read ahead on). */
  private readNow(): number {
    let n = 0;
    while (n < this.chunkSize && !this.done) {
      let got: number;
      try {
        got = readSync(this.fd, this.spare, this.at + n, this.chunkSize - n, this.fileBytesRead);
      } catch (e) {
        this.failure = e instanceof Error ? e : new Error(String(e));
        this.done = true;
        break;
      }
      if (got === 0) this.done = true;
      n += got;
      this.fileBytesRead += got;
    }
    return n;
  }

  /** Reads up to chunkSize bytes at the file position into spare[at...]; short only at the end or on an error. */
  private startRead(): void {
    const target = this.spare;
    const chunkSize = this.chunkSize;
    const at = this.at;
    this.reading = new Promise<number>((resolve) => {
      let n = 0;
      const step = (): void => {
        read(this.fd, target, at + n, chunkSize - n, this.fileBytesRead, (err, got) => {
          if (err !== null) {
            // EIO on a failing disk, a file on a network mount that went away: the input ends here.
            this.failure = err;
            this.done = true;
            resolve(n);
            return;
          }
          if (got === 0) {
            this.done = true;
            resolve(n);
            return;
          }
          n += got;
          this.fileBytesRead += got;
          if (n < chunkSize) step();
          else resolve(n);
        });
      };
      step();
    });
  }

  abort(): void {
    // Reads of a regular file never wait; the reader checks for a stop between reads.
  }

  /** Closes the file once the read in flight (if any) has ended. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.reading !== null) await this.reading;
    closeSync(this.fd);
  }
}
