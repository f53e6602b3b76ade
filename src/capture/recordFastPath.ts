/**
 * A hook that takes the common records of a classic pcap file past the per-frame callback (the native fast path,
 * src/fastpath/): PcapParser calls walk() before each record it would hand to onFrame, and hands the record at the
 * returned offset to onFrame as usual. The hook owns what happens to the records it takes; the parser only counts
 * them as frames. Offline input only.
 */
export interface RecordFastPath {
  /**
   * Called once per file when the parser has read the file header; false turns the hook off for that file (a link
   * type or format it does not handle).
   */
  start(littleEndian: boolean, fractionUnits: number, linkType: number): boolean;
  /**
   * Takes whole records from buf[pos, end) while each is one it handles, and returns the offset of the first record
   * it did not take (pos when none); `taken` then says how many it took. It never reads at or past `end`.
   */
  walk(buf: Buffer, pos: number, end: number): number;
  /** Records the last walk() took. */
  readonly taken: number;
}
