/**
 * What came before a flow from the same client to the same service (models/ANOMALY.md "Features"): two counters
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
 *    no packet order, so it still counts where two packets that crossed on the wire swap places in the sequence.
 *
 * Records are taken in the order they are written (the order `sensor anomaly-fit` replays a database in), and
 * interim `active` records are not counted. Memory is bounded: at most maxKeys keys per counter (three maps), the least
 * recently updated dropped first (counted in `evicted`).
 */
export const CONTEXT_COUNTERS = ['ctx_pair_flows', 'ctx_pair_same_shape', 'ctx_pair_same_answer'] as const;
export type ContextCounter = (typeof CONTEXT_COUNTERS)[number];

const TAU_PAIR = 60;
const TAU_SHAPE = 300;
const TAU_ANSWER = 300;
/** Keys kept per counter (about 150 bytes each). */
export const DEFAULT_CONTEXT_KEYS = 200_000;

/** The fields the context reads of a flow. */
export interface ContextSource {
  client_ip: string;
  server_ip: string;
  server_port: number;
  first_ts: number;
  end_reason: string;
  s2c_payload_bytes: number;
  lengths: readonly number[];
}

/**
 * A decayed count: each counted flow weighs exp(-|its start - t| / tau) at time t. Kept as the value at the latest
 * start counted (`t`): a flow that started earlier (records come in the order flows end) is added with the weight
 * it has at `t`, and a query for an earlier time decays by the distance too, so flows written out of time order
 * (capture files given in any order) weigh little unless they really were close in time.
 */
class Decayed {
  constructor(
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

/** A map that forgets its least recently updated keys beyond `max` (Map keeps insertion order). */
class Lru<V> {
  private readonly m = new Map<string, V>();
  evicted = 0;
  constructor(private readonly max: number) {}

  get(k: string): V | undefined {
    return this.m.get(k);
  }

  /** Marks k as just used (moves it to the young end). */
  touch(k: string, v: V): void {
    this.m.delete(k);
    this.m.set(k, v);
    if (this.m.size > this.max) {
      const oldest = this.m.keys().next().value as string;
      this.m.delete(oldest);
      this.evicted++;
    }
  }

  get size(): number {
    return this.m.size;
  }
}

/** Half-octave bin of a signed length: 0 stays 0, otherwise sign * (1 + floor(2 * log2 |x|)). */
function bin(x: number): number {
  if (x === 0) return 0;
  const b = 1 + Math.floor(2 * Math.log2(Math.abs(x)));
  return x > 0 ? b : -b;
}

/** The shape of a sequence as a short string (bins of the non-zero prefix). */
export function shapeOf(lengths: readonly number[]): string {
  let s = '';
  for (let i = 0; i < lengths.length; i++) {
    const x = lengths[i]!;
    if (x === 0) break;
    s += String.fromCharCode(64 + bin(x));
  }
  return s;
}

export class FlowContext {
  private readonly pair: Lru<Decayed>;
  private readonly shape: Lru<Decayed>;
  private readonly answer: Lru<Decayed>;

  constructor(maxKeys = DEFAULT_CONTEXT_KEYS) {
    this.pair = new Lru(maxKeys);
    this.shape = new Lru(maxKeys);
    this.answer = new Lru(maxKeys);
  }

  /** Keys dropped to keep memory bounded. */
  get evicted(): number {
    return this.pair.evicted + this.shape.evicted + this.answer.evicted;
  }

  /**
   * Writes the counters for `f` (from the flows before it) into out[] in CONTEXT_COUNTERS order, then counts `f`
   * itself (unless it is an interim `active` record).
   */
  observe(f: ContextSource, out: Float64Array): void {
    const t = f.first_ts;
    const pairKey = `${f.client_ip} ${f.server_ip} ${f.server_port}`;
    const shapeKey = `${pairKey} ${shapeOf(f.lengths)}`;
    const answerKey = `${pairKey} ${f.s2c_payload_bytes}`;
    const p = this.pair.get(pairKey);
    const s = this.shape.get(shapeKey);
    const a = this.answer.get(answerKey);
    out[0] = p !== undefined ? p.at(t, TAU_PAIR) : 0;
    out[1] = s !== undefined ? s.at(t, TAU_SHAPE) : 0;
    out[2] = a !== undefined ? a.at(t, TAU_ANSWER) : 0;
    if (f.end_reason === 'active') return;
    this.bump(this.pair, pairKey, p, t, TAU_PAIR);
    this.bump(this.shape, shapeKey, s, t, TAU_SHAPE);
    this.bump(this.answer, answerKey, a, t, TAU_ANSWER);
  }

  private bump(m: Lru<Decayed>, k: string, d: Decayed | undefined, t: number, tau: number): void {
    if (d === undefined) d = new Decayed(t, 0);
    d.add(t, tau);
    m.touch(k, d);
  }
}
