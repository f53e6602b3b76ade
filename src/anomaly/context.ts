/**
 * What came before a flow from the same client to the same service (models/ANOMALY.md "Features"): counters
 * the anomaly model can read beside the flow's own sequence and counters, because password guessing is made of
 * flows that each look ordinary and are unusual together. (Scans and SYN floods need no context: each of their
 * flows is unusual on its own.) Each is an exponentially decayed count of the flows written before
 * it (weight exp(-|distance between their starts| / tau), see Decayed), computed before the flow itself is added:
 *
 *  - ctx_pair_flows: flows from this client to the same server address and port (tau 60 s);
 *  - ctx_pair_same_shape: those of them whose sequence had the same shape: each length rounded to a half-octave
 *    bin with its direction (tau 300 s); a password guesser repeats one shape hundreds of times, where a normal
 *    client of most services varies its requests (the model learns for which services repetition is normal);
 *  - ctx_pair_same_answer: those of them whose server sent exactly as many payload bytes as this flow's server did
 *    (tau 300 s): failed logins, whatever the guessed password, get the same refusal, and a slowloris or beacon
 *    client gets the same (or no) answer every time, where the answers of normal work differ in size. It reads
 *    no packet order, so it still counts where two packets that crossed on the wire swap places in the sequence;
 *  - ctx_pair_retries: those of them whose sequence repeated an exchange at least RETRY_REPEATS times
 *    (repeatedExchanges(), tau 300 s): a password guesser that retries on one connection (hydra's ssh module sends
 *    the same-sized attempt and gets the same-sized refusal until sshd's MaxAuthTries closes the connection) does so
 *    on every connection, where a client of a login service that succeeds does it rarely. The model learns for
 *    which services repeated exchanges are normal (polling protocols, keep-alives).
 *
 * Records are taken in the order they are written (the order `sensor anomaly-fit` replays a database in), and
 * interim `active` records are not counted. Memory is bounded: at most maxKeys keys per counter (four recency lists
 * over one index of client, server and port: PairNode), the least recently updated dropped first (counted in `evicted`).
 */
export const CONTEXT_COUNTERS = ['ctx_pair_flows', 'ctx_pair_same_shape', 'ctx_pair_same_answer', 'ctx_pair_retries'] as const;
export type ContextCounter = (typeof CONTEXT_COUNTERS)[number];

const TAU_PAIR = 60;
const TAU_SHAPE = 300;
const TAU_ANSWER = 300;
const TAU_RETRIES = 300;
/** A flow counts in ctx_pair_retries when its sequence repeats an exchange at least this often (features.ts). */
export const RETRY_REPEATS = 2;
/** Keys kept per counter (about 150-200 bytes each). */
export const DEFAULT_CONTEXT_KEYS = 200_000;

/** The fields the context reads of a flow. */
export interface ContextSource {
  client_ip: string;
  server_ip: string;
  server_port: number;
  first_ts: number;
  /** Its last packet: capture time for the context's hold (contextWindow.ts). */
  last_ts: number;
  end_reason: string;
  s2c_payload_bytes: number;
  lengths: readonly number[];
}

/** Exchanges of a sequence (zero padded) that repeat the one before them exactly (features.ts `repeated_exchanges`). */
export function repeatedExchanges(lengths: readonly number[], n: number): number {
  let i = 0;
  let prevUp = -1;
  let prevDown = -1;
  let repeats = 0;
  while (i < n) {
    let up = 0;
    while (i < n && lengths[i]! > 0) up += lengths[i++]!;
    let down = 0;
    while (i < n && lengths[i]! < 0) down -= lengths[i++]!;
    if (up === 0 && down === 0) break;
    if (up > 0 && down > 0 && up === prevUp && down === prevDown) repeats++;
    prevUp = up;
    prevDown = down;
  }
  return repeats;
}

/**
 * A decayed count: each counted flow weighs exp(-|its start - t| / tau) at time t. Kept as the value at the latest
 * start counted (`t`): a flow that started earlier (records come in the order flows end) is added with the weight
 * it has at `t`, and a query for an earlier time decays by the distance too, so flows written out of time order
 * (capture files given in any order) weigh little unless they really were close in time. It is also its key's entry
 * in its counter's recency list (`older`, `younger`: Lru); `alive` turns false when the Lru drops it, so a holder of
 * the entry (ContextKeys) knows to look its key up again. Its key is its pair's (`node`) and, in ctx_pair_same_shape
 * and ctx_pair_same_answer, the shape text or the server's payload bytes (`sub`; '' in the other two counters).
 */
class Decayed {
  older: Decayed | null = null;
  younger: Decayed | null = null;
  alive = true;
  constructor(
    readonly node: PairNode,
    readonly sub: string | number,
    public t: number,
    public v: number,
  ) {}

  at(t: number, tau: number): number {
    return this.v * Math.exp(-Math.abs(t - this.t) / tau);
  }

  add(t: number, tau: number): void {
    if (t >= this.t) {
      this.v = this.v * Math.exp(-(t - this.t) / tau) + 1;
      this.t = t;
    } else {
      this.v += Math.exp(-(this.t - t) / tau);
    }
  }
}

/**
 * The keys of one client, server address and port in the four counters (round perf30): the pair's entries in
 * ctx_pair_flows and ctx_pair_retries, and its shapes' and answers' entries, so that a flow's keys cost one Map lookup
 * by text (its pair) instead of three or four by texts that each name the pair again (`pair shape`, `pair bytes`). A
 * pair with one shape (one answer) keeps its entry in `shape` (`answer`); a second one makes a Map of them, until one
 * is left. Each key is the key it was: the pair text, the shape text and the payload bytes say what the texts the
 * counters were keyed by said (`${pair} ${shape}`, the address texts holding no space; `${pair} ${bytes}`, a number's
 * text naming that number, 0 and -0 as one, as a Map does). Each counter keeps its own recency list and bound (Lru),
 * so the same keys are dropped in the same order; a node lives while it holds an entry (`live`).
 */
class PairNode {
  live = 0;
  /** Whether the node is the one `index` holds for its key (false once it left: a later flow of the pair makes another). */
  indexed = true;
  pair: Decayed | null = null;
  retry: Decayed | null = null;
  shape: Decayed | null = null;
  answer: Decayed | null = null;
  shapes: Map<string, Decayed> | null = null;
  answers: Map<number, Decayed> | null = null;
  constructor(readonly key: string) {}
}

/** The counters, as Lru.kind and where a PairNode holds a counter's entries. */
const PAIR = 0;
const SHAPE = 1;
const ANSWER = 2;
const RETRY = 3;

/** Whether `d` is an entry its counter still keeps. */
function kept(d: Decayed | undefined): d is Decayed {
  return d !== undefined && d.alive;
}

/** Whether two payload byte counts are one key, as a Map's keys (SameValueZero: NaN is NaN). */
function sameBytes(a: number, b: number): boolean {
  return a === b || (a !== a && b !== b);
}

/** The entry of shape `s` of pair `n`, if kept. */
function shapeEntry(n: PairNode, s: string): Decayed | undefined {
  if (n.shapes !== null) return n.shapes.get(s);
  const d = n.shape;
  return d !== null && d.sub === s ? d : undefined;
}

/** The entry of answer `b` (payload bytes) of pair `n`, if kept. */
function answerEntry(n: PairNode, b: number): Decayed | undefined {
  if (n.answers !== null) return n.answers.get(b);
  const d = n.answer;
  return d !== null && sameBytes(d.sub as number, b) ? d : undefined;
}

/**
 * Forgets the least recently updated keys of one counter beyond `max`. The recency order is a list through the
 * entries themselves, so marking a key as just used moves two links; the keys themselves are held by the pairs'
 * PairNodes, in `index` (shared by the four counters), which drops a pair whose last entry went.
 */
class Lru {
  private oldest: Decayed | null = null;
  private youngest: Decayed | null = null;
  size = 0;
  evicted = 0;
  constructor(
    private readonly max: number,
    private readonly kind: number,
    private readonly index: Map<string, PairNode>,
  ) {}

  /** Marks d (found in its node, or new and already put there) as just used (moves it to the young end). */
  touch(d: Decayed, isNew: boolean): void {
    if (isNew) {
      this.size++;
    } else {
      if (d === this.youngest) return;
      // Unlink: d is not the youngest, so it has a younger neighbour.
      if (d.older !== null) d.older.younger = d.younger;
      else this.oldest = d.younger;
      d.younger!.older = d.older;
    }
    d.older = this.youngest;
    d.younger = null;
    if (this.youngest !== null) this.youngest.younger = d;
    else this.oldest = d;
    this.youngest = d;
    if (this.size > this.max) {
      const o = this.oldest!;
      this.oldest = o.younger;
      if (this.oldest !== null) this.oldest.older = null;
      else this.youngest = null;
      o.younger = null;
      o.alive = false;
      this.size--;
      this.evicted++;
      this.forget(o);
    }
  }

  /** Takes the dropped entry `d` out of its node, and the node out of the index when it was its last. */
  private forget(d: Decayed): void {
    const n = d.node;
    switch (this.kind) {
      case PAIR:
        n.pair = null;
        break;
      case RETRY:
        n.retry = null;
        break;
      // A Map left with one entry gives it back to the node's field (a Map holds two or more).
      case SHAPE:
        if (n.shapes !== null) {
          n.shapes.delete(d.sub as string);
          if (n.shapes.size === 1) {
            n.shape = n.shapes.values().next().value!;
            n.shapes = null;
          }
        } else n.shape = null;
        break;
      default:
        if (n.answers !== null) {
          n.answers.delete(d.sub as number);
          if (n.answers.size === 1) {
            n.answer = n.answers.values().next().value!;
            n.answers = null;
          }
        } else n.answer = null;
    }
    if (--n.live === 0) unindex(this.index, n);
  }
}

/** Takes `n`, whose last entry went, out of the index. */
function unindex(index: Map<string, PairNode>, n: PairNode): void {
  index.delete(n.key);
  n.indexed = false;
}

/** Half-octave bin of a signed length: 0 stays 0, otherwise sign * (1 + floor(2 * log2 |x|)). */
function bin(x: number): number {
  if (x === 0) return 0;
  const a = Math.abs(x);
  const b = a < BIN_TABLE_SIZE ? BIN_TABLE[a]! : 1 + Math.floor(2 * Math.log2(a));
  return x > 0 ? b : -b;
}

/** Lengths below this take their bin from BIN_TABLE (every length an IP packet can carry). */
const BIN_TABLE_SIZE = 65536;
/**
 * 1 + floor(2 * log2 a) for a = 1 .. BIN_TABLE_SIZE - 1, made once with the same expression as bin()'s fallback, one
 * run of equal bins at a time: the bin b changes at 2^(b/2), so each run is filled from where the last ended to the
 * first length past that point whose bin is not b (the expression is evaluated from just below it). A loop over every
 * length ran ~65,000 times on the interpreter at start and was compiled on the stack (round perf17);
 * test/anomaly/context.test.ts compares every entry with the expression.
 */
const BIN_TABLE = ((): Uint8Array => {
  const t = new Uint8Array(BIN_TABLE_SIZE);
  const binAt = (a: number): number => 1 + Math.floor(2 * Math.log2(a));
  let a = 1;
  while (a < BIN_TABLE_SIZE) {
    const b = binAt(a);
    let end = Math.max(a + 1, Math.floor(2 ** (b / 2)) - 1);
    while (end < BIN_TABLE_SIZE && binAt(end) === b) end++;
    t.fill(b, a, end);
    a = end;
  }
  return t;
})();

/** Character codes of a shape being built (shapeOf), reused: a plain array, which fromCharCode.apply reads fastest. */
const shapeCodes: number[] = [];

/** The shape of a sequence as a short string (bins of the non-zero prefix). */
export function shapeOf(lengths: readonly number[]): string {
  let n = 0;
  for (let i = 0; i < lengths.length; i++) {
    const x = lengths[i]!;
    if (x === 0) break;
    // fromCharCode takes each code modulo 2^16, as the Uint16Array that held them before did.
    shapeCodes[n++] = 64 + bin(x);
  }
  // One string from the codes, where appending a character at a time built one string per length.
  shapeCodes.length = n;
  return n === 0 ? '' : String.fromCharCode.apply(null, shapeCodes);
}

/**
 * The keys of a flow in the counters, made once per flow (FlowContext.keysOf()), and the counters' entries that
 * count() found for them, so that read() takes them from here instead of looking each key up again (an entry the
 * counter dropped meanwhile is looked up again). The keys are the pair's text, the shape's text and the server's
 * payload bytes (PairNode).
 */
export class ContextKeys {
  pair = '';
  shape = '';
  answer = 0;
  /** Whether the flow was counted (not an interim `active` record) and, apart, in ctx_pair_retries. */
  counted = false;
  retry = false;
  pairEntry: Decayed | undefined = undefined;
  shapeEntry: Decayed | undefined = undefined;
  answerEntry: Decayed | undefined = undefined;
  retryEntry: Decayed | undefined = undefined;
  /**
   * The pair's node that count() found or made, so that read() looks the pair up again only when the node left the
   * index meanwhile (round perf33: most flows repeat no exchange and have no retry entry, and read() looked their pair
   * up by its text for its ctx_pair_retries entry each time).
   */
  node: PairNode | null = null;
}

export class FlowContext {
  /** Every pair with a key in a counter (PairNode). */
  private readonly index = new Map<string, PairNode>();
  private readonly pair: Lru;
  private readonly shape: Lru;
  private readonly answer: Lru;
  private readonly retries: Lru;

  constructor(maxKeys = DEFAULT_CONTEXT_KEYS) {
    this.pair = new Lru(maxKeys, PAIR, this.index);
    this.shape = new Lru(maxKeys, SHAPE, this.index);
    this.answer = new Lru(maxKeys, ANSWER, this.index);
    this.retries = new Lru(maxKeys, RETRY, this.index);
  }

  /** Keys dropped to keep memory bounded. */
  get evicted(): number {
    return this.pair.evicted + this.shape.evicted + this.answer.evicted + this.retries.evicted;
  }

  /** The keys of `f`, written into `k` (a new ContextKeys by default, or one the caller extends: ContextWindow). */
  keysOf<K extends ContextKeys>(f: ContextSource, k: K): K;
  keysOf(f: ContextSource): ContextKeys;
  keysOf(f: ContextSource, k: ContextKeys = new ContextKeys()): ContextKeys {
    k.pair = `${f.client_ip} ${f.server_ip} ${f.server_port}`;
    k.shape = shapeOf(f.lengths);
    k.answer = f.s2c_payload_bytes;
    k.counted = false;
    k.retry = false;
    k.pairEntry = k.shapeEntry = k.answerEntry = k.retryEntry = undefined;
    k.node = null;
    return k;
  }

  /** Counts `f` (unless it is an interim `active` record); `k` (keysOf(f)) says afterwards whether it was. */
  count(f: ContextSource, k: ContextKeys): void {
    if (f.end_reason === 'active') return;
    const t = f.first_ts;
    k.counted = true;
    let n = this.index.get(k.pair);
    if (n === undefined) {
      n = new PairNode(k.pair);
      this.index.set(k.pair, n);
    }
    // Held while its entries are counted: a counter that drops one of them (maxKeys 0) leaves the node in the index.
    n.live++;
    k.pairEntry = bumpPair(this.pair, n, t);
    const s = bumpShape(this.shape, n, k.shape, t);
    k.shapeEntry = s;
    k.answerEntry = bumpAnswer(this.answer, n, k.answer, t);
    k.retry = repeatedExchanges(f.lengths, f.lengths.length) >= RETRY_REPEATS;
    if (k.retry) k.retryEntry = bumpRetry(this.retries, n, t);
    if (--n.live === 0) unindex(this.index, n);
    else k.node = n;
    // The counters' own key texts, so that a flow waiting for its hold keeps no strings of its own (less for the
    // young generation's collections to copy).
    k.pair = n.key;
    k.shape = s.sub as string;
  }

  /**
   * Writes the counters for `f` into out[] in CONTEXT_COUNTERS order: the flows counted so far, less `f` itself
   * where it was counted (its weight in a Decayed kept at the latest start T is exp(-2 (T - its start) / tau)).
   */
  read(f: ContextSource, k: ContextKeys, out: Float64Array): void {
    const t = f.first_ts;
    let p = k.pairEntry;
    let s = k.shapeEntry;
    let a = k.answerEntry;
    let r = k.retryEntry;
    // An entry dropped since count(), or not made (an interim record; ctx_pair_retries for a flow that repeated no
    // exchange), is looked up by its keys: the key may be there (anew).
    if (!kept(p) || !kept(s) || !kept(a) || !kept(r)) {
      const kn = k.node;
      // A node still in the index is the one for k.pair (the index holds one node a key).
      const n = kn !== null && kn.indexed ? kn : this.index.get(k.pair);
      if (!kept(p)) p = n?.pair ?? undefined;
      if (!kept(s)) s = n === undefined ? undefined : shapeEntry(n, k.shape);
      if (!kept(a)) a = n === undefined ? undefined : answerEntry(n, k.answer);
      if (!kept(r)) r = n?.retry ?? undefined;
    }
    out[0] = value(p, t, TAU_PAIR, k.counted);
    out[1] = value(s, t, TAU_SHAPE, k.counted);
    out[2] = value(a, t, TAU_ANSWER, k.counted);
    out[3] = value(r, t, TAU_RETRIES, k.retry);
  }

  /**
   * Writes the counters for `f` from the flows counted before it into out[], then counts `f` itself (unless it is
   * an interim `active` record): ContextWindow with no hold.
   */
  observe(f: ContextSource, out: Float64Array): void {
    const k = this.keysOf(f);
    this.count(f, k);
    this.read(f, k, out);
  }
}

// Each bump adds a flow that started at t to its key's entry in pair `n` (made when new: `v` born -0, not 0: V8 keeps
// a field that held only small integers as one and, at the first fraction stored, changes the class's field
// representation, which throws away the optimized code that assumed it (round perf17); -0 is a double from the start
// and add() makes it 1 at once, -0 * x + 1, as it made 0), marks it as just used, and returns the entry.

function bumpPair(m: Lru, n: PairNode, t: number): Decayed {
  let d = n.pair;
  const isNew = d === null;
  if (d === null) {
    d = n.pair = new Decayed(n, '', t, -0);
    n.live++;
  }
  d.add(t, TAU_PAIR);
  m.touch(d, isNew);
  return d;
}

function bumpRetry(m: Lru, n: PairNode, t: number): Decayed {
  let d = n.retry;
  const isNew = d === null;
  if (d === null) {
    d = n.retry = new Decayed(n, '', t, -0);
    n.live++;
  }
  d.add(t, TAU_RETRIES);
  m.touch(d, isNew);
  return d;
}

function bumpShape(m: Lru, n: PairNode, shape: string, t: number): Decayed {
  let d = shapeEntry(n, shape);
  const isNew = d === undefined;
  if (d === undefined) {
    d = new Decayed(n, shape, t, -0);
    if (n.shapes !== null) n.shapes.set(shape, d);
    else if (n.shape === null) n.shape = d;
    else {
      n.shapes = new Map([[n.shape.sub as string, n.shape], [shape, d]]);
      n.shape = null;
    }
    n.live++;
  }
  d.add(t, TAU_SHAPE);
  m.touch(d, isNew);
  return d;
}

function bumpAnswer(m: Lru, n: PairNode, bytes: number, t: number): Decayed {
  let d = answerEntry(n, bytes);
  const isNew = d === undefined;
  if (d === undefined) {
    d = new Decayed(n, bytes, t, -0);
    if (n.answers !== null) n.answers.set(bytes, d);
    else if (n.answer === null) n.answer = d;
    else {
      n.answers = new Map([[n.answer.sub as number, n.answer], [bytes, d]]);
      n.answer = null;
    }
    n.live++;
  }
  d.add(t, TAU_ANSWER);
  m.touch(d, isNew);
  return d;
}

/** A Decayed's value at t, less the weight of one flow that started at t when `self` (never below 0). */
function value(d: Decayed | undefined, t: number, tau: number, self: boolean): number {
  if (d === undefined) return 0;
  let v = d.at(t, tau);
  if (self) v -= Math.exp((-2 * Math.max(0, d.t - t)) / tau);
  // What is left of a flow's own weight after the subtraction is rounding, not another flow.
  return v > 1e-9 ? v : 0;
}
