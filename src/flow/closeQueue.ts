/** Entries a new queue holds before it first grows. */
const INITIAL_ENTRIES = 1024;

/**
 * First-in first-out queue of (slot, generation) pairs: the flows closed by FIN both ways or RST, waiting out
 * the grace period in close order (the table clock never goes back, so the queue is sorted by close time).
 * The generation tells an entry whose flow already ended some other way (and whose slot may hold a newer flow)
 * from a live one. A ring buffer over typed arrays that doubles when full: no allocation per entry.
 */
export class CloseQueue {
  private slots = new Int32Array(INITIAL_ENTRIES);
  private gens = new Uint32Array(INITIAL_ENTRIES);
  private first = 0;
  private size = 0;

  get length(): number {
    return this.size;
  }

  push(slot: number, gen: number): void {
    if (this.size === this.slots.length) this.grow();
    const i = (this.first + this.size) & (this.slots.length - 1);
    this.slots[i] = slot;
    this.gens[i] = gen;
    this.size++;
  }

  /** Slot of the oldest entry (the queue must not be empty). */
  peekSlot(): number {
    return this.slots[this.first]!;
  }

  /** Generation of the oldest entry (the queue must not be empty). */
  peekGen(): number {
    return this.gens[this.first]!;
  }

  /** Drops the oldest entry. */
  shift(): void {
    this.first = (this.first + 1) & (this.slots.length - 1);
    this.size--;
  }

  clear(): void {
    this.first = 0;
    this.size = 0;
  }

  private grow(): void {
    const n = this.slots.length;
    const slots = new Int32Array(n * 2);
    const gens = new Uint32Array(n * 2);
    for (let k = 0; k < n; k++) {
      const i = (this.first + k) & (n - 1);
      slots[k] = this.slots[i]!;
      gens[k] = this.gens[i]!;
    }
    this.slots = slots;
    this.gens = gens;
    this.first = 0;
  }
}
