import type { ScoredFlow } from '../../anomaly/scoredFlow';

/**
 * The ClickHouse table's columns, in insert order: the SQLite field names (src/sink/flowRow.ts), with `start`/`end`
 * as DateTime (whole seconds, for partitioning and the sort key; `first_ts`/`last_ts` keep the fraction) and
 * `in_iface`/`pcap_filename` as '' where SQLite has NULL (ClickHouse advises against Nullable columns).
 *
 * Types are chosen to be accepted by every ClickHouse release from 18.16 (Debian 12) to current ones: no
 * DateTime64, Bool, LowCardinality or Map. Addresses stay String because pseudonymised ones are `anon:...`.
 */
export interface ClickHouseColumn {
  name: string;
  type: string;
  comment: string;
  /** The schema version that added the column (absent: the first table); `sensor clickhouse-schema --upgrade` adds it. */
  since?: number;
}

export const CLICKHOUSE_COLUMNS: readonly ClickHouseColumn[] = [
  { name: 'uid', type: 'String', comment: 'stable flow id (an active record and the final one share it)' },
  { name: 'sensor', type: 'String', comment: 'name of the sensor that wrote the record' },
  { name: 'start', type: "DateTime('UTC')", comment: 'first packet, whole seconds (first_ts has the fraction)' },
  { name: 'end', type: "DateTime('UTC')", comment: 'last packet, whole seconds (last_ts has the fraction)' },
  { name: 'source', type: 'String', comment: 'capture file or interface' },
  { name: 'in_iface', type: 'String', comment: "live capture's interface ('' offline)" },
  { name: 'pcap_filename', type: 'String', comment: "capture file ('' live)" },
  { name: 'first_ts', type: 'Float64', comment: 'unix seconds of the first packet' },
  { name: 'last_ts', type: 'Float64', comment: 'unix seconds of the last packet' },
  { name: 'duration', type: 'Float64', comment: 'seconds' },
  { name: 'proto', type: 'String', comment: 'tcp' },
  { name: 'ip_version', type: 'UInt8', comment: '4 or 6' },
  { name: 'client_ip', type: 'String', comment: '' },
  { name: 'client_port', type: 'UInt16', comment: '' },
  { name: 'server_ip', type: 'String', comment: '' },
  { name: 'server_port', type: 'UInt16', comment: '' },
  { name: 'vlan', type: 'UInt16', comment: 'outermost VLAN ID, 0 untagged' },
  { name: 'c2s_packets', type: 'UInt64', comment: '' },
  { name: 's2c_packets', type: 'UInt64', comment: '' },
  { name: 'c2s_bytes', type: 'UInt64', comment: 'IP-layer bytes' },
  { name: 's2c_bytes', type: 'UInt64', comment: 'IP-layer bytes' },
  { name: 'c2s_payload_bytes', type: 'UInt64', comment: 'TCP payload bytes' },
  { name: 's2c_payload_bytes', type: 'UInt64', comment: 'TCP payload bytes' },
  { name: 'payload_packets', type: 'UInt16', comment: 'entries in the sequence' },
  { name: 'retrans_skipped', type: 'UInt64', comment: '' },
  { name: 'midstream', type: 'UInt8', comment: '1: first seen without a SYN' },
  { name: 'conn_state', type: 'String', comment: 'Zeek conn_state' },
  { name: 'history', type: 'String', comment: 'Zeek history letters' },
  { name: 'community_id', type: 'String', comment: 'Community ID v1' },
  { name: 'end_reason', type: 'String', comment: 'fin, rst, idle, active, eof, shutdown, evicted' },
  { name: 'lengths', type: 'Array(Int32)', comment: 'signed payload-length sequence, zero padded' },
  { name: 'label', type: 'String', comment: 'application, or unknown / no-payload / classify-error / unclassified' },
  { name: 'verdict', type: 'String', comment: 'classified, unknown, no-payload, classify-error, unclassified' },
  { name: 'confidence', type: 'Float64', comment: 'top-1 probability' },
  { name: 'topk_labels', type: 'Array(String)', comment: 'best first' },
  { name: 'topk_scores', type: 'Array(Float64)', comment: 'best first' },
  { name: 'model_version', type: 'String', comment: '' },
  { name: 'anomaly_score', type: 'Nullable(Float64)', comment: 'anomaly model score, higher = less like normal; NULL without an anomaly model', since: 2 },
  { name: 'anomaly', type: 'Nullable(UInt8)', comment: '1: score above the threshold for anomaly_fpr; NULL without an anomaly model', since: 2 },
  { name: 'anomaly_fpr', type: 'Nullable(Float64)', comment: 'false-positive rate the anomaly threshold was set for; NULL without a model', since: 2 },
];

/** The schema version of CLICKHOUSE_COLUMNS (the highest `since`). */
export const CLICKHOUSE_SCHEMA_VERSION = 2;

/** The columns of the first table (before the anomaly columns): what a JSONEachRow batch spooled by an older sensor holds. */
export const FIRST_COLUMNS: readonly ClickHouseColumn[] = CLICKHOUSE_COLUMNS.filter((c) => c.since === undefined);


/** First size of a batch buffer; it doubles as needed. */
const INITIAL_BYTES = 1024 * 1024;
/**
 * Room kept free beyond each string or array for the fixed-width columns that follow it (all of a row's fixed-width
 * columns and length prefixes together take under 200 bytes), so that only strings and arrays check the size.
 */
const HEADROOM = 256;

/**
 * A batch of rows in ClickHouse's RowBinary format, columns in CLICKHOUSE_COLUMNS order, written straight into one
 * growing buffer: no per-row object, string or JSON text (the JSONEachRow lines this replaced cost the sensor about
 * twice the CPU and ClickHouse several times the parsing, bench/clickhouse.js). RowBinary is little-endian fixed
 * widths, strings and arrays as a LEB128 length then the data, Nullable as a 0/1 null flag then the value; every
 * ClickHouse release from 18.16 to current ones reads it over HTTP (`INSERT ... FORMAT RowBinary`).
 *
 * Values are written so that no record can make the batch unreadable: integers are stored modulo their width
 * (they are counters and ports that fit), and a NaN or infinite probability becomes 0 (a broken model output;
 * JSON lines write it as null, SQLite as NULL). A NaN anomaly score is NULL, as in SQLite.
 */
export class RowBinaryBatch {
  private buf: Buffer = Buffer.allocUnsafe(INITIAL_BYTES);
  private o = 0;
  /** Rows in the batch. */
  rows = 0;
  // One sensor name per run: its UTF-8 bytes are kept rather than encoded per row.
  private sensor = '';
  private sensorBytes: Buffer = Buffer.alloc(0);

  get bytes(): number {
    return this.o;
  }

  /** Appends one row. */
  add(cf: ScoredFlow): void {
    const f = cf.flow;
    const v = cf.verdict;
    const a = cf.anomaly ?? null;
    const lengths = f.lengths;
    const topk = v.topk;
    if (f.sensor !== this.sensor) {
      this.sensor = f.sensor;
      this.sensorBytes = Buffer.from(f.sensor, 'utf8');
    }
    this.reserve(this.sensorBytes.length);
    this.str(f.uid);
    this.varint(this.sensorBytes.length);
    this.sensorBytes.copy(this.buf, this.o);
    this.o += this.sensorBytes.length;
    this.u32(Math.floor(f.first_ts));
    this.u32(Math.floor(f.last_ts));
    this.str(f.source);
    this.str(f.live ? f.source : '');
    this.str(f.live ? '' : f.source);
    this.f64(f.first_ts);
    this.f64(f.last_ts);
    this.f64(f.duration);
    this.str('tcp');
    this.u8(f.ip_version);
    this.str(f.client_ip);
    this.u16(f.client_port);
    this.str(f.server_ip);
    this.u16(f.server_port);
    this.u16(f.vlan);
    this.u64(f.c2s_packets);
    this.u64(f.s2c_packets);
    this.u64(f.c2s_bytes);
    this.u64(f.s2c_bytes);
    this.u64(f.c2s_payload_bytes);
    this.u64(f.s2c_payload_bytes);
    this.u16(f.payload_packets);
    this.u64(f.retrans_skipped);
    this.u8(f.midstream ? 1 : 0);
    this.str(f.conn_state);
    this.str(f.history);
    this.str(f.community_id);
    this.str(f.end_reason);
    this.reserve(4 * lengths.length);
    this.varint(lengths.length);
    for (let i = 0; i < lengths.length; i++) this.i32(lengths[i]!);
    this.str(v.label);
    this.str(v.status);
    this.f64(finite(v.confidence));
    this.varint(topk.length);
    for (let i = 0; i < topk.length; i++) this.str(topk[i]!.label);
    this.reserve(8 * topk.length);
    this.varint(topk.length);
    for (let i = 0; i < topk.length; i++) this.f64(finite(topk[i]!.p));
    this.str(v.model_version);
    if (a === null || Number.isNaN(a.score)) {
      this.u8(1);
      this.u8(1);
      this.u8(1);
    } else {
      this.u8(0);
      this.f64(a.score);
      this.u8(0);
      this.u8(a.anomaly ? 1 : 0);
      this.u8(0);
      this.f64(a.fpr);
    }
    this.rows++;
  }

  /** A copy of the batch's bytes; the batch is then empty (its buffer is kept for the next one). */
  take(): Buffer {
    const out = Buffer.from(this.buf.subarray(0, this.o));
    this.o = 0;
    this.rows = 0;
    return out;
  }

  /** Makes room for n bytes plus HEADROOM. */
  private reserve(n: number): void {
    n += HEADROOM;
    if (this.o + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.o + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.o);
    this.buf = next;
  }

  private u8(x: number): void {
    this.buf[this.o++] = x;
  }

  private u16(x: number): void {
    const b = this.buf;
    const o = this.o;
    b[o] = x;
    b[o + 1] = x >>> 8;
    this.o = o + 2;
  }

  private u32(x: number): void {
    const b = this.buf;
    const o = this.o;
    b[o] = x;
    b[o + 1] = x >>> 8;
    b[o + 2] = x >>> 16;
    b[o + 3] = x >>> 24;
    this.o = o + 4;
  }

  private i32(x: number): void {
    this.u32(x | 0);
  }

  /** A non-negative integer below 2^53 (the counters), as UInt64. */
  private u64(x: number): void {
    this.u32(x >>> 0);
    this.u32(Math.floor(x / 4294967296) >>> 0);
  }

  private f64(x: number): void {
    this.buf.writeDoubleLE(x, this.o);
    this.o += 8;
  }

  private varint(n: number): void {
    const b = this.buf;
    while (n >= 0x80) {
      b[this.o++] = (n & 0x7f) | 0x80;
      n >>>= 7;
    }
    b[this.o++] = n;
  }

  /** A String: its UTF-8 length as LEB128, then the bytes. */
  private str(s: string): void {
    const len = s.length;
    this.reserve(3 * len);
    const b = this.buf;
    const o = this.o;
    // ASCII under 128 characters (nearly every value): one length byte and a copy loop, cheaper than a native call.
    if (len < 0x80) {
      let i = 0;
      for (; i < len; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) break;
        b[o + 1 + i] = c;
      }
      if (i === len) {
        b[o] = len;
        this.o = o + 1 + len;
        return;
      }
    }
    // Otherwise the bytes are written after a 1-byte gap and moved up when the length needs more (at most 3 UTF-8
    // bytes per UTF-16 unit, within the room reserved).
    const n = b.write(s, o + 1);
    if (n < 0x80) {
      b[o] = n;
      this.o = o + 1 + n;
      return;
    }
    let prefix = 1;
    while (n >= 2 ** (7 * prefix)) prefix++;
    b.copyWithin(o + prefix, o + 1, o + 1 + n);
    this.varint(n);
    this.o += n;
  }
}

/** A probability the table can hold: NaN/Infinity (a broken model output) become 0. */
function finite(p: number): number {
  return Number.isFinite(p) ? p : 0;
}

/** The RowBinary bytes of some rows (tests, tools); the sink keeps one RowBinaryBatch. */
export function encodeRows(rows: readonly ScoredFlow[]): Buffer {
  const b = new RowBinaryBatch();
  for (const r of rows) b.add(r);
  return b.take();
}
