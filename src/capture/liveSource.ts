import { AddonSource } from './addonSource';
import type { FrameHandler } from './frame';
import type { BatchFastPath } from './recordFastPath';
import { liveBinding, type LiveStats } from './liveBinding';
import { LiveOptions, resolveLiveOptions, ResolvedLiveOptions } from './liveOptions';

/** What an engine provides; LiveSource adds the engine choice and the checks. */
export interface CaptureEngine {
  readonly linkType: number;
  readonly warning: string;
  start(onFrame: FrameHandler, onError: (err: Error) => void, fastPath?: BatchFastPath | null): void;
  stop(): void;
  stats(): LiveStats;
}

/** Without an onError, a capture that fails while running (interface removed) is rethrown: never silent. */
function rethrow(err: Error): void {
  throw err;
}

/**
 * A live capture on one interface with the engine named in the options. The interface is opened in the
 * constructor (so a missing device or permission fails here, with one line that says what to do); frames flow
 * from start() until stop(). The same Frame object is reused for every packet.
 */
export class LiveSource {
  /** The interface name. */
  readonly name: string;
  readonly engine: 'addon';
  /** LINKTYPE_ of the interface. */
  readonly linkType: number;
  /** Something to log once at start (libpcap's warning), or ''. */
  readonly warning: string;
  readonly options: ResolvedLiveOptions;
  private readonly impl: CaptureEngine;

  constructor(opts: LiveOptions) {
    const o = resolveLiveOptions(opts);
    this.options = o;
    this.name = o.interface;
    this.engine = 'addon';
    const binding = liveBinding();
    if (binding instanceof Error) throw binding;
    this.impl = new AddonSource(o, binding);
    this.linkType = this.impl.linkType;
    this.warning = this.impl.warning;
  }

  /**
   * Delivers every captured frame to onFrame; onError gets a failure while running (the capture has stopped). With a
   * `fastPath` (the pipeline's, round perf39), the packets it takes reach the flow table without onFrame; every other
   * one reaches onFrame, in order.
   */
  start(onFrame: FrameHandler, onError: (err: Error) => void = rethrow, fastPath: BatchFastPath | null = null): void {
    if (typeof onFrame !== 'function') throw new TypeError(`LiveSource.start: onFrame must be a function, got ${typeof onFrame}`);
    this.impl.start(onFrame, onError, fastPath);
  }

  /** Stops capture and releases the interface; stats() keeps the last values. Idempotent. */
  stop(): void {
    this.impl.stop();
  }

  stats(): LiveStats {
    return this.impl.stats();
  }
}

/** Opens a live capture (the addon); a CaptureError that says what to install when it is not built. */
export function openLive(opts: LiveOptions): LiveSource {
  return new LiveSource(opts);
}
