import { endianness } from 'node:os';
import type { BatchFastPath, RecordFastPath } from '../capture/recordFastPath';
import type { Decoder } from '../decode/decoder';
import {
  LINKTYPE_ETHERNET,
  LINKTYPE_IPV4,
  LINKTYPE_IPV6,
  LINKTYPE_LINUX_SLL,
  LINKTYPE_LINUX_SLL2,
  LINKTYPE_MASK,
  LINKTYPE_RAW,
  LINKTYPE_RAW_OLD12,
  LINKTYPE_RAW_OLD14,
} from '../decode/linkTypes';
import type { FlowTable } from '../flow/flowTable';
import { TRANSITIONS } from '../flow/tcpTransitions';
import { fastPathBinding, fastPathDisabled, type FastPathBinding, type NativeFastPath } from './binding';

/** The regions fast_path.cc's set() registers (keep in step with its Set()). */
const enum Region {
  Capture = 0,
  Records = 1,
  Seq = 2,
  SeqDir = 3,
  Transitions = 4,
  Index = 5,
  Io = 6,
  HistLetters = 7,
  HistCount = 8,
  LastMove = 9,
  ActiveStart = 10,
  Interfaces = 11,
}

/** Slots of the io block (fast_path.cc enum Io). */
const enum Io {
  Clock = 0,
  NextSweep = 1,
  MaxFrames = 2,
  Taken = 3,
  Retrans = 4,
  Stop = 5,
  IdleTimeout = 6,
  SkipRetrans = 7,
  Units = 8,
  LittleEndian = 9,
  SeqLength = 10,
  SeqDirBytes = 11,
  ActiveTimeout = 12,
  Head = 13,
  Tail = 14,
  Format = 48,
  IfCount = 49,
  LastTs = 50,
  RecordsLeft = 51,
  LinkType = 52,
}

/** io Format values (fast_path.cc kFormat). */
const enum Format {
  Classic = 0,
  Pcapng = 1,
  LiveBatch = 2,
}

/** The live addon's batch words are in the machine's byte order. */
const HOST_LITTLE_ENDIAN = endianness() === 'LE';

/**
 * The link types fast_path.cc decodes (its LinkOf(); round perf44 added all but Ethernet): Ethernet, Linux cooked
 * capture v1 and v2 (`-i any`), raw IP under each of its numbers.
 */
const FAST_LINK_TYPES: ReadonlySet<number> = new Set([
  LINKTYPE_ETHERNET,
  LINKTYPE_LINUX_SLL,
  LINKTYPE_LINUX_SLL2,
  LINKTYPE_RAW,
  LINKTYPE_RAW_OLD12,
  LINKTYPE_RAW_OLD14,
  LINKTYPE_IPV4,
  LINKTYPE_IPV6,
]);

/** Whether the fast path decodes frames of this link type (the low 16 bits, as the decoder reads it). */
export function fastPathLinkType(linkType: number): boolean {
  return FAST_LINK_TYPES.has(linkType & LINKTYPE_MASK);
}

/** Doubles per interface in the interfaces region (fast_path.cc kIfFields): link type, ticks per second, offset. */
const IF_FIELDS = 3;

/** Why the fast path handed a record back to JavaScript, by fast_path.cc's Stop number. */
export const FAST_PATH_STOPS = [
  'chunk_end',
  'frame_budget',
  'damaged_record',
  'bad_wire_length',
  'link',
  'ethertype',
  'ip',
  'not_tcp',
  'fragment',
  'tcp',
  'new_flow',
  'idle',
  'syn_on_closed',
  'sweep',
  'close',
  'active_timeout',
  'internal',
  'block',
] as const;

/**
 * The pipeline's frame count for the fragment expiry (Pipeline.framesSinceExpiry / expiryDue): the fast path takes at
 * most the frames before the one that reaches expiryDue, and adds what it took.
 */
export interface FrameBudget {
  framesSinceExpiry: number;
  readonly expiryDue: number;
}

/** What the fast path did, for a debug or bench line (never in records). */
export interface FastPathSummary {
  /** Packets the fast path took. */
  packets: number;
  /** walk() calls. */
  calls: number;
  /** Records handed back to JavaScript, by reason (chunk_end and frame_budget are not records it declined). */
  stops: Record<string, number>;
}

/**
 * The offline fast path (round perf31): a RecordFastPath for PcapParser that takes the common TCP packet of a pcap file
 * from the read buffer to its flow's hot record in native code (native/fastpath/fast_path.cc) and leaves every other
 * record to the parser's onFrame, one at a time, in order. For PcapngParser (round perf37) it does the same with the
 * Enhanced Packet Blocks of the section's interfaces of the decoder's current link type (the interface table is copied
 * to a registered Float64Array after every SHB and IDB) and stops at every other block. For live capture (round perf39)
 * it is AddonSource's BatchFastPath: the same walk over the addon's batch records (native byte order, microseconds,
 * packets padded to 4 bytes). Link types: Ethernet; Linux cooked capture v1/v2 (`-i any`) and raw IP since round perf44
 * (fastPathLinkType()). It works on the flow table's own arrays
 * (registered again whenever the store or its index grows) and updates what JavaScript keeps (decoder stats, table
 * stats and clock, the store's recency list ends, the pipeline's frame count) from the shared io block after each call.
 *
 * The common case (fast_path.cc says it in full): one of those link headers, VLAN tags, IPv4 without fragmentation,
 * IPv6 with TCP next, a sane TCP header, no decoder anomaly; an existing flow, not idle, not a pure SYN on a closed
 * flow, no sweep due, nothing closed, no active timeout due. What it writes for such a packet is what PcapParser,
 * Decoder.decode and FlowTable.packet (with addHistory() and timers()' recency move) write; new flows, closes, timers
 * that end flows and every anomaly stay JavaScript's. Per call: scalars in, the io block out, no typed array passed.
 */
export class FastPath implements RecordFastPath, BatchFastPath {
  taken = 0;
  private readonly native: NativeFastPath;
  private readonly io: Float64Array;
  private readonly stopBase: number;
  private readonly stopReasons: number;
  private calls = 0;
  private packets = 0;
  /** The arrays registered last (identity: growth replaces them). */
  private capture: Buffer | null = null;
  private records: Uint8Array | null = null;
  private index: Int32Array | null = null;
  /** pcapng: the section's interface table as registered (IF_FIELDS doubles an interface; grows, then re-registered). */
  private ifTable = new Float64Array(0);
  /** Interfaces copied into ifTable so far, and whether one of them has a link type it takes (a section only adds, or starts over). */
  private ifKnown = 0;
  private ifFast = false;
  /**
   * The link type of the records walk() takes (the low 16 bits): a classic file's or a live interface's, or -1 for
   * pcapng, where each call takes the EPBs of interfaces of the decoder's current link type.
   */
  private linkType = -1;

  constructor(
    binding: FastPathBinding,
    private readonly decoder: Decoder,
    private readonly table: FlowTable,
    private readonly budget: FrameBudget,
  ) {
    this.native = binding.create();
    this.io = new Float64Array(binding.ioLength);
    this.stopBase = binding.stopCounts;
    this.stopReasons = binding.stopReasons;
    const st = table.store;
    const io = this.io;
    io[Io.IdleTimeout] = table.opts.idleTimeout;
    io[Io.SkipRetrans] = table.opts.skipRetransmissions ? 1 : 0;
    io[Io.ActiveTimeout] = table.opts.activeTimeout;
    io[Io.SeqLength] = st.seqLength;
    io[Io.SeqDirBytes] = st.seqDirBytes;
    if (!this.native.set(Region.Io, io) || !this.native.set(Region.Transitions, TRANSITIONS)) {
      throw new Error('fast path: the addon refused its io block');
    }
  }

  /** A fast path for this decoder and table, or null: switched off (SENSOR_FASTPATH=0), no addon, or an inspector. */
  static open(decoder: Decoder, table: FlowTable, budget: FrameBudget): FastPath | null {
    if (fastPathDisabled() || table.inspectPackets !== 0) return null;
    const binding = fastPathBinding();
    return binding === null ? null : new FastPath(binding, decoder, table, budget);
  }

  start(littleEndian: boolean, fractionUnits: number, linkType: number): boolean {
    if (!fastPathLinkType(linkType)) return false;
    this.linkType = linkType & LINKTYPE_MASK;
    this.io[Io.Format] = Format.Classic;
    this.io[Io.LittleEndian] = littleEndian ? 1 : 0;
    this.io[Io.Units] = fractionUnits;
    return true;
  }

  startBlocks(): boolean {
    this.io[Io.Format] = Format.Pcapng;
    this.io[Io.IfCount] = 0;
    this.ifKnown = 0;
    this.ifFast = false;
    this.linkType = -1;
    return true;
  }

  interfaces(littleEndian: boolean, linkTypes: readonly number[], ticksPerSecond: readonly number[], tsOffsets: readonly number[]): boolean {
    const io = this.io;
    const n = linkTypes.length;
    io[Io.LittleEndian] = littleEndian ? 1 : 0;
    io[Io.IfCount] = 0;
    // Only the interfaces added since the last call are copied (an SHB empties the table): a file of many IDBs costs
    // linear time, as in the parser.
    let from = this.ifKnown;
    if (n < from) {
      from = 0;
      this.ifFast = false;
    }
    if (n * IF_FIELDS > this.ifTable.length) {
      const t = new Float64Array(Math.max(8, 2 * n) * IF_FIELDS);
      t.set(this.ifTable.subarray(0, from * IF_FIELDS));
      // A refused registration (not expected) leaves every block to JavaScript: no interface is known natively.
      if (!this.native.set(Region.Interfaces, t)) {
        this.ifKnown = 0;
        this.ifFast = false;
        return false;
      }
      this.ifTable = t;
    }
    const t = this.ifTable;
    for (let i = from; i < n; i++) {
      const link = linkTypes[i]!;
      if (fastPathLinkType(link)) this.ifFast = true;
      t[i * IF_FIELDS] = link & LINKTYPE_MASK;
      t[i * IF_FIELDS + 1] = ticksPerSecond[i]!;
      t[i * IF_FIELDS + 2] = tsOffsets[i]!;
    }
    this.ifKnown = n;
    io[Io.IfCount] = n;
    return this.ifFast;
  }

  /**
   * Live capture (round perf39): the batches of an interface of a link type it decodes (Ethernet; Linux cooked capture
   * from `any` and raw IP since round perf44) go through walkBatch(); any other link type stays on the JavaScript path.
   */
  startBatches(linkType: number): boolean {
    if (!fastPathLinkType(linkType)) return false;
    this.linkType = linkType & LINKTYPE_MASK;
    this.io[Io.Format] = Format.LiveBatch;
    this.io[Io.LittleEndian] = HOST_LITTLE_ENDIAN ? 1 : 0;
    this.io[Io.Units] = 1e6;
    return true;
  }

  /** walk() over a live batch's records from pos (at most `records` of them); end is the batch's used bytes. */
  walkBatch(buf: Buffer, pos: number, end: number, records: number): number {
    this.io[Io.RecordsLeft] = records;
    return this.walk(buf, pos, end);
  }

  get lastTs(): number {
    return this.io[Io.LastTs]!;
  }

  walk(buf: Buffer, pos: number, end: number): number {
    this.taken = 0;
    const budget = this.budget;
    const room = budget.expiryDue - budget.framesSinceExpiry - 1;
    // The decoder counts frames per link type in runs: the fast path adds to the current run, so it takes only frames
    // of the run's link type, and the first frame of a file goes through decode() (it always does: the first packet
    // reaches the table's first sweep). pcapng: the EPBs of the interfaces of that link type, whichever it is.
    const link = this.decoder.stats.lastLinkType;
    if (room <= 0 || end - pos < 16 || (this.linkType >= 0 ? link !== this.linkType : !FAST_LINK_TYPES.has(link))) return pos;
    const native = this.native;
    // Registered by identity: a reader alternates two buffers, the store and its index replace theirs when they grow.
    // A refused registration (not expected: every one is a plain typed array) leaves the record to JavaScript.
    if (buf !== this.capture) {
      this.capture = native.set(Region.Capture, buf) ? buf : null;
      if (this.capture === null) return pos;
    }
    const table = this.table;
    const st = table.store;
    if (st.u8 !== this.records) {
      const ok =
        native.set(Region.Records, st.u8) &&
        native.set(Region.Seq, st.seq) &&
        native.set(Region.SeqDir, st.seqDir) &&
        native.set(Region.HistLetters, st.histLetters) &&
        native.set(Region.HistCount, st.histCount) &&
        native.set(Region.LastMove, st.lastMove) &&
        native.set(Region.ActiveStart, st.activeStart);
      this.records = ok ? st.u8 : null;
      if (!ok) return pos;
    }
    if (st.indexTable !== this.index) {
      this.index = native.set(Region.Index, st.indexTable) ? st.indexTable : null;
      if (this.index === null) return pos;
    }
    const io = this.io;
    io[Io.Clock] = table.clock;
    io[Io.NextSweep] = table.nextSweep;
    io[Io.MaxFrames] = room;
    io[Io.Head] = st.head;
    io[Io.Tail] = st.tail;
    io[Io.LinkType] = link;
    const stop = native.walk(pos, end);
    this.calls++;
    // The addon returns an offset in [pos, end]; anything else (never expected) means it took nothing.
    if (!(stop >= pos && stop <= end)) return pos;
    const n = io[Io.Taken]!;
    if (n > 0) {
      table.clock = io[Io.Clock]!;
      st.head = io[Io.Head]! | 0;
      st.tail = io[Io.Tail]! | 0;
      table.stats.packets += n;
      table.stats.retransSkipped += io[Io.Retrans]!;
      this.decoder.stats.addFastFrames(n);
      budget.framesSinceExpiry += n;
      this.packets += n;
      this.taken = n;
    }
    return stop;
  }

  /** Packets taken and records handed back by reason, for a debug or bench line. */
  summary(): FastPathSummary {
    const stops: Record<string, number> = {};
    for (let i = 0; i < this.stopReasons; i++) {
      const v = this.io[this.stopBase + i]!;
      if (v > 0) stops[FAST_PATH_STOPS[i] ?? `stop_${i}`] = v;
    }
    return { packets: this.packets, calls: this.calls, stops };
  }
}
