import { Frame, FrameHandler } from './frame';
import type { AddonCapture, LiveBinding, LiveStats } from './liveBinding';
import { RECORD_HEADER_BYTES, ResolvedLiveOptions } from './liveOptions';
import type { CaptureEngine } from './liveSource';
import type { BatchFastPath } from './recordFastPath';

/** Until start(): batches cannot arrive (the addon polls only after start), so this is never called. */
const NO_HANDLER: FrameHandler = () => undefined;

/**
 * Live capture through the project's addon (engine 'addon'): one JS call per batch of packets, one Frame for
 * all of them, pointed at the shared batch buffer; nothing is copied or allocated per packet.
 */
export class AddonSource implements CaptureEngine {
  readonly linkType: number;
  readonly warning: string;
  private readonly capture: AddonCapture;
  private readonly frame = new Frame();
  /** The shared batch buffer, and the same as native-order u32 words, for the record headers. */
  private readonly batch: Buffer;
  private readonly words: Uint32Array;
  private handler: FrameHandler = NO_HANDLER;
  /** The pipeline's fast path (round perf39) when it takes this link type, else null. */
  private fastPath: BatchFastPath | null = null;
  private onError: (err: Error) => void = (err) => {
    throw err;
  };
  private stopped = false;

  constructor(opts: ResolvedLiveOptions, binding: LiveBinding) {
    this.capture = binding.open(opts, this.onBatch, this.onFail);
    const batch = this.capture.batch;
    this.batch = batch;
    this.words = new Uint32Array(batch.buffer, batch.byteOffset, batch.byteLength >>> 2);
    this.linkType = this.capture.linkType;
    this.warning = this.capture.warning;
    this.frame.buf = batch;
    this.frame.linkType = this.linkType;
    this.frame.ifIndex = 0;
  }

  start(onFrame: FrameHandler, onError: (err: Error) => void, fastPath: BatchFastPath | null = null): void {
    this.handler = onFrame;
    this.fastPath = fastPath !== null && fastPath.startBatches(this.linkType) ? fastPath : null;
    this.onError = onError;
    this.capture.start();
  }

  /** Stops capture; packets already in the kernel buffer are still delivered (synchronously) before it returns. */
  stop(): void {
    if (this.stopped) return;
    this.capture.close();
    this.stopped = true;
  }

  stats(): LiveStats {
    return this.capture.stats();
  }

  /**
   * Walks the records of one batch; `stopped` is checked so that a handler calling stop() ends delivery. With a fast
   * path, each turn first lets it take the records it can (no JavaScript runs meanwhile, so `stopped` cannot change);
   * the record where it stopped is then handed to onFrame as always.
   */
  private readonly onBatch = (count: number, usedBytes: number): void => {
    const f = this.frame;
    const w = this.words;
    const handler = this.handler;
    const fast = this.fastPath;
    const batch = this.batch;
    let off = 0;
    for (let i = 0; i < count && !this.stopped; i++) {
      if (fast !== null) {
        off = fast.walkBatch(batch, off, usedBytes, count - i);
        i += fast.taken;
        if (i >= count) break;
      }
      const q = off >>> 2;
      const capLen = w[q + 2]!;
      f.ts = w[q]! + w[q + 1]! / 1e6;
      f.capLen = capLen;
      f.wireLen = w[q + 3]!;
      f.off = off + RECORD_HEADER_BYTES;
      handler(f);
      off += RECORD_HEADER_BYTES + ((capLen + 3) & ~3);
    }
  };

  private readonly onFail = (message: string): void => {
    this.stopped = true;
    this.onError(new Error(message));
  };
}
