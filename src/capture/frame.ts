/**
 * One captured frame, as handed from a capture source to the decoder.
 *
 * A source owns exactly one Frame and overwrites it for every packet (no allocation per packet):
 * `buf` is the source's read buffer, `off` the offset of the frame's first byte in it. The bytes are
 * only valid until the callback returns; nothing downstream may keep a reference to `buf`.
 */
export class Frame {
  /** Buffer holding the frame bytes at [off, off + capLen). */
  buf: Buffer = Buffer.alloc(0);
  /** Offset of the first link-layer byte in `buf`. */
  off = 0;
  /** Bytes captured (may be less than wireLen when the capture used a snaplen). */
  capLen = 0;
  /** Length of the frame on the wire; 0 when the source cannot tell, and the IP header is trusted. */
  wireLen = 0;
  /** Capture timestamp, unix seconds (fraction to the µs; ns precision is rounded by the double). */
  ts = 0;
  /** Link type (DLT / LINKTYPE_ number) of the interface the frame came from. */
  linkType = 0;
  /** Interface index within the source (pcapng IDB number; 0 for pcap and live). */
  ifIndex = 0;
}

/** Callback that receives every frame; the Frame object is reused for the next frame. */
export type FrameHandler = (frame: Frame) => void;
