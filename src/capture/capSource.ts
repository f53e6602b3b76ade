import { CaptureError } from './captureError';
import { Frame, FrameHandler } from './frame';
import type { InterfaceInfo, LiveStats } from './liveBinding';
import type { ResolvedLiveOptions } from './liveOptions';
import type { CaptureEngine } from './liveSource';

/** The parts of the `cap` package (optional dependency) this engine uses. */
interface CapInstance {
  open(device: string, filter: string, bufferSize: number, buffer: Buffer): string;
  close(): void;
  on(event: 'packet', listener: (nbytes: number, truncated: boolean) => void): void;
  removeAllListeners(): void;
}
interface CapDevice {
  name: string;
  description?: string;
  addresses: { addr: string }[];
  flags?: string;
}
export interface CapModule {
  Cap: { new (): CapInstance; deviceList(): CapDevice[] };
}

/** cap sets the kernel snaplen to 65535 and copies each packet into the buffer given to open(). */
const CAP_BUFFER_BYTES = 65535;

/** cap reports the link type by name; the LINKTYPE_ numbers the decoder uses. */
const CAP_LINK_TYPES: Record<string, number> = {
  NULL: 0,
  ETHERNET: 1,
  IEEE802_11_RADIO: 127,
  LINKTYPE_LINUX_SLL: 113,
  RAW: 101,
};

export const CAP_FIX = 'apt-get install libpcap-dev, then npm rebuild cap';

/**
 * Cap instances whose open() threw. cap keeps the half-opened pcap handle, and its destructor then stops a
 * poll handle it never initialised; holding them here keeps the garbage collector from running that
 * destructor. A failed open ends the daemon anyway, so this holds one object at most in practice.
 */
const failedOpens: CapInstance[] = [];

/** Loads the optional `cap` package: the module, or a CaptureError saying what to install. */
export function loadCap(): CapModule | CaptureError {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require('cap') as CapModule;
  } catch (e) {
    const why = String(e instanceof Error ? e.message : e).split('\n')[0];
    return new CaptureError(`Capture engine 'cap' is not available (${why}): ${CAP_FIX}`);
  }
}

/** cap's device list in the addon's shape (cap does not report up/running). */
export function capInterfaces(cap: CapModule): InterfaceInfo[] {
  return cap.Cap.deviceList().map((d) => ({
    name: d.name,
    description: d.description ?? '',
    addresses: d.addresses.map((a) => a.addr),
    loopback: d.flags === 'PCAP_IF_LOOPBACK',
    up: null,
    running: null,
  }));
}

/**
 * Live capture through the `cap` package (engine 'cap', the fallback when the addon is not built). cap calls
 * JS once per packet, always captures up to 65535 bytes, keeps promiscuous mode on and has no drop counters:
 * `dropped` and `ifDropped` are -1 (unknown). Packets carry no capture time stamp, so `ts` is the wall clock
 * when JS sees the packet. Frames are cut to `snaplen` so both engines hand the decoder the same bytes.
 * cap 0.2 aborts the process (a failed assert in its poll callback) when the interface goes down; under systemd
 * Restart=on-failure brings the sensor back, with the open flows of that moment lost.
 */
export class CapSource implements CaptureEngine {
  readonly linkType: number;
  readonly warning: string;
  private readonly cap: CapInstance;
  private readonly frame = new Frame();
  private readonly snaplen: number;
  private handler: FrameHandler | null = null;
  private delivered = 0;
  private stopped = false;

  constructor(opts: ResolvedLiveOptions, mod: CapModule) {
    if (opts.fanoutGroup !== null) {
      throw new CaptureError("Invalid live capture option fanoutGroup: engine 'cap' cannot join a PACKET_FANOUT group (use engine 'addon')");
    }
    // cap itself prints a libpcap warning to stderr for an unknown device; check the list first for a clean line.
    if (!mod.Cap.deviceList().some((d) => d.name === opts.interface)) {
      throw new CaptureError(`Cannot open capture: interface ${opts.interface} does not exist (see 'sensor interfaces')`);
    }
    this.snaplen = opts.snaplen;
    const buf = Buffer.alloc(CAP_BUFFER_BYTES);
    this.cap = new mod.Cap();
    let linkName: string;
    try {
      linkName = this.cap.open(opts.interface, opts.filter, opts.bufferSize, buf);
    } catch (e) {
      failedOpens.push(this.cap);
      throw new CaptureError(capOpenMessage(opts.interface, e));
    }
    const unknown = /^Unknown linktype (\d+)$/.exec(linkName);
    this.linkType = CAP_LINK_TYPES[linkName] ?? (unknown !== null ? Number(unknown[1]) : -1);
    this.warning =
      "engine 'cap': no kernel drop counters (dropped = -1), promiscuous mode always on, 65535 bytes copied per packet, " +
      'the process aborts if the interface goes down' +
      (opts.promisc ? '' : ' (promisc false is not honoured)');
    this.frame.buf = buf;
    this.frame.off = 0;
    this.frame.linkType = this.linkType;
    this.frame.ifIndex = 0;
    // cap starts polling in open(); a packet can only arrive on a later loop turn, so start() right after the
    // constructor misses nothing. Until then packets are not delivered.
    this.cap.on('packet', this.onPacket);
  }

  start(onFrame: FrameHandler, _onError: (err: Error) => void): void {
    if (this.stopped) throw new CaptureError('Capture is closed; open a new one');
    this.handler = onFrame;
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.handler = null;
    this.cap.close();
    this.cap.removeAllListeners();
  }

  stats(): LiveStats {
    return { received: this.delivered, dropped: -1, ifDropped: -1, delivered: this.delivered, batches: this.delivered, linkDowns: -1 };
  }

  private readonly onPacket = (nbytes: number): void => {
    const handler = this.handler;
    if (handler === null) return;
    const f = this.frame;
    f.capLen = nbytes < this.snaplen ? nbytes : this.snaplen;
    // cap reports only the captured length. A packet shorter than the snaplen was captured whole; one that
    // reached it may have been cut, and its wire length is unknown (0): the decoder then trusts the IP header.
    f.wireLen = nbytes < this.snaplen ? nbytes : 0;
    f.ts = Date.now() / 1000;
    this.delivered++;
    handler(f);
  };
}

/** cap's open errors are libpcap's text; the addon's wording for the ones a user can fix. */
function capOpenMessage(iface: string, e: unknown): string {
  const text = String(e instanceof Error ? e.message : e).split('\n')[0] ?? '';
  if (/permission|not permitted/i.test(text)) {
    return `Cannot open capture on ${iface}: permission denied (run as root or give the binary CAP_NET_RAW, see README)`;
  }
  if (/syntax error|can't parse filter|illegal|unknown/i.test(text)) {
    return `Cannot open capture on ${iface}: invalid filter: ${text} (see man 7 pcap-filter)`;
  }
  return `Cannot open capture on ${iface}: ${text}`;
}
