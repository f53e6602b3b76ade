import type { Frame, FrameHandler } from './frame';

/**
 * A capture-format parser that walks records in a window of the reader's buffer. The reader owns the
 * buffer (plain file or gunzip output); the parser owns the format state (byte order, interfaces,
 * timestamp units). Per record it allocates nothing and throws nothing: damage stops the walk and is
 * described in `damage`.
 */
export interface CaptureParser {
  /**
   * Delivers every complete record in buf[pos, end) to `onFrame` (frame.buf = buf, no copy) and
   * returns the offset of the first byte not consumed. It stops early when the next record is
   * incomplete (`need` then says how many bytes from the returned offset it takes) or damaged
   * (`damage` is then set and the returned offset is where the damaged record starts).
   */
  parse(buf: Buffer, pos: number, end: number, frame: Frame, onFrame: FrameHandler): number;
  /** Bytes the unit at the last returned offset needs (header at least), for growing the buffer. */
  readonly need: number;
  /** Why the unit at the last returned offset cannot be read, without file name or offset; else null. */
  readonly damage: string | null;
  /** Frames delivered so far. */
  readonly frames: number;
  /** What the next unit is, for messages: 'record', 'block', 'file header'. */
  readonly unit: string;
}
