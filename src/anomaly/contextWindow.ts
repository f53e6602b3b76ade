import { FlowRecord } from '../flow/flowRecord';
import { ContextKeys, FlowContext, type ContextSource } from './context';
import { Fifo } from './fifo';

/**
 * Flows waiting at most (ContextWindow maxHeld) in the sensor and in `sensor anomaly-fit`'s replay: with a 5 s hold,
 * up to about 800 flows ending per second keep their full hold.
 */
export const MAX_HELD = 4096;
/** Seconds of capture time a new model's flows wait for their context (`anomaly_context_hold`). */
export const DEFAULT_HOLD_SECONDS = 5;
/**
 * The longest context hold a model may ask for (`anomaly_context_hold`, `anomaly_context_retry_hold`; anomalyModel.ts
 * refuses more): records wait this long before they are written. Here, beside the other bounds of the hold, so that
 * the command line checks its flags without loading onnxruntime.
 */
export const MAX_CONTEXT_HOLD = 60;
/**
 * Flows waiting at most on the retry hold (`anomaly_context_retry_hold`): beyond, the oldest of them is released at
 * once (counted in releasedEarlyRetry). Only flows that repeated an exchange (ctx_pair_retries' flows) wait there.
 */
export const MAX_RETRY_HELD = 1024;

/**
 * A short verdict delay (models/ANOMALY.md "Features", the hold): each flow is counted in the context when its
 * record comes, and read `hold` seconds of capture time later, so its counters include the flows of the same pair
 * that ended up to `hold` seconds after it (less itself), not only those written before it. Password guessers open
 * several connections at once (hydra's -t tasks): with a one-sided context the first of them see nothing, and
 * they are the misses of every burst and of every switch of request.
 *
 * Capture time is the latest `last_ts` of the records counted (and, live, the table clock: advance()); a flow is
 * released, in the order its record came, once that clock is `hold` seconds past its own `last_ts`. At most `maxHeld`
 * flows wait: beyond, the oldest is released at once (counted in `releasedEarly`), so memory stays bounded under a
 * flood whatever the hold. With hold 0 every flow is read right after it is counted: the counters of the flows
 * written before it, as a model fitted without a hold expects.
 *
 * A longer retry hold (`retryHold`, > hold; 0 = none) applies only to the flows that repeated an exchange
 * (repeatedExchanges() >= RETRY_REPEATS: a password guesser retrying on one connection, as hydra's ssh module does
 * until sshd closes it): they wait in a second queue, at most `maxRetryHeld` of them (beyond, the oldest is released at
 * once, counted in `releasedEarlyRetry`), so that the first burst of a guesser that runs in bursts half a minute apart
 * sees the next burst, while every other flow keeps the short hold. Flows leave each queue in the order they came;
 * a retry-held flow is written after the short-held flows that came after it.
 */
/** A flow waiting in a queue: its keys and counter entries (one object per flow), the flow and what it carries. */
class Held<T> extends ContextKeys {
  constructor(
    readonly item: T,
    readonly source: ContextSource,
  ) {
    super();
  }
}

export class ContextWindow<T> {
  /** Flows released before their hold was over because maxHeld flows were waiting. */
  releasedEarly = 0;
  /** Retry-held flows released before their retry hold was over because maxRetryHeld of them were waiting. */
  releasedEarlyRetry = 0;
  private readonly context: FlowContext;
  /** The flows counted and not yet released, in the order their records came. */
  private readonly queue = new Fifo<Held<T>>();
  /** The flows on the retry hold, in the order their records came. */
  private readonly retryQueue = new Fifo<Held<T>>();
  private clock = -Infinity;

  constructor(
    readonly hold: number,
    private readonly maxHeld: number,
    maxKeys?: number,
    readonly retryHold = 0,
    private readonly maxRetryHeld = MAX_RETRY_HELD,
  ) {
    if (!warmedUp) warmUpContextWindow();
    this.context = new FlowContext(maxKeys);
  }

  /** Keys the counters dropped to keep memory bounded. */
  get evicted(): number {
    return this.context.evicted;
  }

  /** Flows counted and not yet released. */
  get held(): number {
    return this.queue.length + this.retryQueue.length;
  }

  /** Flows waiting on the retry hold (at most maxRetryHeld). */
  get retryHeld(): number {
    return this.retryQueue.length;
  }

  /** Counts `f` (carried as `item`) and queues it for release. */
  add(item: T, f: ContextSource): void {
    const k = this.context.keysOf(f, new Held(item, f));
    this.context.count(f, k);
    if (k.retry && this.retryHold > this.hold) this.retryQueue.push(k);
    else this.queue.push(k);
    if (f.last_ts > this.clock) this.clock = f.last_ts;
  }

  /** Moves capture time on to `now` without a record (live capture: the table clock). */
  advance(now: number): void {
    if (now > this.clock) this.clock = now;
  }

  /**
   * The next flow due (hold over, or more than maxHeld waiting; any, with `all`), its counters written into `out`;
   * undefined when none is due.
   */
  next(out: Float64Array, all: boolean): T | undefined {
    const e = this.queue.at(0);
    if (e !== undefined) {
      const f = e.source;
      const full = this.queue.length > this.maxHeld;
      if (all || full || f.last_ts + this.hold <= this.clock) {
        if (full && !all && f.last_ts + this.hold > this.clock) this.releasedEarly++;
        this.context.read(f, e, out);
        this.queue.drop(1);
        return e.item;
      }
    }
    const r = this.retryQueue.at(0);
    if (r === undefined) return undefined;
    const f = r.source;
    const full = this.retryQueue.length > this.maxRetryHeld;
    if (!all && !full && f.last_ts + this.retryHold > this.clock) return undefined;
    if (full && !all && f.last_ts + this.retryHold > this.clock) this.releasedEarlyRetry++;
    this.context.read(f, r, out);
    this.retryQueue.drop(1);
    return r.item;
  }

  /**
   * Restarts capture time, once the caller took every flow (next(out, true)): the end of a capture file (the next
   * file's clock is its own; the counters stay).
   */
  endOfInput(): void {
    this.clock = -Infinity;
  }
}

/** Whether warmUpContextWindow() ran in this thread. */
let warmedUp = false;

/**
 * Runs a few flow records through a throwaway window once per thread, before the first real one, so that every branch
 * of the context's counters (a new key, a key used again at either end or in the middle of the recency list, a key
 * dropped and looked up again, a pair's shapes and answers in their Maps and back, a key of each counter dropped, a
 * flow that started before the latest one counted, an interim record), of both hold queues (released on the clock,
 * early because full, all at the end) and of Fifo (cut down after 1,024 taken) has run once before V8's optimizing
 * compiler compiles them. Otherwise it compiles them from the first records of a capture and throws the code away at
 * the first branch those did not take ("insufficient type feedback"; round perf17: Lru touch(), bump() and
 * ContextWindow.next() were compiled 2-3 times a run). Records are FlowRecords, as in a run, so the feedback stays
 * monomorphic. Nothing of it is kept. Returns the window's counters (for the tests).
 */
export function warmUpContextWindow(): { releasedEarly: number; releasedEarlyRetry: number; evicted: number; released: number } {
  warmedUp = true;
  const t0 = 1e9 + 0.5;
  // Twice: V8 gives a function its feedback vector only after its first calls, and branches run before that leave
  // no feedback; the second pass records them.
  warmUpPass(t0);
  const r = warmUpPass(t0);
  // Fifo cut down after 1,024 taken, with the window's own kind of entries.
  const q = new Fifo<Held<FlowRecord>>();
  const f = new FlowRecord('warm-up', t0, t0, 4, '10.0.0.2', 40000, '10.0.0.1', 80, 0, 1, 0, 40, 0, 0, 0, 0, 0, false, 'S0', 'S', '', 'eof', [0]);
  const e = new Held(f, f);
  for (let i = 0; i < 1030; i++) q.push(e);
  q.drop(1024);
  q.drop(6);
  return r;
}

function warmUpPass(t0: number): { releasedEarly: number; releasedEarlyRetry: number; evicted: number; released: number } {
  const w = new ContextWindow<FlowRecord>(5, 3, 3, 40, 1);
  const out = new Float64Array(4);
  let released = 0;
  const add = (server: number, first: number, last: number, reason: FlowRecord['end_reason'], seq: readonly number[]): void => {
    const lengths = new Array<number>(30).fill(0);
    for (let i = 0; i < seq.length; i++) lengths[i] = seq[i]!;
    let down = 0;
    for (const x of seq) if (x < 0) down -= x;
    const f = new FlowRecord('warm-up', first, last, 4, '10.0.0.2', 40000, `10.0.0.${server}`, 80, 0, 3, 3, 400, 400, 100, down, seq.length, 0, false, 'SF', 'ShADadFf', '', reason, lengths);
    w.add(f, f);
    while (w.next(out, false) !== undefined) released++;
  };
  const once = [100, -200];
  const retry = [10, -20, 10, -20, 10, -20];
  add(1, t0, t0 + 1, 'fin', once); // new keys
  add(1, t0 + 2, t0 + 3, 'fin', once); // the same keys again, the youngest
  add(2, t0 + 2.5, t0 + 3, 'rst', [50]); // another server
  add(1, t0 + 1.5, t0 + 3.5, 'fin', once); // the oldest key again, from a flow that started before the latest
  add(3, t0 + 4, t0 + 4.5, 'idle', once);
  add(2, t0 + 4.25, t0 + 5, 'fin', [60, -70]); // the middle key again; the pair's second shape and answer (a Map)
  add(2, t0 + 4.5, t0 + 5, 'fin', [80, -90]); // another shape and answer (the first two, one dropped, gave a Map up)
  add(2, t0 + 4.75, t0 + 5, 'fin', [80, -90]); // found in the pair's Maps
  add(2, t0 + 4.75, t0 + 5, 'fin', [100, -110]); // a third shape and answer into them
  add(4, t0 + 5, t0 + 5.5, 'fin', once); // a fourth key: the oldest dropped
  add(3, t0 + 5.5, t0 + 6, 'active', once); // an interim record: not counted
  add(5, t0 + 6, t0 + 7, 'fin', retry); // retry hold
  add(5, t0 + 6.5, t0 + 7.5, 'fin', retry); // the retry queue full: the oldest released early
  add(6, t0 + 6.5, t0 + 7.5, 'fin', retry);
  add(7, t0 + 6.5, t0 + 7.5, 'fin', retry);
  add(8, t0 + 6.5, t0 + 7.5, 'fin', retry); // a fourth pair in ctx_pair_retries: the oldest dropped
  add(6, t0 + 20, t0 + 20, 'fin', once); // the clock moves: the held flows are due
  add(6, t0 + 20, t0 + 20, 'fin', once);
  add(7, t0 + 20, t0 + 20, 'fin', once);
  add(8, t0 + 20, t0 + 20, 'fin', once);
  add(9, t0 + 20, t0 + 20, 'fin', once); // the queue full: the oldest released early
  add(5, t0 + 21, t0 + 21, 'fin', retry);
  w.advance(t0 + 100);
  while (w.next(out, false) !== undefined) released++;
  add(1, t0 + 101, t0 + 101, 'fin', once);
  add(5, t0 + 101, t0 + 101, 'fin', retry);
  while (w.next(out, true) !== undefined) released++;
  w.endOfInput();
  return { releasedEarly: w.releasedEarly, releasedEarlyRetry: w.releasedEarlyRetry, evicted: w.evicted, released };
}
