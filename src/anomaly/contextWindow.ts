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
