/**
 * A hook that takes the common records of a classic pcap file, or the common Enhanced Packet Blocks of a pcapng file,
 * past the per-frame callback (the native fast path, src/fastpath/): PcapParser and PcapngParser call walk() before
 * each record or block they would handle themselves, and handle the one at the returned offset as usual. The hook owns
 * what happens to the packets it takes; the parser only counts them as frames (and, for pcapng, keeps the last one's
 * timestamp). Offline input; live capture has BatchFastPath below.
 */
export interface RecordFastPath {
  /**
   * Called once per classic pcap file when the parser has read the file header; false turns the hook off for that
   * file (a link type or format it does not handle).
   */
  start(littleEndian: boolean, fractionUnits: number, linkType: number): boolean;
  /** Called once per pcapng file before its first block; false turns the hook off for that file. */
  startBlocks(): boolean;
  /**
   * pcapng: the current section's byte order and interface table (link type, ticks per second, offset in seconds, by
   * interface id, as PcapngParser keeps them), after every SHB and IDB the parser reads: the tables only grow by the
   * IDB's entry, or are emptied by an SHB. True when walk() may take a packet of this section (an interface it
   * handles); the parser does not call walk() otherwise.
   */
  interfaces(littleEndian: boolean, linkTypes: readonly number[], ticksPerSecond: readonly number[], tsOffsets: readonly number[]): boolean;
  /**
   * Takes whole records (or blocks) from buf[pos, end) while each is one it handles, and returns the offset of the
   * first one it did not take (pos when none); `taken` then says how many it took. It never reads at or past `end`.
   */
  walk(buf: Buffer, pos: number, end: number): number;
  /** Records the last walk() took. */
  readonly taken: number;
  /** Timestamp of the last packet walk() took (read only when `taken` > 0). */
  readonly lastTs: number;
}

/**
 * The same hook for live capture (round perf39): AddonSource hands each batch of the live addon (records of a 16-byte
 * header in the machine's byte order, sec, usec, caplen, wirelen, then the packet padded to 4 bytes) to walkBatch()
 * before each record it would hand to onFrame itself, and handles the one at the returned offset as usual.
 */
export interface BatchFastPath {
  /** Called once when live capture starts on an interface of this link type; false: the hook stays unused. */
  startBatches(linkType: number): boolean;
  /**
   * Takes whole records from buf[pos, end) (end: the batch's used bytes), at most `records` of them, while each is one
   * it handles; returns the offset of the first one it did not take (pos when none), `taken` says how many it took.
   */
  walkBatch(buf: Buffer, pos: number, end: number, records: number): number;
  /** Records the last walkBatch() took. */
  readonly taken: number;
}
