import type { CaptureParser } from './captureParser';
import { MAX_CAPTURED_LENGTH } from './captureLimits';
import { PCAP_MAGIC_MICRO, PCAP_MAGIC_NANO, magicNumber } from './captureMagic';
import type { Frame, FrameHandler } from './frame';
import type { RecordFastPath } from './recordFastPath';

/** Classic pcap file header: magic, version 2+2, thiszone, sigfigs, snaplen, link type. */
const FILE_HEADER_LENGTH = 24;
/** Record header: ts seconds, ts fraction, captured length, original length. */
const RECORD_HEADER_LENGTH = 16;
/** The nanosecond magic as read from a little-endian file's first four bytes in reading order. */
const PCAP_MAGIC_NANO_SWAPPED = 0x4d3cb2a1;
/**
 * The link-type field carries the DLT in its low 16 bits; bits above are FCS length and reserved
 * flags (a fuzzed file has 0x3000000c for DLT 12).
 */
const LINK_TYPE_MASK = 0xffff;

/**
 * Parser for classic libpcap files (both byte orders, µs and ns). The byte order and timestamp
 * resolution are fixed by the file header, read on the first call.
 */
export class PcapParser implements CaptureParser {
  need = FILE_HEADER_LENGTH;
  damage: string | null = null;
  frames = 0;
  unit = 'file header';
  /** Link type from the file header (low 16 bits of the field). */
  linkType = 0;
  /** Snapshot length from the file header (not enforced: records may exceed it in real files). */
  snaplen = 0;
  littleEndian = true;
  /** Timestamp fraction units per second: 1e6 or 1e9. */
  fractionUnits = 1e6;
  private headerRead = false;
  /**
   * The offline fast path (src/fastpath/), or null: set by the reader before the first parse(); it takes the common
   * records past onFrame, and is dropped for a file whose header it declines.
   */
  fastPath: RecordFastPath | null = null;
  /** A DataView of the last buffer walked (the reader reuses one buffer, so this is made once per buffer). */
  private view: DataView | null = null;

  parse(buf: Buffer, pos: number, end: number, frame: Frame, onFrame: FrameHandler): number {
    if (!this.headerRead) {
      if (end - pos < FILE_HEADER_LENGTH) return pos;
      this.readFileHeader(buf, pos);
      pos += FILE_HEADER_LENGTH;
      this.headerRead = true;
      this.unit = 'record';
    }
    return this.walkRecords(buf, pos, end, frame, onFrame);
  }

  private readFileHeader(buf: Buffer, pos: number): void {
    const magic = magicNumber(buf.subarray(pos, pos + 4));
    // A big-endian writer puts the magic's bytes in reading order; the caller checked it is one of
    // the four pcap magics, so anything else is the little-endian (swapped) form.
    const le = magic !== PCAP_MAGIC_MICRO && magic !== PCAP_MAGIC_NANO;
    this.littleEndian = le;
    const nano = magic === PCAP_MAGIC_NANO || magic === PCAP_MAGIC_NANO_SWAPPED;
    this.fractionUnits = nano ? 1e9 : 1e6;
    this.snaplen = le ? buf.readUInt32LE(pos + 16) : buf.readUInt32BE(pos + 16);
    this.linkType = (le ? buf.readUInt32LE(pos + 20) : buf.readUInt32BE(pos + 20)) & LINK_TYPE_MASK;
    if (this.fastPath !== null && !this.fastPath.start(le, this.fractionUnits, this.linkType)) this.fastPath = null;
  }

  /**
   * The per-packet loop: field reads and one callback, nothing else. Fields are read through a DataView (a
   * TurboFan intrinsic with the byte order as an argument) rather than Buffer.readUInt32LE/BE, which the profile
   * showed as calls of their own from this loop. The view spans the buffer's whole ArrayBuffer, so that it is made
   * once for the reader's buffers (fdInput.ts keeps both of its buffers in one ArrayBuffer), not at every chunk: V8
   * compiled this loop from the first chunk, before the `new DataView` had any type feedback, and threw the code away
   * at the second chunk (round perf16). Likewise `need` is stored once per call, after the loop: a store that only a
   * rare exit made had no feedback either.
   *
   * With a fast path (round perf31), each turn first lets it take the records it can (native/fastpath/fast_path.cc
   * mirrors this loop, the decoder and FlowTable.packet for the common TCP packet); the record where it stopped is
   * then handled here as always.
   */
  private walkRecords(buf: Buffer, pos: number, end: number, frame: Frame, onFrame: FrameHandler): number {
    const le = this.littleEndian;
    const units = this.fractionUnits;
    let view = this.view;
    if (view === null || view.buffer !== buf.buffer) view = this.view = new DataView(buf.buffer);
    const at = buf.byteOffset;
    frame.buf = buf;
    frame.linkType = this.linkType;
    frame.ifIndex = 0;
    let frames = this.frames;
    let need = this.need;
    const fast = this.fastPath;
    for (;;) {
      if (fast !== null) {
        pos = fast.walk(buf, pos, end);
        frames += fast.taken;
      }
      if (end - pos < RECORD_HEADER_LENGTH) {
        need = RECORD_HEADER_LENGTH;
        break;
      }
      const capLen = view.getUint32(at + pos + 8, le);
      if (capLen > MAX_CAPTURED_LENGTH) {
        this.damage = `captured length ${capLen} exceeds ${MAX_CAPTURED_LENGTH}`;
        break;
      }
      const next = pos + RECORD_HEADER_LENGTH + capLen;
      if (next > end) {
        need = RECORD_HEADER_LENGTH + capLen;
        break;
      }
      frame.wireLen = view.getUint32(at + pos + 12, le);
      frame.ts = view.getUint32(at + pos, le) + view.getUint32(at + pos + 4, le) / units;
      frame.off = pos + RECORD_HEADER_LENGTH;
      frame.capLen = capLen;
      frames++;
      onFrame(frame);
      pos = next;
    }
    this.need = need;
    this.frames = frames;
    return pos;
  }
}
