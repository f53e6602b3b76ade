import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { CaptureError } from './captureError';
import { LiveOptions, RECORD_HEADER_BYTES, resolveLiveOptions } from './liveOptions';

/**
 * The one module that loads the live capture addon (native/, libpcap). Every argument is checked here before
 * any native call (the addon checks types again); nothing else in the project requires the .node file.
 */

/** Where node-gyp puts the addon (scripts/build-native.js); the same from src/ and from dist/. */
export const ADDON_PATH = path.resolve(__dirname, '..', '..', 'native', 'build', 'Release', 'sensor_pcap.node');

/** What to do when the addon is missing: said once, reused by every message that needs it. */
export const ADDON_FIX = 'apt-get install libpcap-dev, then npm run build:native';

/** Counters of one capture. */
export interface LiveStats {
  /** Packets that passed the filter, as the kernel counts them (includes `dropped`); -1 where unknown. */
  received: number;
  /** Packets the kernel dropped because the capture buffer was full (pcap ps_drop); -1 where unknown. */
  dropped: number;
  /** Packets the interface/driver dropped (pcap ps_ifdrop); -1 where unknown. */
  ifDropped: number;
  /** Packets handed to the frame handler. */
  delivered: number;
  /** JS callbacks that delivered them (the addon batches packets). */
  batches: number;
  /** Times the interface went down and capture carried on when it came back (link flaps); -1 where unknown. */
  linkDowns: number;
}

/** One network device as libpcap lists it. */
export interface InterfaceInfo {
  name: string;
  description: string;
  /** IPv4/IPv6 addresses as text. */
  addresses: string[];
  loopback: boolean;
  /** null where libpcap cannot tell. */
  up: boolean | null;
  running: boolean | null;
}

/** Called once per batch: `count` records in the first `usedBytes` bytes of the batch buffer. */
export type BatchHandler = (count: number, usedBytes: number) => void;

/** An open addon capture. Records are `u32 tsSec, tsUsec, capLen, wireLen` + capLen bytes, padded to 4. */
export interface AddonCapture {
  /** LINKTYPE_ of the interface. */
  readonly linkType: number;
  /** Bytes kept per packet. */
  readonly snaplen: number;
  /** A non-fatal note from libpcap (e.g. promiscuous mode unsupported), or ''. */
  readonly warning: string;
  /** The shared batch buffer the records are written into. */
  readonly batch: Buffer;
  /** Begins delivering batches (packets queue in the kernel ring until then). */
  start(): void;
  /** Stops and releases the handle; stats() keeps the last values. Idempotent. */
  close(): void;
  stats(): LiveStats;
}

export interface LiveBinding {
  /** Opens `opts.interface` (the options are checked and defaulted first). Throws one-line Errors. */
  open(opts: LiveOptions, onBatch: BatchHandler, onError: (message: string) => void): AddonCapture;
  /** Devices libpcap can open (pcap_findalldevs). */
  listInterfaces(): InterfaceInfo[];
}

interface NativeCapture {
  readonly linkType: number;
  readonly snaplen: number;
  readonly warning: string;
  start(): void;
  close(): void;
  stats(): LiveStats;
}

interface NativeModule {
  LiveCapture: new (
    iface: string,
    opts: { snaplen: number; promisc: boolean; bufferSize: number; filter: string; timeoutMs: number; immediate: boolean; fanoutGroup: number },
    batch: Buffer,
    onBatch: BatchHandler,
    onError: (message: string) => void,
  ) => NativeCapture;
  listInterfaces(): InterfaceInfo[];
  recordHeaderBytes: number;
}

function checkFunction(name: string, v: unknown): void {
  if (typeof v !== 'function') throw new TypeError(`Invalid live capture callback ${name}: expected a function, got ${typeof v}`);
}

function wrap(native: NativeModule): LiveBinding {
  return {
    open(opts, onBatch, onError) {
      const o = resolveLiveOptions(opts);
      checkFunction('onBatch', onBatch);
      checkFunction('onError', onError);
      // allocUnsafeSlow: an ArrayBuffer of its own (not Node's shared pool), so offset 0 and 4-byte aligned.
      const batch = Buffer.allocUnsafeSlow(o.batchBytes);
      const settings = {
        snaplen: o.snaplen,
        promisc: o.promisc,
        bufferSize: o.bufferSize,
        filter: o.filter,
        timeoutMs: o.timeoutMs,
        immediate: o.immediate,
        fanoutGroup: o.fanoutGroup ?? -1,
      };
      let cap: NativeCapture;
      try {
        cap = new native.LiveCapture(o.interface, settings, batch, onBatch, onError);
      } catch (e) {
        // The addon's open errors are already one line that says what to do; give them the user-error class.
        throw new CaptureError(firstLine(e));
      }
      return {
        linkType: cap.linkType,
        snaplen: cap.snaplen,
        warning: cap.warning,
        batch,
        start: () => cap.start(),
        close: () => cap.close(),
        stats: () => cap.stats(),
      };
    },
    listInterfaces: () => native.listInterfaces(),
  };
}

/** First line of an error message, so load failures stay one line. */
function firstLine(e: unknown): string {
  return String(e instanceof Error ? e.message : e).split('\n')[0] ?? '';
}

/** Loads the addon at `file` (no caching): the binding, or an Error whose message says what to install. */
export function loadLiveBinding(file: string = ADDON_PATH): LiveBinding | Error {
  if (!existsSync(file)) return new CaptureError(`Live capture addon is not built (${file} is missing): ${ADDON_FIX}`);
  let native: NativeModule;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    native = require(file) as NativeModule;
  } catch (e) {
    return new CaptureError(`Live capture addon failed to load (${firstLine(e)}): ${ADDON_FIX}`);
  }
  if (typeof native.LiveCapture !== 'function' || native.recordHeaderBytes !== RECORD_HEADER_BYTES) {
    return new CaptureError(`Live capture addon ${file} does not match this version of the sensor: npm run build:native`);
  }
  return wrap(native);
}

let cached: LiveBinding | Error | undefined;

/** The addon, loaded once per process; an Error (not thrown) when it cannot load. */
export function liveBinding(): LiveBinding | Error {
  if (cached === undefined) cached = loadLiveBinding();
  return cached;
}
