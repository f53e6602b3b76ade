import type { CaptureParser } from './captureParser';
import { MAX_BLOCK_LENGTH, MAX_CAPTURED_LENGTH } from './captureLimits';
import { PCAPNG_SHB_TYPE, formatMagic } from './captureMagic';
import type { Frame, FrameHandler } from './frame';
import { ticksToSeconds, tsresolTicksPerSecond } from './pcapngTime';
import type { RecordFastPath } from './recordFastPath';

// Block types (pcapng draft, section 4).
const IDB_TYPE = 0x00000001;
const OPB_TYPE = 0x00000002; // obsolete Packet Block, still written by old tools
const SPB_TYPE = 0x00000003;
const EPB_TYPE = 0x00000006;

/** SHB byte-order magic as read in the section's own byte order. */
const BYTE_ORDER_MAGIC = 0x1a2b3c4d;
/** The same magic read in the other byte order. */
const BYTE_ORDER_MAGIC_SWAPPED = 0x4d3c2b1a;

/** Type + total length in front, total length again at the end. */
const BLOCK_OVERHEAD = 12;
/** Smallest valid length per block type: overhead plus the fixed fields. */
const SHB_MIN_LENGTH = 28; // byte-order magic, version 2+2, section length 8
const IDB_MIN_LENGTH = 20; // link type 2, reserved 2, snaplen 4
const EPB_MIN_LENGTH = 32; // interface 4, ts high 4, ts low 4, caplen 4, origlen 4 (OPB: interface 2 + drops 2)
const SPB_MIN_LENGTH = 16; // origlen 4
/** Offset of the packet bytes in an EPB/OPB, and in an SPB. */
const EPB_DATA_OFFSET = 28;
const SPB_DATA_OFFSET = 12;

// Interface Description Block options used here.
const OPT_ENDOFOPT = 0;
const IF_TSRESOL = 9;
const IF_TSOFFSET = 14;
/** Default if_tsresol: microseconds. */
const DEFAULT_TICKS_PER_SECOND = 1e6;

/**
 * Parser for pcapng: sections (byte order per SHB), interfaces (link type, snaplen, if_tsresol,
 * if_tsoffset), EPB/SPB/OPB packets; other block types are skipped by their length. A block is
 * handled only when it is whole in the buffer, so its length is checked at both ends first.
 * With a fast path (round perf37), each turn first lets it take the EPBs it can (native/fastpath/fast_path.cc's
 * PrepareBlock() mirrors the EPB case below); the block where it stopped is then handled here as always.
 */
export class PcapngParser implements CaptureParser {
  need = BLOCK_OVERHEAD;
  damage: string | null = null;
  frames = 0;
  readonly unit = 'block';
  /** Byte order of the current section, set by each SHB. */
  littleEndian = true;
  /** Interfaces of the current section, by interface id. */
  readonly ifLinkType: number[] = [];
  readonly ifSnaplen: number[] = [];
  readonly ifTicksPerSecond: number[] = [];
  readonly ifTsOffset: number[] = [];
  /**
   * Timestamp of the last packet. A Simple Packet Block has none; it gets this one so that time
   * never jumps back to 1970 in the middle of a capture (it is 0 when the file starts with SPBs).
   */
  private lastTs = 0;
  /**
   * The offline fast path (src/fastpath/, round perf37), or null: set by the reader before the first parse(). It takes
   * the common Enhanced Packet Blocks past onFrame; `fastOn` says whether the current section has an interface it
   * handles (the hook says so after each SHB and IDB), so that a section of other link types costs no native call.
   */
  fastPath: RecordFastPath | null = null;
  private fastStarted = false;
  private fastOn = false;

  parse(buf: Buffer, pos: number, end: number, frame: Frame, onFrame: FrameHandler): number {
    frame.buf = buf;
    let le = this.littleEndian;
    if (!this.fastStarted) {
      this.fastStarted = true;
      if (this.fastPath !== null && !this.fastPath.startBlocks()) this.fastPath = null;
    }
    const fast = this.fastPath;
    for (;;) {
      if (this.fastOn) {
        pos = fast!.walk(buf, pos, end);
        const n = fast!.taken;
        if (n > 0) {
          this.frames += n;
          this.lastTs = fast!.lastTs;
        }
      }
      if (end - pos < BLOCK_OVERHEAD) {
        this.need = BLOCK_OVERHEAD;
        break;
      }
      const type = le ? buf.readUInt32LE(pos) : buf.readUInt32BE(pos);
      if (type === PCAPNG_SHB_TYPE) {
        // The section's byte order comes from its SHB, before its length can be read.
        const bom = buf.readUInt32LE(pos + 8);
        if (bom !== BYTE_ORDER_MAGIC && bom !== BYTE_ORDER_MAGIC_SWAPPED) {
          this.damage = `section header byte-order magic ${formatMagic(buf.readUInt32BE(pos + 8))} is neither 0x1a2b3c4d nor 0x4d3c2b1a`;
          break;
        }
        le = bom === BYTE_ORDER_MAGIC;
        this.littleEndian = le;
      }
      const len = le ? buf.readUInt32LE(pos + 4) : buf.readUInt32BE(pos + 4);
      if (len < BLOCK_OVERHEAD || len % 4 !== 0 || len > MAX_BLOCK_LENGTH) {
        this.damage = badLengthMessage(len);
        break;
      }
      if (end - pos < len) {
        this.need = len;
        break;
      }
      const trailer = le ? buf.readUInt32LE(pos + len - 4) : buf.readUInt32BE(pos + len - 4);
      if (trailer !== len) {
        this.damage = `trailing block length ${trailer} does not match the leading ${len}`;
        break;
      }
      if (type === EPB_TYPE || type === OPB_TYPE) {
        if (len < EPB_MIN_LENGTH) {
          this.damage = tooShortMessage(type, len, EPB_MIN_LENGTH);
          break;
        }
        const ifId = type === EPB_TYPE ? (le ? buf.readUInt32LE(pos + 8) : buf.readUInt32BE(pos + 8)) : le ? buf.readUInt16LE(pos + 8) : buf.readUInt16BE(pos + 8);
        if (ifId >= this.ifLinkType.length) {
          this.damage = unknownInterfaceMessage(ifId, this.ifLinkType.length);
          break;
        }
        const capLen = le ? buf.readUInt32LE(pos + 20) : buf.readUInt32BE(pos + 20);
        if (capLen > MAX_CAPTURED_LENGTH || capLen > len - EPB_MIN_LENGTH) {
          this.damage = capLenMessage(capLen, len - EPB_MIN_LENGTH);
          break;
        }
        const high = le ? buf.readUInt32LE(pos + 12) : buf.readUInt32BE(pos + 12);
        const low = le ? buf.readUInt32LE(pos + 16) : buf.readUInt32BE(pos + 16);
        const ts = (this.ifTsOffset[ifId] ?? 0) + ticksToSeconds(high, low, this.ifTicksPerSecond[ifId] ?? DEFAULT_TICKS_PER_SECOND);
        this.lastTs = ts;
        frame.ts = ts;
        frame.wireLen = le ? buf.readUInt32LE(pos + 24) : buf.readUInt32BE(pos + 24);
        frame.off = pos + EPB_DATA_OFFSET;
        frame.capLen = capLen;
        frame.linkType = this.ifLinkType[ifId] ?? 0;
        frame.ifIndex = ifId;
        this.frames++;
        onFrame(frame);
      } else if (type === SPB_TYPE) {
        if (len < SPB_MIN_LENGTH) {
          this.damage = tooShortMessage(type, len, SPB_MIN_LENGTH);
          break;
        }
        if (this.ifLinkType.length === 0) {
          this.damage = unknownInterfaceMessage(0, 0);
          break;
        }
        const wireLen = le ? buf.readUInt32LE(pos + 8) : buf.readUInt32BE(pos + 8);
        // An SPB has no captured length: the packet is cut by the interface's snaplen and by the block.
        const snaplen = this.ifSnaplen[0] ?? 0;
        let capLen = Math.min(wireLen, len - SPB_MIN_LENGTH);
        if (snaplen > 0 && snaplen < capLen) capLen = snaplen;
        if (capLen > MAX_CAPTURED_LENGTH) {
          this.damage = capLenMessage(capLen, len - SPB_MIN_LENGTH);
          break;
        }
        frame.ts = this.lastTs;
        frame.wireLen = wireLen;
        frame.off = pos + SPB_DATA_OFFSET;
        frame.capLen = capLen;
        frame.linkType = this.ifLinkType[0] ?? 0;
        frame.ifIndex = 0;
        this.frames++;
        onFrame(frame);
      } else if (type === IDB_TYPE) {
        if (len < IDB_MIN_LENGTH) {
          this.damage = tooShortMessage(type, len, IDB_MIN_LENGTH);
          break;
        }
        if (!this.addInterface(buf, pos, len, le)) break;
        if (fast !== null) this.fastOn = fast.interfaces(le, this.ifLinkType, this.ifTicksPerSecond, this.ifTsOffset);
      } else if (type === PCAPNG_SHB_TYPE) {
        if (len < SHB_MIN_LENGTH) {
          this.damage = tooShortMessage(type, len, SHB_MIN_LENGTH);
          break;
        }
        // Interface ids are numbered per section.
        this.ifLinkType.length = 0;
        this.ifSnaplen.length = 0;
        this.ifTicksPerSecond.length = 0;
        this.ifTsOffset.length = 0;
        if (fast !== null) this.fastOn = fast.interfaces(le, this.ifLinkType, this.ifTicksPerSecond, this.ifTsOffset);
      }
      // Every other block type (statistics, name resolution, decryption secrets, custom...) is skipped.
      pos += len;
    }
    return pos;
  }

  /** Reads an IDB at `pos` into the interface tables; false (with `damage` set) if its options are malformed. */
  private addInterface(buf: Buffer, pos: number, len: number, le: boolean): boolean {
    let ticksPerSecond = DEFAULT_TICKS_PER_SECOND;
    let tsOffset = 0;
    const optEnd = pos + len - 4;
    let o = pos + IDB_MIN_LENGTH - 4;
    while (optEnd - o >= 4) {
      const code = le ? buf.readUInt16LE(o) : buf.readUInt16BE(o);
      const optLen = le ? buf.readUInt16LE(o + 2) : buf.readUInt16BE(o + 2);
      if (code === OPT_ENDOFOPT) break;
      if (o + 4 + optLen > optEnd) {
        this.damage = `interface option ${code} of length ${optLen} runs past the end of its block`;
        return false;
      }
      if (code === IF_TSRESOL && optLen >= 1) {
        ticksPerSecond = tsresolTicksPerSecond(buf.readUInt8(o + 4));
      } else if (code === IF_TSOFFSET && optLen >= 8) {
        // A signed 64-bit count of seconds in the section's byte order.
        tsOffset = le ? buf.readInt32LE(o + 8) * 4294967296 + buf.readUInt32LE(o + 4) : buf.readInt32BE(o + 4) * 4294967296 + buf.readUInt32BE(o + 8);
      }
      o += 4 + ((optLen + 3) & ~3);
    }
    this.ifLinkType.push(le ? buf.readUInt16LE(pos + 8) : buf.readUInt16BE(pos + 8));
    this.ifSnaplen.push(le ? buf.readUInt32LE(pos + 12) : buf.readUInt32BE(pos + 12));
    this.ifTicksPerSecond.push(ticksPerSecond);
    this.ifTsOffset.push(tsOffset);
    return true;
  }
}

// Messages are built only when the file is damaged, never per packet.

function badLengthMessage(len: number): string {
  if (len < BLOCK_OVERHEAD) return `block length ${len} is less than ${BLOCK_OVERHEAD}`;
  if (len % 4 !== 0) return `block length ${len} is not a multiple of 4`;
  return `block length ${len} exceeds ${MAX_BLOCK_LENGTH}`;
}

function tooShortMessage(type: number, len: number, min: number): string {
  return `block type ${formatMagic(type)} has length ${len}, less than its fixed fields need (${min})`;
}

function unknownInterfaceMessage(ifId: number, count: number): string {
  return `packet for interface ${ifId} but the section declares ${count} interface(s)`;
}

function capLenMessage(capLen: number, room: number): string {
  if (capLen > MAX_CAPTURED_LENGTH) return `captured length ${capLen} exceeds ${MAX_CAPTURED_LENGTH}`;
  return `captured length ${capLen} exceeds the ${room} bytes its block holds`;
}
