/**
 * Layout of a flow's hot record: 128 bytes (two cache lines) per slot holding everything packet() reads or
 * writes for an existing flow. The records are one ArrayBuffer seen through Float64/Int32/Uint32/Uint16/Uint8
 * views (flowStore.ts); slot s's record starts at f64[s << Shift.F64], i32/u32[s << Shift.W32],
 * u16[s << Shift.U16] and u8[s << Shift.U8], and the enums below give the offsets within it.
 *
 * The first cache line (bytes 0..63) holds what the per-packet decisions read: the key (the lookup compares
 * it), the last-seen time (idle check), the timer deadline, the states and flags. The second (64..127) holds
 * what a packet mostly adds to (counters), the highest counted sequence numbers and the recency links.
 * `const enum`s, so tsc writes the numbers in place in the hot path.
 */

/** Bytes of one hot record. */
export const REC_BYTES = 128;

/** Where slot s's hot record starts in each view: index = s << Shift.X. */
export const enum Shift {
  F64 = 4,
  W32 = 5,
  U16 = 6,
  U8 = 7,
}

/** 32-bit fields (index within the record's 32 words, Int32 or Uint32 view). */
export const enum W {
  /** The key, K.Words words (see flowKey.ts): words 0..9. */
  Key = 0,
  /** Packets sent by endpoint A / B (Uint32, saturating). */
  PktsA = 24,
  PktsB = 25,
  /** Highest sequence number counted per sending endpoint (Uint32; meaningful once Fl.HasHiA/B is set). */
  HiSeqA = 26,
  HiSeqB = 27,
  /** Recency list links (Int32 slot numbers, -1 = none); the free list reuses W.Next. */
  Prev = 28,
  Next = 29,
  /** Payload segments skipped by the retransmission rule (Uint32, saturating). */
  Retrans = 30,
  /** Direction bits of sequence entries 0..31 (bit i set: entry i is server -> client, negative). */
  Dir = 31,
}

/** Byte fields (index within the record's 128 bytes). */
export const enum B {
  /** Zeek endpoint state of A / B (flow.ts Ep). */
  StateA = 56,
  StateB = 57,
  /** flow.ts Fl bits. */
  Flags = 58,
  /** flow.ts Role. */
  Role = 59,
  /** History letters seen per sending endpoint, as bits (flowTable Hist). */
  HistA = 60,
  HistB = 61,
}

/** 16-bit fields (index within the record's 64 halves). */
export const enum H {
  /** Entries in the sequence so far (bytes 62..63; the sequence length is at most 65535). */
  SeqCount = 31,
}

/** Float64 fields (index within the record's 16 doubles). */
export const enum D {
  /** Newest packet timestamp of the flow. */
  LastTs = 5,
  /** packet() calls the table's timer check when a packet's timestamp reaches this (see flowTable). */
  Deadline = 6,
  /** IP-layer bytes and TCP payload bytes sent by endpoint A / B (Float64: they can pass 2^32). */
  BytesA = 8,
  BytesB = 9,
  PayA = 10,
  PayB = 11,
}

/** Sequence entries whose direction bit lives in the hot record (W.Dir); later ones use FlowStore.seqDir. */
export const HOT_DIR_BITS = 32;

/** Most history letters a flow can have: 8 letters, once per sending endpoint. */
export const HISTORY_MAX = 16;
