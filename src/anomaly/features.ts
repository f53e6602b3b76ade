/**
 * What an anomaly model reads of a flow: its signed payload-length sequence and named counters
 * (models/ANOMALY.md, "Model contract"). One input row is the sequence (L values, zero padded) followed by the
 * model's counters in the order its metadata `anomaly_counters` lists them, all raw: any scaling happens inside
 * the graph. The same extractor fills rows when the sensor scores flows and when `sensor anomaly-fit` reads a
 * database, so a model is fitted on exactly what it will see.
 */

import { CONTEXT_COUNTERS, repeatedExchanges, type ContextSource } from './context';

/** Numeric fields a counter may name directly. */
const NUMERIC = [
  'duration',
  'c2s_packets',
  's2c_packets',
  'c2s_bytes',
  's2c_bytes',
  'c2s_payload_bytes',
  's2c_payload_bytes',
  'payload_packets',
  'retrans_skipped',
  'midstream',
] as const;
type NumericField = (typeof NUMERIC)[number];

/**
 * The fields of a flow record the features are made from (a FlowRecord, or a `flows` row read back): the NUMERIC
 * fields, the strings the indicators test, and what the context counters read (context.ts).
 */
export interface FeatureSource extends ContextSource, Record<Exclude<NumericField, 'midstream'>, number> {
  /** A boolean in a FlowRecord, 0/1 in SQLite. */
  midstream: boolean | number;
  conn_state: string;
  history: string;
}

/**
 * Counters computed from the flow's own length sequence (not record fields):
 *
 *  - repeated_exchanges: how many of the sequence's exchanges (a run of client->server packets, then the run of
 *    server->client packets answering it) repeat the exchange before them exactly, both directions' byte counts equal.
 *    A password guesser that retries on one connection (hydra's ssh module, until sshd's MaxAuthTries closes it)
 *    sends the same-sized attempt and gets the same-sized refusal several times in a row; the model learns which
 *    services repeat an exchange in normal traffic (keep-alives, polling protocols).
 */
const SEQUENCE_COUNTERS = ['repeated_exchanges'] as const;

/** Zeek connection states (README "Flow records"): `conn_state=S0` is 1 for an S0 flow, else 0. */
export const CONN_STATES = ['S0', 'S1', 'SF', 'REJ', 'S2', 'S3', 'RSTO', 'RSTR', 'RSTOS0', 'RSTRH', 'SH', 'SHR', 'OTH'] as const;
/** History letters the sensor writes: `history:R` is 1 when the history contains R. */
const HISTORY_LETTERS = 'ShADadFfRrTtWw';
const END_REASONS = ['fin', 'rst', 'idle', 'active', 'eof', 'shutdown', 'evicted'];

/**
 * The counters `sensor anomaly-fit` gives a new model: the record's volume and timing counters, the sequence's
 * repeated exchanges, its connection state (one indicator per state), one indicator per common server port of the
 * fitting records (`server_port=N`, chosen by serverPortCounters()) and its context (context.ts), last.
 */
export function defaultCounters(ports: readonly number[] = []): string[] {
  return [...NUMERIC, ...SEQUENCE_COUNTERS, ...CONN_STATES.map((s) => `conn_state=${s}`), ...ports.map((p) => `server_port=${p}`), ...CONTEXT_COUNTERS];
}

/** The counters of a model fitted without server port indicators (defaultCounters() with none). */
export const DEFAULT_COUNTERS: readonly string[] = defaultCounters();

/**
 * Server port indicators for a new model: the ports of at least `minFlows` of the fitting flows, most flows first,
 * at most `max`. They are inputs the model conditions on (which service a flow went to), never reconstructed: many
 * identical answers are normal for some services and not for others, and a flow's own lengths alone do not always
 * say which service it is.
 */
export function serverPortCounters(flowsByPort: ReadonlyMap<number, number>, minFlows: number, max: number): number[] {
  return [...flowsByPort]
    .filter(([p, n]) => n >= minFlows && Number.isInteger(p) && p > 0 && p < 65536)
    .sort((a, b) => b[1] - a[1] || a[0] - b[0])
    .slice(0, max)
    .map(([p]) => p);
}

/** A server port as model metadata and counter names write it (`3389`): its number, or null for anything else. */
export function parsePort(text: string): number | null {
  return /^[1-9][0-9]{0,4}$/.test(text) && Number(text) < 65536 ? Number(text) : null;
}

/** A counter name no extractor knows; the message lists what is known. */
export class FeatureError extends Error {
  override name = 'FeatureError';
}

/** A counter fill() reads through a call: `end_reason=REASON`, `history:LETTER` (`server_port=`, `conn_state=` too). */
type Getter = (f: FeatureSource) => number;

/** The getter of an indicator counter named `FIELD=VALUE` or `history:LETTER`; null for any other name. */
function getter(name: string): Getter | null {
  const eq = name.indexOf('=');
  if (eq > 0) {
    const field = name.slice(0, eq);
    const value = name.slice(eq + 1);
    if (field === 'conn_state' && (CONN_STATES as readonly string[]).includes(value)) return (f) => (f.conn_state === value ? 1 : 0);
    if (field === 'end_reason' && END_REASONS.includes(value)) return (f) => (f.end_reason === value ? 1 : 0);
    const port = field === 'server_port' ? parsePort(value) : null;
    if (port !== null) return (f) => (f.server_port === port ? 1 : 0);
    return null;
  }
  if (name.startsWith('history:') && name.length === 9 && HISTORY_LETTERS.includes(name[8]!)) {
    const letter = name[8]!;
    return (f) => (f.history.includes(letter) ? 1 : 0);
  }
  return null;
}

/**
 * How fill() reads a counter (round perf30): a NUMERIC field (its index in NUMERIC, 0-9: fill()'s switch reads
 * them in that order), REPEATED_EXCHANGES, a context counter (FROM_CONTEXT + its index in CONTEXT_COUNTERS), or CALL:
 * through its getter(). The values are read in place by one switch, because calls through one call site that sees
 * fifteen functions cost ~20 ns each (V8 cannot inline them), and one `(f) => f[field]` for every field is a
 * megamorphic keyed load.
 */
const REPEATED_EXCHANGES = NUMERIC.length;
const FROM_CONTEXT = REPEATED_EXCHANGES + 1;
const CALL = FROM_CONTEXT + CONTEXT_COUNTERS.length;

function readKind(name: string): number {
  const c = (CONTEXT_COUNTERS as readonly string[]).indexOf(name);
  if (c >= 0) return FROM_CONTEXT + c;
  if (name === 'repeated_exchanges') return REPEATED_EXCHANGES;
  const i = (NUMERIC as readonly string[]).indexOf(name);
  return i >= 0 ? i : CALL;
}

/** The counter names a model may list, as a one-line description for error messages. */
export const KNOWN_COUNTERS =
  `${NUMERIC.join(', ')}, ${SEQUENCE_COUNTERS.join(', ')}, ${CONTEXT_COUNTERS.join(', ')}, conn_state=STATE (${CONN_STATES.join(' ')}), end_reason=REASON (${END_REASONS.join(' ')}), server_port=PORT (1-65535), history:LETTER (${HISTORY_LETTERS.split('').join(' ')})`;

/** The server port of an indicator counter (`server_port=N`), null for any other name. */
function indicatorPort(name: string): number | null {
  return name.startsWith('server_port=') ? parsePort(name.slice('server_port='.length)) : null;
}

/** The connection state of an indicator counter (`conn_state=S`), null for any other name. */
function indicatorState(name: string): string | null {
  const v = name.startsWith('conn_state=') ? name.slice('conn_state='.length) : null;
  return v !== null && (CONN_STATES as readonly string[]).includes(v) ? v : null;
}

/** Row columns per indicator value (more than one where a model lists a counter twice). */
function columnsByValue<V>(entries: readonly [V, number][]): Map<V, number[]> {
  const m = new Map<V, number[]>();
  for (const [v, col] of entries) {
    const cols = m.get(v);
    if (cols === undefined) m.set(v, [col]);
    else cols.push(col);
  }
  return m;
}

/**
 * Fills input rows for one model: `L` sequence values, then the counters in the model's order. Built once per
 * model (the counter names are resolved here, not per flow). The `server_port=N` and `conn_state=S` indicators (most
 * of a model's counters: one per state and per common port) are not a getter each: fill() zeroes their columns and
 * sets the flow's own port's and state's to 1, found with one Map lookup each.
 */
export class FeatureExtractor {
  readonly width: number;
  /** Whether a counter reads the flow's context (context.ts): the caller must then pass it to fill(). */
  readonly needsContext: boolean;
  /** The other counters: how fill() reads each (readKind()), its getter (CALL; null for the others), its column. */
  private readonly getters: (Getter | null)[];
  private readonly getterKinds: Int32Array;
  private readonly getterColumns: Int32Array;
  /** The columns (from L on) of each port and state indicator (value 1; 0 for the other ports and states). */
  private readonly portColumns: Map<number, number[]>;
  private readonly stateColumns: Map<string, number[]>;

  constructor(
    readonly sequenceLength: number,
    readonly counters: readonly string[],
  ) {
    const getters: (Getter | null)[] = [];
    const getterKinds: number[] = [];
    const getterColumns: number[] = [];
    const ports: [number, number][] = [];
    const states: [string, number][] = [];
    counters.forEach((name, col) => {
      const port = indicatorPort(name);
      const state = indicatorState(name);
      if (port !== null) ports.push([port, col]);
      else if (state !== null) states.push([state, col]);
      else {
        const kind = readKind(name);
        const g = kind === CALL ? getter(name) : null;
        if (kind === CALL && g === null) throw new FeatureError(`unknown counter '${name}' (known: ${KNOWN_COUNTERS})`);
        getters.push(g);
        getterKinds.push(kind);
        getterColumns.push(col);
      }
    });
    this.getters = getters;
    this.getterKinds = Int32Array.from(getterKinds);
    this.getterColumns = Int32Array.from(getterColumns);
    this.portColumns = columnsByValue(ports);
    this.stateColumns = columnsByValue(states);
    this.width = sequenceLength + counters.length;
    this.needsContext = counters.some((n) => (CONTEXT_COUNTERS as readonly string[]).includes(n));
  }

  /** Writes the row of `f` at `out[offset .. offset + width)`; `ctx` holds its context counters (context.ts). */
  fill(f: FeatureSource, ctx: Float64Array, out: Float32Array, offset: number): void {
    const L = this.sequenceLength;
    const lengths = f.lengths;
    const n = Math.min(L, lengths.length);
    for (let j = 0; j < n; j++) out[offset + j] = lengths[j]!;
    // The padding and every counter column zeroed by one fill() (round perf30: the 51 indicator columns of the bundled
    // model one at a time through their column list, and a fill() of the padding, took ~100 ns more a flow; a loop over
    // the whole run too); the getters' columns are written below, and the indicators stay 0 but the flow's own port's
    // and state's.
    out.fill(0, offset + n, offset + this.width);
    const at = offset + L;
    const gk = this.getterKinds;
    const gc = this.getterColumns;
    for (let i = 0; i < gk.length; i++) {
      let v: number;
      switch (gk[i]!) {
        // 0-9: NUMERIC's fields, in its order (readKind()).
        case 0:
          v = f.duration;
          break;
        case 1:
          v = f.c2s_packets;
          break;
        case 2:
          v = f.s2c_packets;
          break;
        case 3:
          v = f.c2s_bytes;
          break;
        case 4:
          v = f.s2c_bytes;
          break;
        case 5:
          v = f.c2s_payload_bytes;
          break;
        case 6:
          v = f.s2c_payload_bytes;
          break;
        case 7:
          v = f.payload_packets;
          break;
        case 8:
          v = f.retrans_skipped;
          break;
        case 9:
          v = f.midstream === true || f.midstream === 1 ? 1 : 0;
          break;
        case REPEATED_EXCHANGES:
          v = repeatedExchanges(lengths, lengths.length);
          break;
        case FROM_CONTEXT:
          v = ctx[0]!;
          break;
        case FROM_CONTEXT + 1:
          v = ctx[1]!;
          break;
        case FROM_CONTEXT + 2:
          v = ctx[2]!;
          break;
        case FROM_CONTEXT + 3:
          v = ctx[3]!;
          break;
        default:
          v = this.getters[i]!(f);
      }
      out[at + gc[i]!] = v;
    }
    const pc = this.portColumns.get(f.server_port);
    if (pc !== undefined) for (let i = 0; i < pc.length; i++) out[at + pc[i]!] = 1;
    const sc = this.stateColumns.get(f.conn_state);
    if (sc !== undefined) for (let i = 0; i < sc.length; i++) out[at + sc[i]!] = 1;
  }
}
