// Offline fast path (round perf31): the common TCP packet of a classic pcap file, or of a pcapng file's Enhanced
// Packet Blocks (round perf37), or of a live capture's batch (round perf39), from the capture buffer to its flow's hot
// record, without leaving C++. The JavaScript path stays the reference and the fallback:
//
//   PcapParser.walkRecords   src/capture/pcapReader.ts   record header, timestamp, frames counter
//   PcapngParser.parse       src/capture/pcapngReader.ts EPB checks and fields, pcapngTime.ts ticksToSeconds
//                                                         (PrepareBlock(); the interface table comes from JavaScript)
//   AddonSource.onBatch      src/capture/addonSource.ts  live capture (round perf39): the addon's batch records,
//                                                         a classic record header in the machine's byte order and
//                                                         microseconds, the packet padded to 4 bytes (Prepare())
//   Decoder.decode           src/decode/decoder.ts       Ethernet, Linux cooked SLL and SLL2, raw IP (round perf44),
//                                                         VLAN tags, IPv4, IPv6, TCP (ethernet.ts, sll.ts, sll2.ts,
//                                                         rawIp.ts, vlan.ts, ipv4.ts, ipv6.ts, tcp.ts)
//   FlowTable.packet         src/flow/flowTable.ts       key, hash, index probe, roles, counters, retransmission
//                                                         rule, sequence, endpoint states
//
// walk() takes records from buf[start, end) while each one is the common case, and stops *before* the first one it
// cannot take whole (a record JavaScript must see, a partial record, a damaged length, the frame budget): nothing of
// that record is written, so JavaScript handles it through the normal path and calls walk() again. Per record it
// first decides everything (decode, lookup, every condition below) and only then writes, so a stop never leaves a
// half-done packet. What it writes is exactly what the JavaScript path writes for such a packet; the counters that
// live in JavaScript objects (parser.frames, decoder stats, table.stats, table clock, the pipeline's frame count) are
// added by src/fastpath/fastPath.ts from the io block.
//
// The common case: Ethernet II, Linux cooked capture v1 (SLL) or v2 (SLL2), or raw IP (LINKTYPE_RAW and its old
// numbers 12 and 14, LINKTYPE_IPV4, LINKTYPE_IPV6; round perf44), one link type a walk (io kLinkType); then any number
// of 802.1Q/802.1ad tags, IPv4 not fragmented (options allowed) or IPv6 with TCP as the first next header, a TCP header with a sane data offset, no decoder anomaly counted; the flow exists,
// is not idle, is not closed when the segment is a pure SYN; the table clock stays before the next sweep; the segment
// closes nothing and does not end the flow's active timeout. History letters new to the sender are appended as
// addHistory() does, and a deadline reached moves the flow in the recency list as timers() does. No payload inspector
// (learn mode turns the fast path off in JavaScript).
//
// Bounds: every read is checked against the record's captured length and the chunk's end (never past `end`), every
// write against the registered arrays' sizes; a check that fails stops the walk and JavaScript handles the record
// (which counts whatever anomaly it is).

#include <napi.h>

#include <cmath>
#include <cstdint>
#include <cstring>

namespace {

// The io block (a Float64Array shared with src/fastpath/fastPath.ts; keep both in step).
enum Io : size_t {
  kClock = 0,         // in/out: the flow table's clock
  kNextSweep = 1,     // in: the table's next sweep time (a packet whose clock reaches it goes to JavaScript)
  kMaxFrames = 2,     // in: most records to take in this call (the pipeline's fragment-expiry frame stays in JS)
  kTaken = 3,         // out: records taken
  kRetrans = 4,       // out: payload segments skipped by the retransmission rule
  kStop = 5,          // out: why the walk stopped (a Stop value)
  kIdleTimeout = 6,   // config: table opts.idleTimeout
  kSkipRetrans = 7,   // config: table opts.skipRetransmissions (0/1)
  kUnits = 8,         // config: timestamp fraction units (1e6 / 1e9; 1e6 for live batches)
  kLittleEndian = 9,  // config: the file's byte order (0/1; live batches: the machine's)
  kSeqLength = 10,    // config: store.seqLength
  kSeqDirBytes = 11,  // config: store.seqDirBytes
  kActiveTimeout = 12,  // config: table opts.activeTimeout
  kHead = 13,         // in/out: store.head (least recently moved flow, -1 none)
  kTail = 14,         // in/out: store.tail
  kStopCounts = 16,   // out: records handed back, per Stop value (cumulative)
  // pcapng (round perf37)
  kFormat = 48,       // config: 0 classic pcap records, 1 pcapng blocks, 2 the live addon's batch records
  kIfCount = 49,      // in: interfaces of the current section (entries of the interfaces region)
  kLastTs = 50,       // out: timestamp of the last packet taken (pcapng: PcapngParser's lastTs)
  // live batches (round perf39)
  kRecordsLeft = 51,  // in: records of the batch from start on (the walk takes at most this many; kEnd when it has)
  // link types (round perf44)
  kLinkType = 52,     // in: the LINKTYPE_ (low 16 bits) of the records taken; pcapng: an EPB's interface must have it
  kIoLength = 64,
};

// Why a walk stopped (the record at the returned offset goes to JavaScript). Names in src/fastpath/fastPath.ts.
enum Stop : int {
  kEnd = 0,           // partial record or record header at the chunk's end
  kBudget,            // the frame budget ran out (fragment expiry frame)
  kDamage,            // captured length over MAX_CAPTURED_LENGTH
  kWireLength,        // bad_wire_length
  kLink,              // truncated link header (Ethernet, SLL, SLL2), 802.3 length (LLC), truncated VLAN tag
  kEtherType,         // anything but VLAN, IPv4, IPv6 (MPLS, PPPoE, ARP, ...)
  kIp,                // IP header problem (truncated, version, header or total length; raw IP: no byte, version)
  kNotTcp,            // not TCP, tunnel, IPv6 extension header
  kFragment,          // IPv4 fragment
  kTcp,               // truncated TCP header, bad data offset
  kNewFlow,           // no flow for the key yet
  kIdle,              // the flow is idle (a new flow opens)
  kSynClosed,         // pure SYN on a closed flow (port reuse)
  kSweep,             // the packet's clock reaches the next sweep
  kClose,             // FIN both ways or RST closes the flow
  kActive,            // the flow's deadline with its active timeout due (an interim record)
  kInternal,          // an array was not registered or is smaller than a slot number asks (never expected)
  kBlock,             // pcapng: a block other than an Enhanced Packet Block of an interface of the walk's link type
  kStopCount,
};

constexpr size_t kRecordHeader = 16;
// The live addon's batch (native/src/live_capture.cc, src/capture/addonSource.ts, round perf39): the classic record
// header's four words in the machine's byte order (sec, usec, caplen, wirelen), then the packet padded to 4 bytes.
constexpr uint32_t kLivePad = 3;
// pcapng (src/capture/pcapngReader.ts): an EPB is type, length, interface, ts high, ts low, caplen, origlen, then the
// packet; the length again at the end.
constexpr uint32_t kEpbType = 6;
constexpr size_t kBlockOverhead = 12;
constexpr size_t kEpbMinLength = 32;
constexpr size_t kEpbDataOffset = 28;
constexpr uint32_t kMaxBlockLength = 16 * 1024 * 1024;  // captureLimits.ts MAX_BLOCK_LENGTH
// Link types the walk decodes (src/decode/linkTypes.ts; round perf44 added all but Ethernet), and what it makes of
// each (LinkOf()).
constexpr uint32_t kLinkEthernet = 1;
constexpr uint32_t kLinkRawOld12 = 12, kLinkRawOld14 = 14, kLinkRaw = 101, kLinkSll = 113, kLinkIpv4 = 228,
                   kLinkIpv6 = 229, kLinkSll2 = 276;
enum Link : int { kNoLink = 0, kEthernet, kSll, kSll2, kRawAny, kRawV4, kRawV6 };
Link LinkOf(double linkType) {
  if (!(linkType >= 0 && linkType <= 65535)) return kNoLink;
  switch (static_cast<uint32_t>(linkType)) {
    case kLinkEthernet: return kEthernet;
    case kLinkSll: return kSll;
    case kLinkSll2: return kSll2;
    case kLinkRaw: case kLinkRawOld12: case kLinkRawOld14: return kRawAny;
    case kLinkIpv4: return kRawV4;
    case kLinkIpv6: return kRawV6;
    default: return kNoLink;
  }
}
// The interfaces region: per interface id, its link type, ticks per second and timestamp offset (pcapngReader.ts's
// ifLinkType, ifTicksPerSecond, ifTsOffset), as doubles.
constexpr size_t kIfFields = 3;
constexpr uint32_t kMaxCapturedLength = 262144;  // src/capture/captureLimits.ts MAX_CAPTURED_LENGTH
constexpr uint32_t kMaxWireLength = 1024 * 1024;  // src/decode/decodeContext.ts MAX_WIRE_LENGTH

// src/flow/flowLayout.ts and flow.ts (const enums there).
constexpr size_t kRecBytes = 128;
constexpr size_t kWKey = 0, kWPktsA = 24, kWPktsB = 25, kWHiSeqA = 26, kWHiSeqB = 27, kWRetrans = 30, kWDir = 31;
constexpr size_t kBStateA = 56, kBStateB = 57, kBFlags = 58, kBRole = 59, kBHistA = 60, kBHistB = 61;
constexpr size_t kHSeqCount = 31;
constexpr size_t kWPrev = 28, kWNext = 29;
// flowTable.ts RECENCY_MOVE_INTERVAL and ACTIVE_DEADLINE_MARGIN
constexpr double kRecencyMoveInterval = 1;
constexpr double kActiveDeadlineMargin = 1e-3;
constexpr size_t kDLastTs = 5, kDDeadline = 6, kDBytesA = 8, kDBytesB = 9, kDPayA = 10, kDPayB = 11;
constexpr uint32_t kHotDirBits = 32;
constexpr size_t kHistoryMax = 16;  // flowLayout.ts HISTORY_MAX
// tcpTransitions.ts HISTORY_UPPER / HISTORY_LOWER: the letters of the Hist bits, client and server.
constexpr char kHistoryUpper[] = "SHADFRWT";
constexpr char kHistoryLower[] = "shadfrwt";
constexpr uint8_t kFlClientIsA = 1, kFlFinA = 4, kFlFinB = 8, kFlClosed = 16, kFlHasHiA = 64, kFlHasHiB = 128;
constexpr uint8_t kRoleFirstPacket = 0, kRoleSynAck = 1, kRoleSyn = 2;
constexpr uint8_t kEpClosed = 5, kEpReset = 6;
constexpr int kHistZeroWin = 64, kHistRetx = 128;
constexpr uint8_t kTcpFin = 0x01, kTcpSyn = 0x02, kTcpRst = 0x04, kTcpAck = 0x10;
// src/flow/flowIndex.ts
constexpr uint32_t kSlotMask = (1u << 27) - 1;
constexpr uint32_t kTagMask = ~kSlotMask;

inline uint16_t Be16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }
inline uint32_t Be32(const uint8_t* p) {
  return (static_cast<uint32_t>(p[0]) << 24) | (static_cast<uint32_t>(p[1]) << 16) | (static_cast<uint32_t>(p[2]) << 8) | p[3];
}
inline uint32_t Le32(const uint8_t* p) {
  return (static_cast<uint32_t>(p[3]) << 24) | (static_cast<uint32_t>(p[2]) << 16) | (static_cast<uint32_t>(p[1]) << 8) | p[0];
}

// Typed-array fields of the hot record, in the machine's byte order as the JavaScript views see them.
template <typename T>
inline T Load(const uint8_t* base, size_t byteOff) {
  T v;
  std::memcpy(&v, base + byteOff, sizeof v);
  return v;
}
template <typename T>
inline void Store(uint8_t* base, size_t byteOff, T v) {
  std::memcpy(base + byteOff, &v, sizeof v);
}

struct Region {
  uint8_t* data = nullptr;  // where the registered bytes are now (Refresh())
  size_t bytes = 0;
  size_t align = 1;  // the element size the code reads it as (data must be a multiple of it)
  // What set() registered, as its ArrayBuffer (kept alive by the reference), byte offset and byte length: each walk
  // reads the buffer's data pointer and length again (Refresh()), so a detached or shrunk buffer spans no bytes.
  Napi::Reference<Napi::Value> buffer;
  size_t offset = 0;
  size_t length = 0;

  void Clear() {
    data = nullptr;
    bytes = 0;
  }
};

// Regions set() registers, numbered 0 .. kRegions - 1 in State::At()'s order (fastPath.ts enum Region).
constexpr int32_t kRegions = 12;

struct State {
  Region capture;      // the reader's ArrayBuffer (both of fdInput's buffers live in one)
  Region records;      // the store's hot records (one ArrayBuffer)
  Region seq;          // store.seq (Uint32Array)
  Region seqDir;       // store.seqDir (Uint8Array)
  Region transitions;  // tcpTransitions.ts TRANSITIONS (Uint16Array)
  Region index;        // the flow index's table (Int32Array)
  Region io;           // the io block (Float64Array)
  Region histLetters;  // store.histLetters (Uint8Array, kHistoryMax a slot)
  Region histCount;    // store.histCount (Uint8Array)
  Region lastMove;     // store.lastMove (Float64Array)
  Region activeStart;  // store.activeStart (Float64Array)
  Region interfaces;   // pcapng: the section's interface table (Float64Array, kIfFields an interface)
  // set() and walk() each hold the state (their finalizers drop it): a walk kept after create()'s object is collected
  // must not run on freed memory (round perf32).
  int refs = 0;

  Region* At(int32_t which) {
    Region* regions[] = {&capture, &records, &seq, &seqDir, &transitions, &index,
                         &io, &histLetters, &histCount, &lastMove, &activeStart, &interfaces};
    static_assert(sizeof regions / sizeof regions[0] == kRegions, "one entry per region");
    return which >= 0 && which < kRegions ? regions[which] : nullptr;
  }
};

// The element size each region is read as (alignment the typed pointers in Walk() need).
constexpr size_t kAlign[kRegions] = {1, 8, 4, 1, 2, 4, 8, 1, 1, 8, 8, 8};

size_t ElementSize(napi_typedarray_type type) {
  switch (type) {
    case napi_int16_array: case napi_uint16_array: return 2;
    case napi_int32_array: case napi_uint32_array: case napi_float32_array: return 4;
    case napi_float64_array: case napi_bigint64_array: case napi_biguint64_array: return 8;
    default: return 1;
  }
}

/** A typed array, DataView or ArrayBuffer argument as its ArrayBuffer, byte offset and byte length; false if none. */
bool ViewOf(napi_env env, napi_value v, napi_value* ab, size_t* offset, size_t* length) {
  bool is = false;
  if (napi_is_typedarray(env, v, &is) == napi_ok && is) {
    napi_typedarray_type type;
    size_t n = 0;
    if (napi_get_typedarray_info(env, v, &type, &n, nullptr, ab, offset) != napi_ok) return false;
    *length = n * ElementSize(type);
    return true;
  }
  if (napi_is_dataview(env, v, &is) == napi_ok && is) {
    return napi_get_dataview_info(env, v, length, nullptr, ab, offset) == napi_ok;
  }
  if (napi_is_arraybuffer(env, v, &is) == napi_ok && is) {
    void* d = nullptr;
    *ab = v;
    *offset = 0;
    return napi_get_arraybuffer_info(env, v, &d, length) == napi_ok;
  }
  return false;
}

/** Where the region's bytes are now: [offset, offset + length) of its ArrayBuffer, cut to the buffer's length now. */
bool Locate(napi_env env, napi_value ab, size_t offset, size_t length, uint8_t** data, size_t* bytes) {
  void* d = nullptr;
  size_t n = 0;
  if (napi_get_arraybuffer_info(env, ab, &d, &n) != napi_ok) return false;
  if (d == nullptr || offset > n) {  // detached (or empty), or shrunk below the view
    *data = nullptr;
    *bytes = 0;
    return true;
  }
  *data = static_cast<uint8_t*>(d) + offset;
  *bytes = length < n - offset ? length : n - offset;
  return true;
}

/**
 * Reads a registered region's place again (round perf32): between calls JavaScript may detach its buffer
 * (postMessage / structuredClone transfer) or shrink a resizable one, and a pointer or length kept from set() would then
 * reach freed or decommitted memory. Nothing registered, detached, or misaligned: no bytes. Two N-API calls a region.
 */
void Refresh(napi_env env, Region* r) {
  napi_value ab = nullptr;
  if (r->buffer.IsEmpty() || napi_get_reference_value(env, r->buffer, &ab) != napi_ok || ab == nullptr ||
      !Locate(env, ab, r->offset, r->length, &r->data, &r->bytes) ||
      reinterpret_cast<uintptr_t>(r->data) % r->align != 0) {
    r->Clear();
  }
}

State* StateOf(const Napi::CallbackInfo& info) { return static_cast<State*>(info.Data()); }

/** set(which, arrayOrBuffer): registers one of the regions (0 capture, 1 records, 2 seq, 3 seqDir, 4 transitions,
 * 5 index, 6 io, 7 histLetters, 8 histCount, 9 lastMove, 10 activeStart, 11 interfaces). A TypeError for arguments of the wrong type;
 * false for a region number out of range, an io block too small, or an array not aligned to its region's element. */
Napi::Value Set(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  State* st = StateOf(info);
  napi_value ab = nullptr;
  size_t offset = 0, length = 0;
  if (info.Length() < 2 || !info[0].IsNumber() || !ViewOf(env, info[1], &ab, &offset, &length)) {
    Napi::TypeError::New(env, "fast path set(which, array): a region number and a typed array or ArrayBuffer")
        .ThrowAsJavaScriptException();
    return env.Undefined();
  }
  const double w = info[0].As<Napi::Number>().DoubleValue();
  if (!(w >= 0 && w < kRegions) || w != static_cast<double>(static_cast<int32_t>(w))) return Napi::Boolean::New(env, false);
  const int32_t which = static_cast<int32_t>(w);
  uint8_t* data = nullptr;
  size_t bytes = 0;
  if (!Locate(env, ab, offset, length, &data, &bytes)) return Napi::Boolean::New(env, false);
  if (which == 6 && bytes < kIoLength * sizeof(double)) return Napi::Boolean::New(env, false);
  // An empty array may have no backing store at all (data null): registered, with no bytes.
  if (reinterpret_cast<uintptr_t>(data) % kAlign[which] != 0) return Napi::Boolean::New(env, false);
  Region* r = st->At(which);
  r->buffer = Napi::Persistent(Napi::Value(env, ab));
  r->offset = offset;
  r->length = length;
  r->align = kAlign[which];
  r->data = data;
  r->bytes = bytes;
  return Napi::Boolean::New(env, true);
}

/** One record's decoded TCP/IP fields (PacketMeta's, those the flow table reads). */
struct Packet {
  uint32_t src[4];
  uint32_t dst[4];
  uint32_t ipVersion;
  uint32_t vlan;
  uint32_t srcPort;
  uint32_t dstPort;
  uint32_t seq;
  uint32_t flags;
  uint32_t window;
  int64_t payloadLen;
  int64_t ipLen;
};

/**
 * Decoder.decode for a frame of link `link` at cap[off, capEnd) (capEnd <= the chunk's end), as far as the common case
 * goes: kStopCount when `out` is the TCP segment JavaScript would produce with no anomaly counted, else why not.
 */
int Decode(const uint8_t* cap, size_t off, size_t capEnd, uint32_t wireLen, Link link, Packet* out) {
  // decoder.ts: a wire length no link carries is counted (bad_wire_length).
  if (wireLen > kMaxWireLength) return kWireLength;
  const bool wireKnown = wireLen > 0;
  const size_t wireEnd = capEnd > off + wireLen ? capEnd : off + wireLen;
  uint32_t type;
  size_t p;
  switch (link) {
    case kEthernet:
      // ethernet.ts
      if (off + 14 > capEnd) return kLink;
      type = Be16(cap + off + 12);
      if (type < 0x0600) return kLink;
      p = off + 14;
      break;
    case kSll:
      // sll.ts: 16 bytes, the protocol at 14 (packet type, ARPHRD type and address are not read; a protocol that is
      // not an EtherType this code takes, e.g. 0x0004 802.2, stops below as unsupported_ethertype does)
      if (off + 16 > capEnd) return kLink;
      type = Be16(cap + off + 14);
      p = off + 16;
      break;
    case kSll2:
      // sll2.ts: 20 bytes, the protocol first
      if (off + 20 > capEnd) return kLink;
      type = Be16(cap + off);
      p = off + 20;
      break;
    case kRawAny: case kRawV4: case kRawV6: {
      // rawIp.ts: no link header, the version nibble names the layer (a version the link type does not allow is
      // bad_ip_version, no byte at all truncated_ip: JavaScript counts either)
      if (off >= capEnd) return kIp;
      const uint32_t version = cap[off] >> 4;
      if (version == 4 && link != kRawV6) type = 0x0800;
      else if (version == 6 && link != kRawV4) type = 0x86dd;
      else return kIp;
      p = off;
      break;
    }
    default:
      return kInternal;
  }
  // network.ts / vlan.ts: any number of tags; the outermost one's VLAN ID is the key's.
  uint32_t tags = 0;
  uint32_t vlan = 0;
  while (type == 0x8100 || type == 0x88a8 || type == 0x9100) {
    if (p + 4 > capEnd) return kLink;
    if (tags++ == 0) vlan = Be16(cap + p) & 0x0fff;
    type = Be16(cap + p + 2);
    p += 4;
  }
  out->vlan = vlan;
  int64_t ipPayloadLen;
  size_t tcp;
  if (type == 0x0800) {
    // ipv4.ts
    if (p + 20 > capEnd) return kIp;
    const uint8_t b0 = cap[p];
    if ((b0 >> 4) != 4) return kIp;
    const size_t headerLen = static_cast<size_t>(b0 & 0x0f) * 4;
    if (headerLen < 20) return kIp;
    if (p + headerLen > capEnd) return kIp;
    int64_t totalLen = Be16(cap + p + 2);
    const int64_t onWire = static_cast<int64_t>(wireEnd) - static_cast<int64_t>(p);
    if (totalLen == 0 || (totalLen > onWire && wireKnown)) totalLen = onWire;
    if (totalLen < static_cast<int64_t>(headerLen)) return kIp;
    if (cap[p + 9] != 6) return kNotTcp;
    if ((Be16(cap + p + 6) & 0x3fff) != 0) return kFragment;
    out->ipVersion = 4;
    out->src[0] = Be32(cap + p + 12);
    out->dst[0] = Be32(cap + p + 16);
    out->src[1] = out->src[2] = out->src[3] = 0;
    out->dst[1] = out->dst[2] = out->dst[3] = 0;
    out->ipLen = totalLen;
    ipPayloadLen = totalLen - static_cast<int64_t>(headerLen);
    tcp = p + headerLen;
  } else if (type == 0x86dd) {
    // ipv6.ts, for a TCP header right after the fixed header (no extension header, so no jumbo option either)
    if (p + 40 > capEnd) return kIp;
    if ((cap[p] >> 4) != 6) return kIp;
    const uint8_t next = cap[p + 6];
    if (next != 6) return kNotTcp;
    const size_t start = p + 40;
    int64_t payloadLen = Be16(cap + p + 4);
    const int64_t onWire = static_cast<int64_t>(wireEnd) - static_cast<int64_t>(start);
    if (payloadLen <= 0 || (payloadLen > onWire && wireKnown)) payloadLen = onWire;
    if (payloadLen > static_cast<int64_t>(kMaxWireLength)) return kIp;
    out->ipVersion = 6;
    for (size_t i = 0; i < 4; i++) {
      out->src[i] = Be32(cap + p + 8 + 4 * i);
      out->dst[i] = Be32(cap + p + 24 + 4 * i);
    }
    out->ipLen = 40 + payloadLen;
    ipPayloadLen = payloadLen;
    tcp = start;
  } else {
    return kEtherType;
  }
  // tcp.ts
  if (tcp + 20 > capEnd) return kTcp;
  const int64_t headerLen = static_cast<int64_t>(cap[tcp + 12] >> 4) * 4;
  if (headerLen < 20 || headerLen > ipPayloadLen) return kTcp;
  out->srcPort = Be16(cap + tcp);
  out->dstPort = Be16(cap + tcp + 2);
  out->seq = Be32(cap + tcp + 4);
  out->flags = cap[tcp + 13];
  out->window = Be16(cap + tcp + 14);
  out->payloadLen = ipPayloadLen - headerLen;
  return kStopCount;
}

/** One record looked at ahead of the table work: where it is, its timestamp, its decoded fields, key and hash. */
struct Ahead {
  size_t pos;
  size_t next;
  double ts;
  int why;  // kStopCount: a common TCP segment; else the Stop that hands it (and the walk) back to JavaScript
  bool srcIsA;
  uint32_t hash;
  int64_t slot;  // from the index probe: the slot, -1 none, -2 a slot number past the store
  uint32_t key[10];
  Packet pk;
};

/**
 * Records are taken in batches of this many: the batch is decoded and hashed first and the index buckets of all of
 * them prefetched, then probed and their flows' records prefetched, then each is handled in order. With many flows
 * nearly every packet's bucket and record miss the caches; one at a time those misses were most of walk()'s time
 * (round perf31), in a batch they overlap. The batch is cut at the first record that cannot be taken.
 */
constexpr size_t kBatch = 8;

void KeyAndHash(Ahead* a);

/**
 * Record header and Decode() for the record at pos, then the canonical key and its hash as packet() makes them. `pad`
 * is 0 for a classic pcap record and kLivePad for a live batch record (its packet padded to 4 bytes: the next record
 * starts at the padded end, which must be inside the batch's used bytes; the packet's own bytes end at its captured
 * length). The live batch's words are in the machine's byte order (le says which) and microseconds (units 1e6), the
 * same operations as AddonSource.onBatch's `w[q] + w[q + 1] / 1e6`.
 */
void Prepare(const uint8_t* cap, size_t pos, size_t end, bool le, double units, uint32_t pad, Link link, Ahead* a) {
  a->pos = pos;
  if (end - pos < kRecordHeader) {
    a->why = kEnd;
    return;
  }
  const uint8_t* h = cap + pos;
  const uint32_t capLen = le ? Le32(h + 8) : Be32(h + 8);
  if (capLen > kMaxCapturedLength) {
    a->why = kDamage;
    return;
  }
  const size_t capEnd = pos + kRecordHeader + capLen;
  const size_t next = pos + kRecordHeader + ((capLen + pad) & ~pad);
  if (next > end) {
    a->why = kEnd;
    return;
  }
  a->next = next;
  // The next record's header and TCP/IP headers: the hardware prefetcher does not follow the records' varying strides.
  if (next + 128 <= end) {
    __builtin_prefetch(cap + next);
    __builtin_prefetch(cap + next + 64);
  }
  const uint32_t wireLen = le ? Le32(h + 12) : Be32(h + 12);
  a->ts = static_cast<double>(le ? Le32(h) : Be32(h)) + static_cast<double>(le ? Le32(h + 4) : Be32(h + 4)) / units;
  a->why = Decode(cap, pos + kRecordHeader, capEnd, wireLen, link, &a->pk);
  if (a->why == kStopCount) KeyAndHash(a);
}

/** flowTable.ts packet(): the canonical key of a->pk and its hash. */
void KeyAndHash(Ahead* a) {
  const Packet& pk = a->pk;
  // flowTable.ts packet(): canonical order (A = the lesser: address words, then port) and the key.
  int cmp = 0;
  for (size_t i = 0; i < 4 && cmp == 0; i++) {
    if (pk.src[i] != pk.dst[i]) cmp = pk.src[i] < pk.dst[i] ? -1 : 1;
  }
  if (cmp == 0) cmp = pk.srcPort < pk.dstPort ? -1 : pk.srcPort > pk.dstPort ? 1 : 0;
  const bool srcIsA = cmp <= 0;
  a->srcIsA = srcIsA;
  const uint32_t* A = srcIsA ? pk.src : pk.dst;
  const uint32_t* Bw = srcIsA ? pk.dst : pk.src;
  uint32_t* key = a->key;
  key[0] = (pk.ipVersion << 16) | (pk.vlan & 0xffff);
  key[1] = A[0];
  key[2] = A[1];
  key[3] = A[2];
  key[4] = A[3];
  key[5] = Bw[0];
  key[6] = Bw[1];
  key[7] = Bw[2];
  key[8] = Bw[3];
  key[9] = srcIsA ? (pk.srcPort << 16) | pk.dstPort : (pk.dstPort << 16) | pk.srcPort;
  // flowKeyHash (flowKey.ts), as packet() writes it out.
  uint32_t hh = (key[0] * 0x9e3779b1u) ^ (key[1] * 0x85ebca77u) ^ (key[2] * 0xc2b2ae3du) ^ (key[3] * 0x27d4eb2fu) ^
                (key[4] * 0x165667b1u) ^ (key[5] * 0xd3a2646du) ^ (key[6] * 0xfd7046c5u) ^ (key[7] * 0xb55a4f09u) ^
                (key[8] * 0x7feb352du) ^ (key[9] * 0x846ca68bu);
  hh ^= hh >> 16;
  hh *= 0x85ebca6bu;
  hh ^= hh >> 13;
  hh *= 0xc2b2ae35u;
  hh ^= hh >> 16;
  a->hash = hh;
}

/** pcapngTime.ts ticksToSeconds, operation for operation (the same doubles; binding.gyp turns off FMA contraction). */
double TicksToSeconds(uint32_t highWord, uint32_t lowWord, double ticksPerSecond) {
  constexpr double kTwoPow32 = 4294967296.0;
  const double high = highWord;
  const double low = lowWord;
  if (ticksPerSecond >= kTwoPow32) return (high * kTwoPow32 + low) / ticksPerSecond;
  if (high < 2097152.0) {
    const double ticks = high * kTwoPow32 + low;
    const double whole = std::floor(ticks / ticksPerSecond);
    return whole + (ticks - whole * ticksPerSecond) / ticksPerSecond;
  }
  const double q1 = std::floor(high / ticksPerSecond);
  const double r1 = high - q1 * ticksPerSecond;
  const double d2 = r1 * 65536.0 + static_cast<double>(lowWord >> 16);
  const double q2 = std::floor(d2 / ticksPerSecond);
  const double d3 = (d2 - q2 * ticksPerSecond) * 65536.0 + static_cast<double>(lowWord & 0xffff);
  const double q3 = std::floor(d3 / ticksPerSecond);
  const double whole = q1 * kTwoPow32 + (q2 * 65536.0 + q3);
  return whole + (d3 - q3 * ticksPerSecond) / ticksPerSecond;
}

/**
 * pcapng (round perf37): PcapngParser.parse's EPB case for the block at pos, then Decode() and the key, as Prepare()
 * for a classic record. Anything the parser would not take the same way stops here, before a byte of it is used: a
 * partial block (kEnd), any other block type or an EPB of an interface of another link type than the walk's (kBlock), and every length, trailer,
 * interface id or captured length the parser reports as damage (kDamage). Every read is inside [pos, pos + length) of
 * a block whose length was checked against the chunk's end; the packet's bytes end at its captured length. The EPB's
 * options and padding are not read, as in the parser.
 */
void PrepareBlock(const uint8_t* cap, size_t pos, size_t end, bool le, const double* ifs, size_t ifCount, double linkType,
                  Link link, Ahead* a) {
  a->pos = pos;
  if (end - pos < kBlockOverhead) {
    a->why = kEnd;
    return;
  }
  const uint8_t* h = cap + pos;
  if ((le ? Le32(h) : Be32(h)) != kEpbType) {
    a->why = kBlock;
    return;
  }
  const uint32_t len = le ? Le32(h + 4) : Be32(h + 4);
  if (len < kEpbMinLength || len % 4 != 0 || len > kMaxBlockLength) {
    a->why = kDamage;
    return;
  }
  if (end - pos < len) {
    a->why = kEnd;
    return;
  }
  if ((le ? Le32(h + len - 4) : Be32(h + len - 4)) != len) {
    a->why = kDamage;
    return;
  }
  const uint32_t ifId = le ? Le32(h + 8) : Be32(h + 8);
  if (ifId >= ifCount) {
    a->why = kDamage;
    return;
  }
  const double* iface = ifs + static_cast<size_t>(ifId) * kIfFields;
  if (iface[0] != linkType) {
    a->why = kBlock;
    return;
  }
  const uint32_t capLen = le ? Le32(h + 20) : Be32(h + 20);
  if (capLen > kMaxCapturedLength || capLen > len - kEpbMinLength) {
    a->why = kDamage;
    return;
  }
  const size_t next = pos + len;
  a->next = next;
  if (next + 128 <= end) {
    __builtin_prefetch(cap + next);
    __builtin_prefetch(cap + next + 64);
  }
  const uint32_t high = le ? Le32(h + 12) : Be32(h + 12);
  const uint32_t low = le ? Le32(h + 16) : Be32(h + 16);
  a->ts = iface[2] + TicksToSeconds(high, low, iface[1]);
  const uint32_t wireLen = le ? Le32(h + 24) : Be32(h + 24);
  a->why = Decode(cap, pos + kEpbDataOffset, pos + kEpbDataOffset + capLen, wireLen, link, &a->pk);
  if (a->why == kStopCount) KeyAndHash(a);
}

/** FlowIndex.find (flowIndex.ts): the slot whose key is a->key, -1 when none, -2 when an entry names no slot. */
int64_t Find(const int32_t* index, size_t indexLen, uint32_t mask, const uint8_t* rec, size_t slots, const Ahead* a) {
  const uint32_t hh = a->hash;
  const uint32_t tag = hh & kTagMask;
  size_t probes = 0;
  for (uint32_t i = hh & mask;; i = (i + 1) & mask) {
    const uint32_t e = static_cast<uint32_t>(index[i]);
    if (e == 0 || ++probes > indexLen) return -1;
    if ((e & kTagMask) != tag) continue;
    const size_t cand = (e & kSlotMask) - 1;
    if (cand >= slots) return -2;
    const uint8_t* kr = rec + cand * kRecBytes + kWKey * 4;
    bool same = true;
    for (size_t k = 0; k < 10 && same; k++) same = Load<uint32_t>(kr, 4 * k) == a->key[k];
    if (same) return static_cast<int64_t>(cand);
  }
}

/**
 * walk(start, end): records from the capture region's [start, end) (byte offsets in the registered buffer).
 * Returns the offset of the first record not taken; io says how many were taken and why the walk stopped.
 */
Napi::Value Walk(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  State* st = StateOf(info);
  if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsNumber()) {
    Napi::TypeError::New(env, "fast path walk(start, end): two numbers").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  for (int32_t i = 0; i < kRegions; i++) Refresh(env, st->At(i));
  double* io = reinterpret_cast<double*>(st->io.data);
  if (io == nullptr || st->io.bytes < kIoLength * sizeof(double)) return Napi::Number::New(env, -1);
  const double startArg = info[0].As<Napi::Number>().DoubleValue();
  const double endArg = info[1].As<Napi::Number>().DoubleValue();
  io[kTaken] = 0;
  io[kRetrans] = 0;
  // Arguments outside the capture region: take nothing (JavaScript reads the records itself).
  if (!(startArg >= 0) || !(endArg >= startArg) || endArg > static_cast<double>(st->capture.bytes)) {
    io[kStop] = kInternal;
    io[kStopCounts + kInternal] += 1;
    return Napi::Number::New(env, startArg);
  }
  size_t pos = static_cast<size_t>(startArg);
  const size_t end = static_cast<size_t>(endArg);
  const uint8_t* cap = st->capture.data;

  double clock = io[kClock];
  const double nextSweep = io[kNextSweep];
  const double budgetFrames = io[kMaxFrames];
  const double idleTimeout = io[kIdleTimeout];
  const bool skipRetrans = io[kSkipRetrans] != 0;
  const double units = io[kUnits];
  const bool le = io[kLittleEndian] != 0;
  // pcapng: the section's interfaces, as many as the region holds (an entry past it is an unknown interface: kDamage).
  const bool blocks = io[kFormat] == 1;
  // Live batches: at most the batch's records left (a budget stop there is the batch's end, kEnd).
  const bool live = io[kFormat] == 2;
  const uint32_t pad = live ? kLivePad : 0;
  const double recordsLeft = io[kRecordsLeft];
  const double* ifs = reinterpret_cast<const double*>(st->interfaces.data);
  const size_t ifRoom = ifs != nullptr ? st->interfaces.bytes / (kIfFields * sizeof(double)) : 0;
  const size_t ifCount = io[kIfCount] >= 0 && io[kIfCount] <= static_cast<double>(ifRoom) ? static_cast<size_t>(io[kIfCount]) : 0;
  double lastTakenTs = 0;
  // The link type of the records taken (pcapng: of the EPBs' interfaces); one the code does not decode takes nothing.
  const double linkType = io[kLinkType];
  const Link link = LinkOf(linkType);
  // Doubles from JavaScript: a value out of a type's range is undefined behaviour to convert, so check first.
  const bool sizesOk = io[kSeqLength] >= 0 && io[kSeqLength] <= 65535 && io[kSeqDirBytes] >= 0 && io[kSeqDirBytes] <= 65535;
  const uint32_t seqLength = sizesOk ? static_cast<uint32_t>(io[kSeqLength]) : 0;
  const uint32_t seqDirBytes = sizesOk ? static_cast<uint32_t>(io[kSeqDirBytes]) : 0;

  uint8_t* rec = st->records.data;
  const size_t slots = st->records.bytes / kRecBytes;
  uint32_t* seqArr = reinterpret_cast<uint32_t*>(st->seq.data);
  const size_t seqLen = st->seq.bytes / sizeof(uint32_t);
  uint8_t* seqDir = st->seqDir.data;
  const size_t seqDirLen = st->seqDir.bytes;
  const uint16_t* trans = reinterpret_cast<const uint16_t*>(st->transitions.data);
  const size_t transLen = st->transitions.bytes / sizeof(uint16_t);
  const int32_t* index = reinterpret_cast<const int32_t*>(st->index.data);
  const size_t indexLen = st->index.bytes / sizeof(int32_t);
  uint8_t* histLetters = st->histLetters.data;
  const size_t histLettersLen = st->histLetters.bytes;
  uint8_t* histCount = st->histCount.data;
  const size_t histCountLen = st->histCount.bytes;
  double* lastMove = reinterpret_cast<double*>(st->lastMove.data);
  double* activeStart = reinterpret_cast<double*>(st->activeStart.data);
  // Per-slot arrays the deadline path reads: every slot of the records must have its entry.
  const bool timerArrays = st->lastMove.bytes / sizeof(double) >= slots && st->activeStart.bytes / sizeof(double) >= slots;
  const double activeTimeout = io[kActiveTimeout];
  const bool listOk = io[kHead] >= -1 && io[kHead] < 2147483648.0 && io[kTail] >= -1 && io[kTail] < 2147483648.0;
  int64_t head = listOk ? static_cast<int64_t>(io[kHead]) : -1;
  int64_t tail = listOk ? static_cast<int64_t>(io[kTail]) : -1;
  // The index is a power of two of buckets (flowIndex.ts); anything else is not one the code below can probe.
  const bool ready = rec != nullptr && trans != nullptr && index != nullptr && indexLen >= 2 &&
                     (indexLen & (indexLen - 1)) == 0 && cap != nullptr && histLetters != nullptr && histCount != nullptr &&
                     lastMove != nullptr && activeStart != nullptr && timerArrays && sizesOk && listOk && link != kNoLink;
  const uint32_t mask = static_cast<uint32_t>(indexLen - 1);

  // NaN or negative: nothing (the comparisons below are false).
  const double maxFrames = live && !(recordsLeft >= budgetFrames) ? recordsLeft : budgetFrames;
  double taken = 0;
  double retrans = 0;
  int stop = kInternal;
  Ahead batch[kBatch];
  bool more = ready;
  while (more) {
    if (!(taken < maxFrames)) {
      stop = live && !(taken < recordsLeft) ? kEnd : kBudget;
      break;
    }
    // Decode and hash up to kBatch records (within the frame budget), prefetching each one's index bucket; the batch
    // ends after the first record that is not a common TCP segment (or not whole).
    size_t n = 0;
    const double room = maxFrames - taken;
    for (size_t p = pos; n < kBatch && static_cast<double>(n) < room;) {
      Ahead* a = &batch[n++];
      if (blocks) PrepareBlock(cap, p, end, le, ifs, ifCount, linkType, link, a);
      else Prepare(cap, p, end, le, units, pad, link, a);
      if (a->why != kStopCount) break;
      __builtin_prefetch(index + (a->hash & mask));
      p = a->next;
    }
    // The buckets are in cache by now: prefetch the record (both lines) of each one's first entry with a matching tag,
    // nearly always its flow, then probe for real.
    for (size_t j = 0; j < n; j++) {
      const Ahead* a = &batch[j];
      if (a->why != kStopCount) break;
      const uint32_t tag = a->hash & kTagMask;
      for (uint32_t i = a->hash & mask, k = 0; k < 4; i = (i + 1) & mask, k++) {
        const uint32_t e = static_cast<uint32_t>(index[i]);
        if (e == 0) break;
        if ((e & kTagMask) != tag) continue;
        const size_t cand = (e & kSlotMask) - 1;
        if (cand < slots) {
          __builtin_prefetch(rec + cand * kRecBytes, 1);
          __builtin_prefetch(rec + cand * kRecBytes + 64, 1);
        }
        break;
      }
    }
    for (size_t j = 0; j < n; j++) {
      Ahead* a = &batch[j];
      if (a->why != kStopCount) break;
      a->slot = Find(index, indexLen, mask, rec, slots, a);
      // The sequence entry a payload segment would fill (the record's line 0, with the entry count, is in cache now).
      if (a->slot >= 0 && a->pk.payloadLen > 0) {
        const size_t at = static_cast<size_t>(a->slot) * seqLength +
                          Load<uint16_t>(rec + static_cast<size_t>(a->slot) * kRecBytes, kHSeqCount * 2);
        if (at < seqLen) __builtin_prefetch(seqArr + at, 1);
      }
    }
    for (size_t j = 0; j < n; j++) {
      const Ahead* a = &batch[j];
      if (a->why != kStopCount) {
        stop = a->why;
        more = false;
        break;
      }
      const Packet& pk = a->pk;
      const double ts = a->ts;
      const bool srcIsA = a->srcIsA;
      const int64_t s = a->slot;

      // flowTable.ts packet(): decide everything first.
      const double newClock = ts > clock ? ts : clock;
      if (newClock >= nextSweep) {
        stop = kSweep;
        more = false;
        break;
      }
      if (s < 0) {
        stop = s == -1 ? kNewFlow : kInternal;
        more = false;
        break;
      }
      uint8_t* r = rec + static_cast<size_t>(s) * kRecBytes;
      const uint32_t flags = pk.flags;
      const bool pureSyn = (flags & (kTcpSyn | kTcpAck)) == kTcpSyn;
      const double lastTs = Load<double>(r, kDLastTs * 8);
      int why = kStopCount;
      // Client decision
      uint8_t fl = r[kBFlags];
      uint8_t role = r[kBRole];
      const uint8_t roleBefore = role;
      if (ts - lastTs > idleTimeout) why = kIdle;
      else if (pureSyn && (fl & kFlClosed) != 0) why = kSynClosed;
      if (why != kStopCount) {
        stop = why;
        more = false;
        break;
      }
      if ((flags & kTcpSyn) != 0) {
        if (pureSyn) {
          if (role != kRoleSyn) {
            fl = srcIsA ? (fl | kFlClientIsA) : (fl & ~kFlClientIsA);
            role = kRoleSyn;
          }
        } else if (role == kRoleFirstPacket) {
          fl = srcIsA ? (fl & ~kFlClientIsA) : (fl | kFlClientIsA);
          role = kRoleSynAck;
        }
      }
      const bool c2s = srcIsA == ((fl & kFlClientIsA) != 0);
      const int64_t len = pk.payloadLen;
      // Retransmission rule and sequence entry
      int hist = 0;
      bool skip = false;
      bool addSeq = false;
      uint32_t count = 0;
      size_t seqAt = 0;
      size_t dirAt = 0;
      const uint8_t hasHi = srcIsA ? kFlHasHiA : kFlHasHiB;
      const size_t hiAt = (srcIsA ? kWHiSeqA : kWHiSeqB) * 4;
      if (len > 0) {
        const uint32_t dseq = pk.seq - Load<uint32_t>(r, hiAt);
        if (skipRetrans && (fl & hasHi) != 0 && !(dseq != 0 && dseq < 0x80000000u)) {
          skip = true;
          hist |= kHistRetx;
        } else {
          count = Load<uint16_t>(r, kHSeqCount * 2);
          if (count < seqLength) {
            addSeq = true;
            seqAt = static_cast<size_t>(s) * seqLength + count;
            if (seqAt >= seqLen) why = kInternal;
            if (!c2s && count >= kHotDirBits) {
              dirAt = static_cast<size_t>(s) * seqDirBytes + ((count - kHotDirBits) >> 3);
              if (dirAt >= seqDirLen || seqDir == nullptr) why = kInternal;
            }
          }
        }
      }
      // Endpoint states (tcpTransitions.ts)
      const size_t stAt = srcIsA ? kBStateA : kBStateB;
      const size_t peerAt = srcIsA ? kBStateB : kBStateA;
      const uint32_t state = r[stAt];
      const uint32_t peer = r[peerAt];
      const uint32_t control = (flags & (kTcpFin | kTcpSyn | kTcpRst)) | ((flags & kTcpAck) != 0 ? 8 : 0);
      const size_t ti = (static_cast<size_t>(control | (len > 0 ? 16 : 0)) << 6) | (static_cast<size_t>(state) << 3) | peer;
      if (ti >= transLen) why = kInternal;
      const uint32_t tr = why == kStopCount ? trans[ti] : 0;
      hist |= static_cast<int>(tr >> 6) & 0xff;  // eight letters: a wider value would index past kHistoryUpper
      if (pk.window == 0 && (flags & kTcpRst) == 0 && peer != kEpClosed && state < kEpReset) hist |= kHistZeroWin;
      uint8_t flNew = fl;
      if ((flags & kTcpFin) != 0) flNew |= srcIsA ? kFlFinA : kFlFinB;
      if (!skip && len > 0) flNew |= hasHi;
      const bool rst = (flags & kTcpRst) != 0;
      const size_t hb = srcIsA ? kBHistA : kBHistB;
      if (why != kStopCount) {
        // an internal bound (not expected): JavaScript handles the record
      } else if ((flNew & kFlClosed) == 0 && (rst || (flNew & (kFlFinA | kFlFinB)) == (kFlFinA | kFlFinB))) {
        why = kClose;
      }
      // timers() at the deadline: an active timeout due writes an interim record (JavaScript's); else the recency move
      // (once RECENCY_MOVE_INTERVAL passed since the last one) and the next deadline, done below.
      const bool due = ts >= Load<double>(r, kDDeadline * 8);
      const double lastNew = ts > lastTs ? ts : lastTs;
      bool moveDue = false;  // timers(): RECENCY_MOVE_INTERVAL has passed since the flow's last move
      bool move = false;     // and the flow is not already the tail, so it is unlinked and appended
      int64_t pr = -1, nx = -1;
      if (due && why == kStopCount) {
        if (ts - activeStart[s] >= activeTimeout) {
          why = kActive;
        } else if ((moveDue = lastNew - lastMove[s] >= kRecencyMoveInterval) && s != tail) {
          move = true;
          pr = Load<int32_t>(r, kWPrev * 4);
          nx = Load<int32_t>(r, kWNext * 4);
          // Every link must name a slot (or none): anything else is not a list this code may rewrite.
          if (pr < -1 || pr >= static_cast<int64_t>(slots) || nx < -1 || nx >= static_cast<int64_t>(slots) || tail < -1 ||
              tail >= static_cast<int64_t>(slots)) {
            why = kInternal;
          }
        }
      }
      // History letters new to the sender (addHistory()): appended after the ones the flow has, lowest bit first.
      const int fresh = hist & ~static_cast<int>(r[hb]);
      const size_t histAt = static_cast<size_t>(s) * kHistoryMax;
      uint32_t histN = 0;
      if (fresh != 0 && why == kStopCount) {
        histN = static_cast<size_t>(s) < histCountLen ? histCount[s] : 0xff;
        if (static_cast<size_t>(s) >= histCountLen || histN + __builtin_popcount(fresh) > kHistoryMax ||
            histAt + kHistoryMax > histLettersLen) {
          why = kInternal;
        }
      }
      if (why != kStopCount) {
        stop = why;
        more = false;
        break;
      }

      // Commit: what packet() writes (the fields are distinct, so the order does not matter).
      clock = newClock;
      if (ts > lastTs) Store<double>(r, kDLastTs * 8, ts);
      if (role != roleBefore) r[kBRole] = role;
      const size_t pkAt = (srcIsA ? kWPktsA : kWPktsB) * 4;
      const uint32_t pkts = Load<uint32_t>(r, pkAt);
      if (pkts != 0xffffffffu) Store<uint32_t>(r, pkAt, pkts + 1);
      const size_t byAt = (srcIsA ? kDBytesA : kDBytesB) * 8;
      Store<double>(r, byAt, Load<double>(r, byAt) + static_cast<double>(pk.ipLen));
      const size_t payAt = (srcIsA ? kDPayA : kDPayB) * 8;
      Store<double>(r, payAt, Load<double>(r, payAt) + static_cast<double>(len));
      if (skip) {
        const uint32_t rt = Load<uint32_t>(r, kWRetrans * 4);
        if (rt != 0xffffffffu) Store<uint32_t>(r, kWRetrans * 4, rt + 1);
        retrans += 1;
      } else if (len > 0) {
        Store<uint32_t>(r, hiAt, pk.seq);
        if (addSeq) {
          seqArr[seqAt] = static_cast<uint32_t>(len);
          if (!c2s) {
            if (count < kHotDirBits) {
              Store<uint32_t>(r, kWDir * 4, Load<uint32_t>(r, kWDir * 4) | (1u << count));
            } else {
              seqDir[dirAt] = static_cast<uint8_t>(seqDir[dirAt] | (1u << ((count - kHotDirBits) & 7)));
            }
          }
          Store<uint16_t>(r, kHSeqCount * 2, static_cast<uint16_t>(count + 1));
        }
      }
      r[stAt] = static_cast<uint8_t>(tr & 7);
      r[peerAt] = static_cast<uint8_t>((tr >> 3) & 7);
      r[kBFlags] = flNew;
      if (fresh != 0) {
        r[hb] = static_cast<uint8_t>(r[hb] | fresh);
        const char* letters = c2s ? kHistoryUpper : kHistoryLower;
        for (int b = fresh; b != 0; b &= b - 1) histLetters[histAt + histN++] = static_cast<uint8_t>(letters[__builtin_ctz(b)]);
        histCount[s] = static_cast<uint8_t>(histN);
      }
      if (due) {
        if (moveDue) {
          lastMove[s] = lastNew;  // the flow's LastTs, stored above
          if (move) {
            // FlowStore.moveToTail: unlink, then append at the tail.
            if (pr != -1) Store<int32_t>(rec + static_cast<size_t>(pr) * kRecBytes, kWNext * 4, static_cast<int32_t>(nx));
            else head = nx;
            if (nx != -1) Store<int32_t>(rec + static_cast<size_t>(nx) * kRecBytes, kWPrev * 4, static_cast<int32_t>(pr));
            else tail = pr;
            const int64_t t = tail;
            Store<int32_t>(r, kWPrev * 4, static_cast<int32_t>(t));
            Store<int32_t>(r, kWNext * 4, -1);
            if (t != -1) Store<int32_t>(rec + static_cast<size_t>(t) * kRecBytes, kWNext * 4, static_cast<int32_t>(s));
            else head = s;
            tail = s;
          }
        }
        // setDeadline()
        const double byMove = lastMove[s] + kRecencyMoveInterval;
        const double byActive = activeStart[s] + activeTimeout - kActiveDeadlineMargin;
        Store<double>(r, kDDeadline * 8, byMove < byActive ? byMove : byActive);
      }
      taken += 1;
      lastTakenTs = ts;
      pos = a->next;
    }
  }
  if (!ready) stop = kInternal;
  io[kClock] = clock;
  io[kHead] = static_cast<double>(head);
  io[kTail] = static_cast<double>(tail);
  io[kTaken] = taken;
  if (taken > 0) io[kLastTs] = lastTakenTs;
  io[kRetrans] = retrans;
  io[kStop] = stop;
  io[kStopCounts + stop] += 1;
  return Napi::Number::New(env, static_cast<double>(pos));
}

void DropState(Napi::Env, State* st) {
  if (--st->refs == 0) delete st;
}

/** create(): a fast path of its own (one per pipeline), with set() and walk() bound to it. */
Napi::Value Create(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  State* st = new State();
  Napi::Object o = Napi::Object::New(env);
  Napi::Function set = Napi::Function::New(env, Set, "set", st);
  Napi::Function walk = Napi::Function::New(env, Walk, "walk", st);
  st->refs = 2;
  set.AddFinalizer(DropState, st);
  walk.AddFinalizer(DropState, st);
  o.Set("set", set);
  o.Set("walk", walk);
  return o;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("create", Napi::Function::New(env, Create, "create"));
  exports.Set("ioLength", Napi::Number::New(env, kIoLength));
  exports.Set("stopCounts", Napi::Number::New(env, kStopCounts));
  exports.Set("stopReasons", Napi::Number::New(env, kStopCount));
  return exports;
}

}  // namespace

NODE_API_MODULE(sensor_fastpath, Init)
