import { AddonSource } from './addonSource';
import { CaptureError } from './captureError';
import { CAP_FIX, CapSource, loadCap } from './capSource';
import type { FrameHandler } from './frame';
import { ADDON_FIX, liveBinding, LiveStats } from './liveBinding';
import { LiveOptions, resolveLiveOptions, ResolvedLiveOptions } from './liveOptions';

/** What an engine provides; LiveSource adds the engine choice and the checks. */
export interface CaptureEngine {
  readonly linkType: number;
  readonly warning: string;
  start(onFrame: FrameHandler, onError: (err: Error) => void): void;
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
  readonly engine: 'addon' | 'cap';
  /** LINKTYPE_ of the interface. */
  readonly linkType: number;
  /** Something to log once at start (libpcap's warning, the limits of the cap engine, a fallback), or ''. */
  readonly warning: string;
  readonly options: ResolvedLiveOptions;
  private readonly impl: CaptureEngine;

  constructor(opts: LiveOptions & { engine: 'addon' | 'cap' }, note = '') {
    const o = resolveLiveOptions(opts);
    if (o.engine === 'auto') {
      throw new CaptureError("LiveSource needs engine 'addon' or 'cap'; openLive() picks one for 'auto'");
    }
    this.options = o;
    this.name = o.interface;
    this.engine = o.engine;
    if (o.engine === 'addon') {
      const binding = liveBinding();
      if (binding instanceof Error) throw binding;
      this.impl = new AddonSource(o, binding);
    } else {
      const cap = loadCap();
      if (cap instanceof Error) throw cap;
      this.impl = new CapSource(o, cap);
    }
    this.linkType = this.impl.linkType;
    this.warning = [note, this.impl.warning].filter((s) => s !== '').join('; ');
  }

  /** Delivers every captured frame to onFrame; onError gets a failure while running (the capture has stopped). */
  start(onFrame: FrameHandler, onError: (err: Error) => void = rethrow): void {
    if (typeof onFrame !== 'function') throw new TypeError(`LiveSource.start: onFrame must be a function, got ${typeof onFrame}`);
    this.impl.start(onFrame, onError);
  }

  /** Stops capture and releases the interface; stats() keeps the last values. Idempotent. */
  stop(): void {
    this.impl.stop();
  }

  stats(): LiveStats {
    return this.impl.stats();
  }
}

/**
 * Opens a live capture with the configured engine: 'auto' is the addon when it loaded, else `cap`, else a
 * CaptureError that says what to install.
 */
export function openLive(opts: LiveOptions): LiveSource {
  const o = resolveLiveOptions(opts);
  if (o.engine !== 'auto') return new LiveSource({ ...opts, engine: o.engine });
  const addon = liveBinding();
  if (!(addon instanceof Error)) return new LiveSource({ ...opts, engine: 'addon' });
  const cap = loadCap();
  if (!(cap instanceof Error)) {
    return new LiveSource({ ...opts, engine: 'cap' }, `using engine 'cap' because the addon is unavailable (${ADDON_FIX})`);
  }
  throw new CaptureError(
    `Cannot capture on ${o.interface}: no capture engine is available (the native addon is not built and the 'cap' package did not load): ` +
      `${ADDON_FIX}; or ${CAP_FIX}`,
  );
}
