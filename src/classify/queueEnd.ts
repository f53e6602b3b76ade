/**
 * The end of a queue that hands its results to a consumer's callback (Classifier, AnomalyScorer, ScorerThread): the
 * first error the callback threw, kept for drain() to throw once, and a close() that runs once.
 */

/** The first error a consumer's callback threw: later ones are dropped until rethrow() has thrown it (once). */
export class FirstFailure {
  private error: unknown = null;

  /** Keeps `e` unless an earlier error is still kept. */
  keep(e: unknown): void {
    if (this.error === null) this.error = e;
  }

  /** Throws the kept error and forgets it; returns when none is kept. */
  rethrow(): void {
    if (this.error !== null) {
      const e = this.error;
      this.error = null;
      throw e;
    }
  }
}

/** A queue's close(): runs once; the queue counts as closed, and `release` runs, even when draining rejects. */
export class CloseOnce {
  private done = false;

  /** Whether a close() has finished draining (or failed to). */
  get closed(): boolean {
    return this.done;
  }

  /** Nothing when already closed; else `drain()`, then (whatever it did) closed, and `release()` awaited. */
  async close(drain: () => Promise<void>, release: () => Promise<unknown>): Promise<void> {
    if (this.done) return;
    try {
      await drain();
    } finally {
      this.done = true;
      await release();
    }
  }
}
