import { setImmediate as nextTick } from 'node:timers/promises';

import type { ScoredFlow } from '../anomaly/scoredFlow';
import type { ClassScore } from '../classify/verdict';
import { FLOW_COLUMNS, type FlowRow, roundedDuration } from './flowRow';
import { ISO_MICROS_ROOM, isoMicros, isoMicrosInto } from './isoTime';
import { SinkError } from './sinkError';
import { hostname } from 'node:os';
import { createIndexes, dropIndexes, migrate, type Migration, MIGRATIONS, SchemaError } from './schema';
import { Database, type SqliteDatabase, type SqliteStatement, withAddon } from './sqliteBinding';
import { LatencyHistogram } from '../metrics/latencyHistogram';

export interface SqliteSinkOptions {
  /** Most rows per write transaction (default 16384); larger batches are split. */
  batchRows?: number;
  /** Schema migrations to apply (tests pass a longer list to exercise upgrades). */
  migrations?: readonly Migration[];
  /** The sensor's name, for backfilling rows of an older schema (default: the host name). */
  sensorName?: string;
  /**
   * Bulk load (an offline run): when the flows table is empty at open, drop the secondary indexes and build them
   * in close(). Maintaining five indexes on random keys row by row made SQLite the bottleneck of a flood (README
   * "Reliability"); building them once at the end sorts instead. Readers during the run see no indexes.
   */
  deferIndexes?: boolean;
  /**
   * Live mode: once writing has taken more than this share of the wall time (over the last ~WRITE_WINDOW_MS),
   * records of flows without payload (a SYN or ACK flood, a scan, half-open connections) are counted in `shed`
   * instead of inserted, until the share falls below it again. Under a flood the index maintenance of millions of
   * such rows would otherwise hold the capture thread and make the kernel drop packets of every flow. Default:
   * never shed.
   */
  shedAbove?: number;
  /**
   * Gather the rows of several write() calls into one transaction: it is committed once it holds batchRows rows or
   * is this many milliseconds old (a timer commits it when no further write comes). For callers that hand over
   * small batches (the pipeline's SINK_BATCH) while large transactions keep SQLite's cost per row low. A commit
   * that fails on the timer is reported by the next write(), drained(), holdCommits() or close(), and to
   * `onDeferred`. Default: each write() commits its own rows.
   */
  groupMs?: number;
}

/**
 * While commits are held (holdCommits(true): the shutdown or end-of-file flush), the open transaction is committed
 * once it is this old: a flush of a full table writes a few large transactions instead of sixty 16,384-row ones,
 * each rewriting the index pages it touched, and a kill during the flush loses at most this much.
 */
export const HELD_COMMIT_MS = 5000;

/**
 * How long the sensor's database gathers rows into one transaction (SqliteSinkOptions.groupMs). The pipeline hands
 * over small batches (its SINK_BATCH), so records die young on the capture thread and a database thread starts on
 * them while capture goes on; gathering keeps SQLite's transactions large (with indexes, rows per transaction decide
 * the cost, README "Reliability"). This plus the pipeline's SINK_DELAY_MS bound how long a record waits for its
 * commit (what a kill -9 can lose besides the open flows).
 */
export const GROUP_COMMIT_MS = 250;

/** Time constant (ms) of the decaying measure of how busy writing is, for `shedAbove`. */
export const WRITE_WINDOW_MS = 2000;

/**
 * Most rows per write transaction. A transaction writes every index page it touches once, and with indexes on
 * random keys (client_ip, community_id) nearly every row touches pages of its own, so bigger transactions write
 * far fewer pages per row (README "Reliability"); a 16,384-row transaction still holds the write lock well under
 * a second.
 */
export const DEFAULT_BATCH_ROWS = 16384;
/**
 * SQLite page cache in KiB (PRAGMA cache_size takes negative KiB). The default 2 MiB cannot hold the index pages
 * a big transaction touches, which are then read back from the file for every row; 64 MiB is part of the
 * sensor's stated memory bound.
 */
export const CACHE_KIB = 64 * 1024;
/** How long a writer or reader waits for the other's lock before failing with SQLITE_BUSY. */
export const BUSY_TIMEOUT_MS = 5000;
/** Keep the WAL file from growing without bound between checkpoints (bytes it is truncated to when reset). */
export const JOURNAL_SIZE_LIMIT = 64 * 1024 * 1024;

/** FlowRow's FLOW_COLUMNS as bound to the INSERT, in column order: arrays as JSON text, booleans as 0/1. */
type SqliteParams = (string | number | null)[];

// Column names quoted: `end` is an SQL keyword.
const INSERT_SQL = `INSERT INTO flows (${FLOW_COLUMNS.map((c) => `"${c}"`).join(', ')}) VALUES (${FLOW_COLUMNS.map(() => '?').join(', ')})`;

/** One record's INSERT parameters (SQLite has neither arrays nor booleans). */
export function toParams(row: FlowRow): SqliteParams {
  const p: SqliteParams = new Array(FLOW_COLUMNS.length);
  for (let i = 0; i < FLOW_COLUMNS.length; i++) {
    const v = row[FLOW_COLUMNS[i]!];
    p[i] = Array.isArray(v) ? arrayText(v) : typeof v === 'boolean' ? (v ? 1 : 0) : v;
  }
  return p;
}

/** What runFlow() hands a record's parameters to: a prepared INSERT (its run()), or flowParams()'s collector. */
export interface ParamsTaker<R> {
  run(...params: SqliteParams): R;
}

/**
 * Calls `to.run()` with a record's INSERT parameters as arguments: toParams(flowToRow(cf)) without the record object
 * and without the array in between (a test holds flowParams() equal to toParams(flowToRow())). Building the FlowRow
 * and reading it back by column name made the parameters of a row cost 4.3 µs against 2.5 µs without it (round
 * perf6). Bound as arguments instead of as one array, better-sqlite3 reads each value from its arguments rather
 * than from the array through V8's element lookup, and no array is made: 20,000 rows built and inserted in 120 against
 * 164 ms of CPU (bench/HISTORY.md, round perf12).
 */
export function runFlow<R>(to: ParamsTaker<R>, cf: ScoredFlow): R {
  const f = cf.flow;
  const v = cf.verdict;
  const a = cf.anomaly ?? null;
  return to.run(
    f.source, f.first_ts, f.last_ts, roundedDuration(f.duration), f.ip_version, f.client_ip, f.client_port, f.server_ip,
    f.server_port, f.vlan, f.c2s_packets, f.s2c_packets, f.c2s_bytes, f.s2c_bytes, f.c2s_payload_bytes, f.s2c_payload_bytes,
    f.payload_packets, f.retrans_skipped, f.midstream ? 1 : 0, f.conn_state, f.history, f.community_id, f.end_reason,
    arrayText(f.lengths), v.label, v.confidence, v.model_version,
    f.uid, f.sensor, f.live ? f.source : null, f.live ? null : f.source, isoMicros(f.first_ts), isoMicros(f.last_ts), 'tcp',
    v.status, topkLabelsText(v.topk), topkScoresText(v.topk),
    a !== null ? a.score : null, a !== null ? (a.anomaly ? 1 : 0) : null, a !== null ? a.fpr : null,
  );
}

/**
 * The columns every row of a run shares (the capture's source and with it `in_iface` / `pcap_filename`, the sensor's
 * name, the model's version, `proto`), by their index in FLOW_COLUMNS: an INSERT for the run's values carries them as SQL
 * literals (InsertStatements), so a row binds 34 parameters instead of 40 and better-sqlite3 converts five strings
 * fewer to UTF-8 (round perf34).
 */
const SHARED_COLUMNS: ReadonlySet<number> = new Set(['source', 'model_version', 'sensor', 'in_iface', 'pcap_filename', 'proto'].map((c) => FLOW_COLUMNS.indexOf(c as never)));

/**
 * runFlow() for an INSERT made by InsertStatements: the same values in the same order without the SHARED_COLUMNS, which
 * the statement holds as literals.
 */
function runFlowShared<R>(to: { run(...params: (string | number | Buffer | null)[]): R }, cf: ScoredFlow): R {
  const f = cf.flow;
  const v = cf.verdict;
  const a = cf.anomaly ?? null;
  return to.run(
    f.first_ts, f.last_ts, roundedDuration(f.duration), f.ip_version, f.client_ip, f.client_port, f.server_ip,
    f.server_port, f.vlan, f.c2s_packets, f.s2c_packets, f.c2s_bytes, f.s2c_bytes, f.c2s_payload_bytes, f.s2c_payload_bytes,
    f.payload_packets, f.retrans_skipped, f.midstream ? 1 : 0, f.conn_state, f.history, f.community_id, f.end_reason,
    lengthsValue(f.lengths), v.label, v.confidence,
    f.uid, timeValue(f.first_ts, START_VIEWS, 0), timeValue(f.last_ts, END_VIEWS, ISO_MICROS_ROOM),
    v.status, topkLabelsText(v.topk), topkScoresValue(v.topk),
    a !== null ? a.score : null, a !== null ? (a.anomaly ? 1 : 0) : null, a !== null ? a.fpr : null,
  );
}

/**
 * The columns runFlowShared() may bind as bytes (a Buffer, bound as a BLOB) that the INSERT casts to TEXT: SQLite takes
 * a BLOB's bytes as the TEXT's UTF-8 (the database's encoding), so the stored value is the TEXT the string would have
 * given, while no string is made per row and better-sqlite3 converts none to UTF-8 (round perf34). A string bound
 * there (the fallbacks) is cast to itself.
 */
const BYTES_COLUMNS: ReadonlySet<number> = new Set(['lengths', 'start', 'end', 'topk_scores'].map((c) => FLOW_COLUMNS.indexOf(c as never)));

/** A text as an SQL literal, or null where binding it is safer (a NUL ends SQLite's statement text; lone surrogates). */
function sqlLiteral(s: string | null): string | null {
  if (s === null) return 'NULL';
  return /[\u0000\ud800-\udfff]/.test(s) ? null : `'${s.replaceAll("'", "''")}'`;
}

/** Most INSERT statements InsertStatements prepares (a run has one source, sensor and model: one). */
const MAX_SHARED_INSERTS = 16;

/**
 * The flows INSERT with the SHARED_COLUMNS as literals and the BYTES_COLUMNS cast, one prepared statement per
 * combination of the shared values (a run has one), and writes a record through it. A literal stores the same TEXT value as the bound string (the rows are
 * byte-identical, test/sink/sqliteSink.test.ts); records with a value sqlLiteral() refuses, or past
 * MAX_SHARED_INSERTS combinations, go through the INSERT that binds every column.
 */
class InsertStatements {
  private source: string | null = null;
  private live = false;
  private sensor: string | null = null;
  private modelVersion: string | null = null;
  /** The statement for the values above; null: the one that binds every column. */
  private last: SqliteStatement<unknown[]> | null = null;
  private readonly byKey = new Map<string, SqliteStatement<unknown[]> | null>();

  /**
   * Only for a database in UTF-8 (every one the sensor creates): SQLite reads a BLOB cast to TEXT in the database's
   * encoding, so a file someone made in UTF-16 gets the INSERT that binds every column as a string.
   */
  private readonly utf8: boolean;

  constructor(
    private readonly db: SqliteDatabase,
    private readonly all: SqliteStatement<SqliteParams>,
  ) {
    this.utf8 = db.pragma('encoding', { simple: true }) === 'UTF-8';
  }

  run(cf: ScoredFlow): void {
    const f = cf.flow;
    if (f.source !== this.source || f.live !== this.live || f.sensor !== this.sensor || cf.verdict.model_version !== this.modelVersion) this.choose(cf);
    if (this.last === null) runFlow(this.all, cf);
    else runFlowShared(this.last, cf);
  }

  private choose(cf: ScoredFlow): void {
    const f = cf.flow;
    this.source = f.source;
    this.live = f.live;
    this.sensor = f.sensor;
    this.modelVersion = cf.verdict.model_version;
    const key = JSON.stringify([f.source, f.live, f.sensor, cf.verdict.model_version]);
    let st = this.byKey.get(key);
    if (st === undefined) {
      st = null;
      const values: Record<string, string | null> = {
        source: f.source,
        model_version: cf.verdict.model_version,
        sensor: f.sensor,
        in_iface: f.live ? f.source : null,
        pcap_filename: f.live ? null : f.source,
        proto: 'tcp',
      };
      const items = FLOW_COLUMNS.map((c, i) => (SHARED_COLUMNS.has(i) ? sqlLiteral(values[c] ?? null) : BYTES_COLUMNS.has(i) ? 'CAST(? AS TEXT)' : '?'));
      if (this.utf8 && this.byKey.size < MAX_SHARED_INSERTS && items.every((x) => x !== null)) {
        st = this.db.prepare<unknown[]>(`INSERT INTO flows (${FLOW_COLUMNS.map((c) => `"${c}"`).join(', ')}) VALUES (${items.join(', ')})`);
      }
      if (this.byKey.size < MAX_SHARED_INSERTS) this.byKey.set(key, st);
    }
    this.last = st;
  }
}

const COLLECT_PARAMS: ParamsTaker<SqliteParams> = { run: (...params) => params };

/** A record's INSERT parameters in FLOW_COLUMNS order, as runFlow() binds them (tests, benchmarks). */
export function flowParams(cf: ScoredFlow): SqliteParams {
  return runFlow(COLLECT_PARAMS, cf);
}

/**
 * Scratch bytes for a row's number texts (the lengths, the top-k scores): written digit by digit and read back as one
 * flat string. Built with `+=` and `join`, each such text left a trail of short strings behind (every number's own
 * text, each concatenation's cons string, and the flat copy better-sqlite3's UTF-8 conversion makes of a cons string):
 * about 1.7 KB a row, against 0.x KB now (bench/HISTORY.md, round perf18). Scavenges come with the bytes allocated.
 */
const TEXT = Buffer.alloc(4096);

/** Writes String(v) of an integer with |v| <= 2^31 at `at` in TEXT; returns the next position. */
function putInt(v: number, at: number): number {
  let n = at;
  if (v < 0) {
    TEXT[n++] = 0x2d;
    v = -v;
  }
  let digits = 1;
  for (let t = v; t >= 10; t = (t / 10) | 0) digits++;
  const end = n + digits;
  for (let i = end - 1; i >= n; i--) {
    const q = (v / 10) | 0;
    TEXT[i] = 0x30 + v - q * 10;
    v = q;
  }
  return end;
}

/** Writes an ASCII string's characters at `at` in TEXT; returns the next position. */
function putAscii(s: string, at: number): number {
  let n = at;
  for (let i = 0; i < s.length; i++) TEXT[n++] = s.charCodeAt(i);
  return n;
}

/** TEXT's first `end` bytes as a string. */
function textOf(end: number): string {
  return TEXT.toString('latin1', 0, end);
}

/** A label sequence's JSON text (`next`: the sequences one label longer). */
interface LabelsNode {
  text: string;
  next: Map<string, LabelsNode> | null;
}

/** topkLabelsText() by label sequence: a model has a few dozen classes, and a run sees few top-k orders of them. */
const LABELS_TEXT: LabelsNode = { text: '[]', next: null };
let labelsNodes = 0;
/** Bound of LABELS_TEXT's nodes; sequences beyond it (none expected) are formatted each time. */
const MAX_LABELS_NODES = 8192;

/** JSON text of a label sequence, made each time (labels themselves JSON.stringify'd). */
function labelsText(topk: readonly ClassScore[]): string {
  return JSON.stringify(topk.map((t) => t.label));
}

/**
 * arrayText() of a verdict's top-k labels without building the array or a string per row: the text of each label
 * sequence is made once (a lookup per label, no allocation).
 */
export function topkLabelsText(topk: readonly ClassScore[]): string {
  let node = LABELS_TEXT;
  for (let i = 0; i < topk.length; i++) {
    const label = topk[i]!.label;
    let next = node.next === null ? undefined : node.next.get(label);
    if (next === undefined) {
      if (labelsNodes >= MAX_LABELS_NODES) return labelsText(topk);
      next = { text: labelsText(topk.slice(0, i + 1)), next: null };
      if (node.next === null) node.next = new Map();
      node.next.set(label, next);
      labelsNodes++;
    }
    node = next;
  }
  return node.text;
}

/** Zeros after "0." for a score of fewer than six fraction digits, by how many are missing. */
const FRACTION_ZEROS = ['', '0', '00', '000', '0000', '00000'];

/**
 * The text String(p) gives for a top-k score, fast where p is k / 1e6 for an integer k (verdictFromRow rounds every
 * score to six decimals, so every score but 0 and 1 is): "0." and k's digits, zero-padded to six, without trailing
 * zeros. That is String(p)'s shortest round-trip text: the decimal k / 1e6 parses to p, and any shorter decimal lies at
 * least 1e-6 away (checked for every k from 0 to 1e6 in test/sink/record.test.ts). V8's number-to-text for such
 * doubles costs ~0.4 µs each, three a classified row. With topkLabelsText(): a classified row's parameters 3.3-3.4 -> 1.8-1.9 µs
 * (flowParams, 20,000 rows, median of 15, load 9; bench/HISTORY.md, round perf8).
 */
export function scoreText(p: number): string {
  const k = Math.round(p * 1e6);
  if (k > 0 && k < 1e6 && k / 1e6 === p) {
    let m = k;
    let digits = 6;
    while (m % 10 === 0) {
      m /= 10;
      digits--;
    }
    const s = String(m);
    return '0.' + FRACTION_ZEROS[digits - s.length]! + s;
  }
  return String(p);
}

/** Writes scoreText(p) at `at` in TEXT (JSON's null for a score that is not finite); returns the next position. */
function putScore(p: number, at: number): number {
  if (!Number.isFinite(p)) return putAscii('null', at);
  const k = Math.round(p * 1e6);
  if (!(k > 0 && k < 1e6 && k / 1e6 === p)) return putAscii(String(p), at);
  let m = k;
  let digits = 6;
  while (m % 10 === 0) {
    m /= 10;
    digits--;
  }
  // "0." and the six digits of k without its trailing zeros: k < 1e6, so the leading ones are zeros.
  let n = at;
  TEXT[n++] = 0x30;
  TEXT[n++] = 0x2e;
  for (let i = n + digits - 1; i >= n; i--) {
    const q = (m / 10) | 0;
    TEXT[i] = 0x30 + m - q * 10;
    m = q;
  }
  return n + digits;
}

/** Most bytes putScore() writes for one score: String() of a double is at most 24 characters. */
const SCORE_ROOM = 25;

/** topkScoresText() by concatenation, without TEXT (more scores than it holds). */
function scoresJoined(topk: readonly ClassScore[]): string {
  let text = '[';
  for (let i = 0; i < topk.length; i++) {
    const p = topk[i]!.p;
    text += (i === 0 ? '' : ',') + (Number.isFinite(p) ? scoreText(p) : 'null');
  }
  return text + ']';
}

/** arrayText() of a verdict's top-k scores without building the array (JSON: null for a score that is not finite). */
export function topkScoresText(topk: readonly ClassScore[]): string {
  if (topk.length * SCORE_ROOM + 2 > TEXT.length) return scoresJoined(topk);
  let n = 0;
  TEXT[n++] = 0x5b;
  for (let i = 0; i < topk.length; i++) {
    if (i > 0) TEXT[n++] = 0x2c;
    n = putScore(topk[i]!.p, n);
  }
  TEXT[n++] = 0x5d;
  return textOf(n);
}

/** The sequence of a flow without payload, as stored: most rows of a flood, so the text is made once per length. */
const ZERO_ARRAYS = new Map<number, string>();

/** Most bytes putInt() writes for one int32: a sign and ten digits, and the comma. */
const INT_ROOM = 12;

/**
 * JSON text of an array column; all-zero arrays (the lengths of a flow without payload) come from a cache. Arrays of
 * int32s (lengths) are written digit by digit into TEXT (String(x) of each, joined by commas, as JSON writes them),
 * other arrays of finite numbers joined (JSON writes a finite number as String(number) does: a third of
 * JSON.stringify's cost; 0.75 against 2.2 µs for 30 lengths).
 */
function arrayText(v: readonly unknown[]): string {
  let zeros = true;
  let ints = v.length * INT_ROOM + 2 <= TEXT.length;
  for (let i = 0; i < v.length; i++) {
    const x = v[i];
    if (typeof x !== 'number' || !Number.isFinite(x)) return JSON.stringify(v);
    if (x !== 0) zeros = false;
    if (x !== (x | 0)) ints = false;
  }
  if (zeros) {
    let text = ZERO_ARRAYS.get(v.length);
    if (text === undefined) {
      text = JSON.stringify(v);
      ZERO_ARRAYS.set(v.length, text);
    }
    return text;
  }
  if (!ints) return `[${v.join(',')}]`;
  return textOf(putInts(v));
}

/** Writes `[a,b,...]` of int32s at the start of TEXT; returns the end. */
function putInts(v: readonly unknown[]): number {
  let n = 0;
  TEXT[n++] = 0x5b;
  for (let i = 0; i < v.length; i++) {
    if (i > 0) TEXT[n++] = 0x2c;
    n = putInt(v[i] as number, n);
  }
  TEXT[n++] = 0x5d;
  return n;
}

/** Where topkScoresValue() writes in TEXT: lengthsValue() writes before it. */
const SCORES_AT = 2048;
/** Views of TEXT by length: at 0 (lengths), at SCORES_AT (scores); made once per length, none per row. */
const LENGTHS_VIEWS: (Buffer | undefined)[] = [];
const SCORES_VIEWS: (Buffer | undefined)[] = [];

function textView(views: (Buffer | undefined)[], at: number, n: number): Buffer {
  let v = views[n];
  if (v === undefined) {
    v = TEXT.subarray(at, at + n);
    views[n] = v;
  }
  return v;
}

/**
 * arrayText() of the lengths for runFlowShared(): for int32s the text's bytes as a view of TEXT below SCORES_AT (valid
 * until TEXT is next written there; better-sqlite3 copies a bound Buffer when run() binds it), else the same string.
 */
function lengthsValue(v: readonly unknown[]): Buffer | string {
  if (v.length * INT_ROOM + 2 > SCORES_AT) return arrayText(v);
  let zeros = true;
  for (let i = 0; i < v.length; i++) {
    const x = v[i];
    if (typeof x !== 'number' || x !== (x | 0)) return arrayText(v);
    if (x !== 0) zeros = false;
  }
  if (zeros) return arrayText(v);
  return textView(LENGTHS_VIEWS, 0, putInts(v));
}

/**
 * topkScoresText() for runFlowShared(): its bytes as a view of TEXT at SCORES_AT (see lengthsValue()). It never writes
 * TEXT below SCORES_AT, where the lengths' view, made before it for the same row, still has to be bound.
 */
function topkScoresValue(topk: readonly ClassScore[]): Buffer | string {
  if (topk.length * SCORE_ROOM + 2 > TEXT.length - SCORES_AT) return scoresJoined(topk);
  let n = SCORES_AT;
  TEXT[n++] = 0x5b;
  for (let i = 0; i < topk.length; i++) {
    if (i > 0) TEXT[n++] = 0x2c;
    n = putScore(topk[i]!.p, n);
  }
  TEXT[n++] = 0x5d;
  return textView(SCORES_VIEWS, SCORES_AT, n - SCORES_AT);
}

/** The `start` and `end` texts of runFlowShared()'s row (each has its own bytes: both are bound by one run()). */
const TIMES = Buffer.alloc(2 * ISO_MICROS_ROOM);
const START_VIEWS: (Buffer | undefined)[] = [];
const END_VIEWS: (Buffer | undefined)[] = [];

/** isoMicros(ts) for runFlowShared(): its bytes as a view of TIMES at `at` (see lengthsValue()), else the string. */
function timeValue(ts: number, views: (Buffer | undefined)[], at: number): Buffer | string {
  const end = isoMicrosInto(ts, TIMES, at);
  if (end < 0) return isoMicros(ts);
  const n = end - at;
  let v = views[n];
  if (v === undefined) {
    v = TIMES.subarray(at, end);
    views[n] = v;
  }
  return v;
}

function open(path: string): SqliteDatabase {
  try {
    return new Database(path, withAddon());
  } catch (e) {
    throw openError(path, e);
  }
}

/**
 * One line naming the database and what to do, for any failure while opening it: a file that is not a database,
 * a read-only location, a schema written by a newer sensor or by something else.
 */
function openError(path: string, e: unknown): SinkError {
  if (e instanceof SchemaError) return new SinkError(e.message);
  const msg = e instanceof Error ? e.message : String(e);
  const code = (e as { code?: unknown }).code;
  let hint = 'check that its directory exists and is writable';
  if (code === 'SQLITE_NOTADB') hint = 'the file is not a SQLite database: give another --db path';
  else if (code === 'SQLITE_READONLY' || code === 'SQLITE_CANTOPEN' || code === 'SQLITE_IOERR_SHMOPEN') {
    hint = 'the sensor needs write access to the file and its directory (WAL mode adds -wal and -shm files beside it)';
  } else if (/already exists/.test(msg)) hint = 'the database holds tables the sensor did not create: give another --db path';
  else if (code === 'SQLITE_FULL') hint = 'the disk is full';
  return new SinkError(`cannot open database ${path}: ${msg} (${hint})`, { cause: e });
}

/**
 * Flow records into SQLite. WAL mode lets other processes read (sqlite3, dashboards, `sensor export`) while the
 * sensor writes; synchronous=NORMAL syncs at checkpoints only, which in WAL mode can lose the last transactions
 * on power loss but never corrupts the file. Each write() is one transaction per batchRows rows, through the
 * INSERT prepared at open, or one with the run's shared columns as literals (InsertStatements).
 */
export class SqliteSink {
  readonly db: SqliteDatabase;
  /** Rows written since open. */
  rows = 0;
  private readonly batchRows: number;
  /** Seconds per write() call (its transactions), one observation per batch. */
  readonly latency = new LatencyHistogram('sensor_db_write_duration_seconds', 'Seconds to write one batch of flow records to SQLite (its transactions)');
  private readonly insert: SqliteStatement<SqliteParams>;
  private readonly insertMany: (batch: readonly ScoredFlow[], from: number, to: number) => void;
  private readonly deleteOldest: SqliteStatement<[number]>;
  private readonly deleteBefore: SqliteStatement<[number, number]>;
  /** The secondary indexes were dropped at open (bulk load) and are built in close(). */
  private indexesDeferred = false;
  /** Records of flows without payload not inserted because writing was over its time share (`shedAbove`). */
  shed = 0;
  private readonly shedAbove: number;
  /** Milliseconds spent writing, decayed with time constant WRITE_WINDOW_MS, and when it was last decayed. */
  private busyMs = 0;
  private busyAt = performance.now();
  /** holdCommits(true) is in effect. */
  private holding = false;
  /**
   * This sink began the open transaction (held by holdCommits or gathered by groupMs; BEGIN at a write), its start
   * time and rows. A transaction someone else began on the connection is left to them.
   */
  private heldOpen = false;
  private heldSince = 0;
  private heldRows = 0;
  private readonly groupMs: number | null;
  private groupTimer: NodeJS.Timeout | null = null;
  /** A commit made by the group timer failed: thrown by the next call (once). */
  private deferred: SinkError | null = null;
  /** Called when a commit made by the groupMs timer fails (the error is also kept for the next call). */
  onDeferred: ((e: SinkError) => void) | null = null;

  constructor(
    readonly path: string,
    opts: SqliteSinkOptions = {},
  ) {
    const batchRows = opts.batchRows ?? DEFAULT_BATCH_ROWS;
    if (!Number.isInteger(batchRows) || batchRows < 1) throw new RangeError(`SqliteSink: batchRows must be an integer >= 1, not ${batchRows}`);
    this.batchRows = batchRows;
    this.shedAbove = opts.shedAbove ?? Infinity;
    this.groupMs = opts.groupMs ?? null;
    if (this.groupMs !== null && !(this.groupMs >= 0)) throw new RangeError(`SqliteSink: groupMs must be a number >= 0, not ${opts.groupMs}`);
    if (!(this.shedAbove > 0)) throw new RangeError(`SqliteSink: shedAbove must be a share above 0, not ${opts.shedAbove}`);
    const db = open(path);
    this.db = db;
    try {
      // auto_vacuum can only be chosen before the first table exists; INCREMENTAL lets trimToSize() give
      // freed pages back to the file system instead of keeping the file at its high-water mark.
      if ((db.pragma('page_count', { simple: true }) as number) === 0) db.pragma('auto_vacuum = INCREMENTAL');
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
      db.pragma(`journal_size_limit = ${JOURNAL_SIZE_LIMIT}`);
      db.pragma(`cache_size = -${CACHE_KIB}`);
      const version = migrate(db, path, { sensorName: opts.sensorName ?? hostname() }, opts.migrations ?? MIGRATIONS);
      // A write now, so that a database SQLite could only open read-only (a read-only mount with -wal and -shm
      // files beside it) is refused here with the path, not at the first batch of flows.
      db.pragma(`user_version = ${version}`);
      createIndexes(db);
      if (opts.deferIndexes === true && db.prepare('SELECT 1 FROM flows LIMIT 1').get() === undefined) {
        dropIndexes(db);
        this.indexesDeferred = true;
      }
      // Prepared here too: a flows table with other columns (same user_version, other program) fails now.
      this.insert = db.prepare<SqliteParams>(INSERT_SQL);
      this.deleteOldest = db.prepare<[number]>('DELETE FROM flows WHERE id IN (SELECT id FROM flows ORDER BY id LIMIT ?)');
      this.deleteBefore = db.prepare<[number, number]>(
        'DELETE FROM flows WHERE id IN (SELECT id FROM flows WHERE first_ts < ? ORDER BY first_ts LIMIT ?)',
      );
    } catch (e) {
      db.close();
      throw openError(path, e);
    }
    const inserts = new InsertStatements(db, this.insert);
    this.insertMany = db.transaction((batch: readonly ScoredFlow[], from: number, to: number) => {
      for (let i = from; i < to; i++) inserts.run(batch[i]!);
    });
  }

  /**
   * Writes a batch of classified flows, one transaction per batchRows rows (or into the open transaction while
   * commits are held or grouped, see holdCommits() and SqliteSinkOptions.groupMs).
   */
  write(all: readonly ScoredFlow[]): void {
    this.throwDeferred(all.length);
    const started = performance.now();
    this.busyMs *= Math.exp(-(started - this.busyAt) / WRITE_WINDOW_MS);
    this.busyAt = started;
    let batch = all;
    if (this.busyMs / WRITE_WINDOW_MS > this.shedAbove) {
      batch = all.filter((cf) => cf.flow.payload_packets > 0);
      this.shed += all.length - batch.length;
    }
    if ((this.holding || this.groupMs !== null) && !this.db.inTransaction && batch.length > 0) {
      this.db.exec('BEGIN');
      this.heldOpen = true;
      this.heldSince = started;
      this.heldRows = 0;
    }
    for (let from = 0; from < batch.length; from += this.batchRows) {
      const to = Math.min(batch.length, from + this.batchRows);
      try {
        this.insertMany(batch, from, to);
      } catch (e) {
        // One transaction per batch: a failure (disk full, file removed) rolls back whole batches only, and the
        // held transaction of a flush with them.
        let held = 0;
        if (this.db.inTransaction) {
          this.db.exec('ROLLBACK');
          held = this.heldRows;
          this.rows -= held;
          this.heldRows = 0;
        }
        this.heldOpen = false;
        this.clearGroupTimer();
        const msg = e instanceof Error ? e.message : String(e);
        throw new SinkError(`writing ${held + to - from} flows to database ${this.path} failed: ${msg}`, { cause: e }, held + batch.length - from);
      }
      this.rows += to - from;
      if (this.heldOpen) this.heldRows += to - from;
    }
    if (this.heldOpen) {
      const age = performance.now() - this.heldSince;
      if (this.holding ? age >= HELD_COMMIT_MS : age >= this.groupMs! || this.heldRows >= this.batchRows) this.commitHeld();
      else if (!this.holding && this.groupTimer === null) this.groupTimer = setTimeout(this.onGroupTimer, this.groupMs! - age).unref();
    }
    const took = performance.now() - started;
    this.busyMs += took;
    this.latency.observe(took / 1000);
  }

  /** Whether drained() would throw (a commit the group timer made failed). */
  mustDrain(): boolean {
    return this.deferred !== null;
  }

  /** Resolves at once; rejects with the failure of a commit the group timer made (once). */
  async drained(): Promise<void> {
    this.throwDeferred(0);
  }

  /**
   * With `on`, write() calls share one transaction (committed every HELD_COMMIT_MS) until holdCommits(false),
   * which commits it. Throws SinkError (with the rows lost) when that commit fails.
   */
  holdCommits(on: boolean): void {
    this.throwDeferred(0);
    this.holding = on;
    if (on) this.clearGroupTimer();
    else this.commitHeld();
  }

  /** Commits a gathered (not held) transaction now; a failure is kept like a timer commit's. */
  private commitGroup(): void {
    this.onGroupTimer();
  }

  /**
   * Commits the transaction write() calls gathered (groupMs) now instead of at its timer, so that another connection
   * can write at once; a failure is kept like a timer commit's (thrown by the next call). A held one (holdCommits)
   * stays.
   */
  commitGathered(): void {
    this.clearGroupTimer();
    this.onGroupTimer();
  }

  private readonly onGroupTimer = (): void => {
    this.groupTimer = null;
    if (this.holding || !this.db.open || !this.heldOpen) return;
    try {
      this.commitHeld();
    } catch (e) {
      const err = e instanceof SinkError ? e : new SinkError(String(e));
      this.deferred = err;
      this.onDeferred?.(err);
    }
  };

  private clearGroupTimer(): void {
    if (this.groupTimer !== null) {
      clearTimeout(this.groupTimer);
      this.groupTimer = null;
    }
  }

  /** Throws the failure of a timer commit once; `rows` of the refused call count as lost with it. */
  private throwDeferred(rows: number): void {
    const e = this.deferred;
    if (e === null) return;
    this.deferred = null;
    throw new SinkError(e.message, { cause: e }, (e.rowsLost ?? 0) + rows);
  }

  private commitHeld(): void {
    this.clearGroupTimer();
    if (!this.db.open || !this.heldOpen) return;
    const rows = this.heldRows;
    this.heldRows = 0;
    this.heldOpen = false;
    try {
      this.db.exec('COMMIT');
    } catch (e) {
      if (this.db.inTransaction) this.db.exec('ROLLBACK');
      this.rows -= rows;
      const msg = e instanceof Error ? e.message : String(e);
      throw new SinkError(`writing ${rows} flows to database ${this.path} failed: ${msg}`, { cause: e }, rows);
    }
  }

  /**
   * Retention by age: deletes flows whose first packet is older than `ts` (Unix seconds), at most `batchRows`
   * per transaction, yielding to the event loop between transactions so capture keeps running. Returns the
   * number deleted.
   */
  async deleteOlderThan(ts: number, batchRows: number): Promise<number> {
    this.commitGroup();
    let total = 0;
    for (;;) {
      const n = this.deleteBefore.run(ts, batchRows).changes;
      total += n;
      if (n < batchRows) return total;
      await nextTick();
    }
  }

  /** Bytes the database's live pages take (freed pages excluded). */
  usedBytes(): number {
    const pageSize = this.db.pragma('page_size', { simple: true }) as number;
    const pages = this.db.pragma('page_count', { simple: true }) as number;
    const free = this.db.pragma('freelist_count', { simple: true }) as number;
    return (pages - free) * pageSize;
  }

  /**
   * Retention by size: deletes the oldest flows, `batchRows` per transaction (yielding in between), until the
   * live pages fit in `maxBytes`, then returns the freed pages to the file system. Returns the number deleted.
   */
  async trimToSize(maxBytes: number, batchRows: number): Promise<number> {
    this.commitGroup();
    let total = 0;
    while (this.usedBytes() > maxBytes) {
      const n = this.deleteOldest.run(batchRows).changes;
      if (n === 0) break;
      total += n;
      await nextTick();
    }
    if (total > 0) {
      this.db.pragma('incremental_vacuum');
      // PASSIVE never waits for readers; the WAL is truncated to journal_size_limit when it next resets.
      this.db.pragma('wal_checkpoint(PASSIVE)');
    }
    return total;
  }

  /** The connection the model monitor and the host profiles write through: this one (same thread). */
  localDb(): SqliteDatabase {
    return this.db;
  }

  /**
   * Builds the indexes a bulk load deferred and closes the database. Throws SinkError when the indexes cannot be
   * built (disk full); the database is closed either way and the next open builds them.
   */
  close(): void {
    if (!this.db.open) return;
    this.holding = false;
    const deferred = this.deferred;
    this.deferred = null;
    try {
      this.commitHeld();
    } catch (e) {
      this.db.close();
      throw e;
    }
    if (this.indexesDeferred) {
      this.indexesDeferred = false;
      try {
        createIndexes(this.db);
      } catch (e) {
        this.db.close();
        const msg = e instanceof Error ? e.message : String(e);
        throw new SinkError(`building the indexes of database ${this.path} failed: ${msg} (the next run that opens it builds them)`, { cause: e });
      }
    }
    try {
      // SQLite's advice for long-lived connections: refresh the planner's statistics before closing. Advisory:
      // every row is already committed, and on a full disk this fails again, which must not hide the first error.
      this.db.pragma('optimize');
    } catch {
      // the statistics stay as they were
    } finally {
      this.db.close();
    }
    if (deferred !== null) throw deferred;
  }
}
