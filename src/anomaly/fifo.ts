/**
 * A first-in first-out queue over one array and a head index: taking from the front is O(1), and the array is
 * cut down to what is still queued once at least 1,024 entries and half of it were taken (amortised O(1) a push).
 * The anomaly scorer's two queues use it: flows waiting for their context hold (contextWindow.ts) and flows sent
 * to the scoring thread and not yet handed on (scorerThread.ts).
 */
export class Fifo<T> {
  private items: T[] = [];
  private head = 0;

  /** Entries queued. */
  get length(): number {
    return this.items.length - this.head;
  }

  push(x: T): void {
    this.items.push(x);
  }

  /** The `i`-th oldest entry (0: the oldest), undefined past the last. */
  at(i: number): T | undefined {
    return this.items[this.head + i];
  }

  /** Drops the `n` oldest entries (at most all of them). */
  drop(n: number): void {
    this.head = Math.min(this.items.length, this.head + n);
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }
}
