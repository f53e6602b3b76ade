import { CaptureError } from './captureError';

/**
 * Options of a live capture, their defaults and their one check. Both engines and the addon's JS module
 * (liveBinding.ts) go through `resolveLiveOptions`, so a bad value gets the same one-line message whichever
 * path it takes, before any native code runs.
 */

/**
 * Which capture engine: the project's addon ('auto' is the same). The `cap` package was the fallback engine and is
 * gone (README design notes): it built a second native module on every install and aborted on link-down.
 */
export type LiveEngine = 'auto' | 'addon';

export interface LiveOptions {
  /** Interface name as `sensor interfaces` lists it. */
  interface: string;
  /** Bytes kept per packet; the default keeps headers only (metadata only, and a smaller kernel copy). */
  snaplen?: number;
  /** Promiscuous mode: needed on a mirror port, where frames are not addressed to this host. */
  promisc?: boolean;
  /** Kernel capture buffer (the packet ring) in bytes: how large a burst is absorbed while JS is busy. */
  bufferSize?: number;
  /** BPF filter (man 7 pcap-filter), compiled into the kernel; '' captures everything. */
  filter?: string;
  /** How long the kernel may hold a partly filled block before handing it over (addon), in milliseconds. */
  timeoutMs?: number;
  /** Hand over every packet at once instead of in blocks: lower latency, more wake-ups (addon). */
  immediate?: boolean;
  /** Size of the shared batch buffer that one JS callback reads (addon). */
  batchBytes?: number;
  /**
   * PACKET_FANOUT group to join (addon, Linux): every sensor process capturing the interface with the same group
   * gets a share of the flows, whole flows in both directions (kernel flow hash). null: a socket of its own.
   */
  fanoutGroup?: number | null;
  /** Engine: 'addon' ('auto' is the same). */
  engine?: LiveEngine;
}

export type ResolvedLiveOptions = Required<LiveOptions>;

/** Bytes before each packet in the addon's batch buffer: u32 tsSec, tsUsec, capLen, wireLen. */
export const RECORD_HEADER_BYTES = 16;

/** Largest snaplen libpcap accepts (MAXIMUM_SNAPLEN). */
const MAX_SNAPLEN = 262144;

export const LIVE_DEFAULTS: Omit<ResolvedLiveOptions, 'interface'> = {
  // Ethernet + 2 VLAN tags + IPv6 + TCP with full options is 136 bytes; 128 covers IPv4 and IPv6 without
  // extension headers with room for TCP options (SPEC.md: headers only, metadata only).
  snaplen: 128,
  promisc: true,
  // About 300k headers-only packets in the TPACKET_V3 ring: a few seconds of a busy 1 Gbit/s mirror port while
  // the flow table or a database commit holds the event loop.
  bufferSize: 64 * 1024 * 1024,
  filter: 'tcp',
  // The kernel retires a partly filled ring block after this long; it bounds the delay at low rates only.
  timeoutMs: 100,
  immediate: false,
  // ~7,000 headers-only packets per JS call: the per-call cost is negligible and the buffer stays in cache.
  batchBytes: 1024 * 1024,
  fanoutGroup: null,
  engine: 'auto',
};

const KNOWN: readonly (keyof LiveOptions)[] = [
  'interface',
  'snaplen',
  'promisc',
  'bufferSize',
  'filter',
  'timeoutMs',
  'immediate',
  'batchBytes',
  'fanoutGroup',
  'engine',
];

/** A value as the messages show it: strings quoted, the rest by kind. */
function show(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : typeof v;
}

function invalid(key: string, expected: string, got: unknown): CaptureError {
  return new CaptureError(`Invalid live capture option ${key}: expected ${expected}, got ${show(got)}`);
}

/** The given value, or the default when the key is absent (null is a value, and an invalid one). */
function pick(o: Record<string, unknown>, key: keyof typeof LIVE_DEFAULTS): unknown {
  return o[key] === undefined ? LIVE_DEFAULTS[key] : o[key];
}

function int(o: Record<string, unknown>, key: keyof typeof LIVE_DEFAULTS, min: number, max: number): number {
  const v = pick(o, key);
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw invalid(key, `an integer from ${min} to ${max}`, v);
  }
  return v;
}

function bool(o: Record<string, unknown>, key: keyof typeof LIVE_DEFAULTS): boolean {
  const v = pick(o, key);
  if (typeof v !== 'boolean') throw invalid(key, 'true or false', v);
  return v;
}

/** Checks an interface name: what libpcap and the kernel can take, so the native side never sees worse. */
export function checkInterfaceName(v: unknown): string {
  if (typeof v !== 'string' || v.length === 0 || v.length > 255 || v.includes('\0')) {
    throw invalid('interface', "an interface name (see 'sensor interfaces')", v);
  }
  return v;
}

/** The smallest batch buffer that holds one record of this snaplen. */
export function minBatchBytes(snaplen: number): number {
  return RECORD_HEADER_BYTES + ((snaplen + 3) & ~3);
}

/** Checks every option and fills in the defaults; throws a one-line CaptureError that names the option. */
export function resolveLiveOptions(opts: unknown): ResolvedLiveOptions {
  if (typeof opts !== 'object' || opts === null || Array.isArray(opts)) {
    throw new CaptureError(`Live capture options must be an object, got ${show(opts)}`);
  }
  const o = opts as Record<string, unknown>;
  for (const key of Object.keys(o)) {
    if ((KNOWN as readonly string[]).includes(key)) continue;
    const near = KNOWN.find((k) => k.toLowerCase() === key.toLowerCase());
    throw new CaptureError(
      near !== undefined
        ? `Unknown live capture option "${key}" (did you mean "${near}"?)`
        : `Unknown live capture option "${key}" (known: ${KNOWN.join(', ')})`,
    );
  }
  const iface = checkInterfaceName(o.interface);
  const engine = pick(o, 'engine');
  if (engine === 'cap') throw invalid('engine', "'auto' or 'addon' (the cap engine was removed: see the README's design notes)", engine);
  if (engine !== 'auto' && engine !== 'addon') throw invalid('engine', "'auto' or 'addon'", engine);
  const filter = pick(o, 'filter');
  if (typeof filter !== 'string' || filter.length > 65536 || filter.includes('\0')) {
    throw invalid('filter', "a BPF filter string (man 7 pcap-filter; '' for all packets)", filter);
  }
  const snaplen = int(o, 'snaplen', 64, MAX_SNAPLEN);
  const batchBytes = int(o, 'batchBytes', 65536, 256 * 1024 * 1024);
  if (batchBytes < minBatchBytes(snaplen)) {
    throw invalid('batchBytes', `at least ${minBatchBytes(snaplen)} (one packet of snaplen ${snaplen} and its header)`, batchBytes);
  }
  const fanoutGroup = pick(o, 'fanoutGroup');
  if (fanoutGroup !== null && (typeof fanoutGroup !== 'number' || !Number.isInteger(fanoutGroup) || fanoutGroup < 0 || fanoutGroup > 65535)) {
    throw invalid('fanoutGroup', 'null or an integer from 0 to 65535', fanoutGroup);
  }
  return {
    interface: iface,
    snaplen,
    promisc: bool(o, 'promisc'),
    bufferSize: int(o, 'bufferSize', 65536, 2147483647),
    filter,
    timeoutMs: int(o, 'timeoutMs', 1, 60000),
    immediate: bool(o, 'immediate'),
    batchBytes,
    fanoutGroup,
    engine,
  };
}

/** The capture settings a config's `capture` section holds for a live source. */
export type CaptureSettings = Required<Pick<LiveOptions, 'engine' | 'filter' | 'snaplen' | 'bufferSize' | 'promisc' | 'timeoutMs' | 'fanoutGroup'>>;

/** Live options of `iface` from a config's capture settings (the daemon and `sensor learn` open captures alike). */
export function liveOptionsOf(iface: string, c: CaptureSettings): LiveOptions {
  return {
    interface: iface,
    engine: c.engine,
    filter: c.filter,
    snaplen: c.snaplen,
    bufferSize: c.bufferSize,
    promisc: c.promisc,
    timeoutMs: c.timeoutMs,
    fanoutGroup: c.fanoutGroup,
  };
}
