import { describe, expect, it } from 'vitest';
import { mulberry32 as rng } from '../../bench/synth';
import { flowKeyHash, K } from '../../src/flow/flowKey';
import { FlowStore, INITIAL_SLOTS } from '../../src/flow/flowStore';

/** Writes key number n (distinct for distinct n) into the store's scratch key and returns its hash. */
function setKey(st: FlowStore, n: number): number {
  const k = st.key;
  k.fill(0);
  k[K.VersionVlan] = (4 << 16) | (n % 7);
  k[K.AddrA] = 0x0a000000 + Math.floor(n / 50000);
  k[K.AddrB] = 0xc0a80001;
  k[K.Ports] = ((1024 + (n % 50000)) << 16) | 443;
  return flowKeyHash(k, 0);
}

describe('FlowStore', () => {
  it('find() agrees with a Map through random creates and removes, across growth', () => {
    const st = new FlowStore(30, 1_000_000);
    const model = new Map<number, number>(); // key number -> slot
    const next = rng(7);
    const universe = 40_000;
    const wrong: string[] = [];
    for (let step = 0; step < 200_000; step++) {
      const n = Math.floor(next() * universe);
      const h = setKey(st, n);
      const found = st.find(h);
      const want = model.get(n);
      if (found !== (want ?? -1)) wrong.push(`step ${step}: key ${n} found ${found}, want ${want ?? -1}`);
      if (want === undefined) {
        model.set(n, st.create(h));
      } else if (next() < 0.4) {
        st.remove(want);
        model.delete(n);
      }
    }
    // Every key still present maps to its own slot, and every removed key is gone.
    for (let n = 0; n < universe; n++) {
      const found = st.find(setKey(st, n));
      if (found !== (model.get(n) ?? -1)) wrong.push(`end: key ${n} found ${found}, want ${model.get(n) ?? -1}`);
    }
    expect(wrong.slice(0, 5)).toEqual([]);
    expect(st.count).toBe(model.size);
    expect(st.slots).toBeGreaterThan(INITIAL_SLOTS);
  });

  it('remove() bumps the generation and create() reuses the freed slot', () => {
    const st = new FlowStore(30, 100);
    const a = st.create(setKey(st, 1));
    const genBefore = st.gen[a]!;
    st.remove(a);
    expect(st.gen[a]).toBe(genBefore + 1);
    const b = st.create(setKey(st, 2));
    expect(b).toBe(a);
    expect(st.find(setKey(st, 1))).toBe(-1);
    expect(st.find(setKey(st, 2))).toBe(b);
  });

  it('moveToTail() and remove() keep the recency list in order', () => {
    const st = new FlowStore(30, 100);
    const s = [0, 1, 2, 3].map((n) => st.create(setKey(st, n)));
    st.moveToTail(s[1]!);
    st.remove(s[2]!);
    const order: number[] = [];
    for (let x = st.head; x !== -1; x = st.next(x)) order.push(x);
    expect(order).toEqual([s[0], s[3], s[1]]);
    expect(st.tail).toBe(s[1]);
  });

  it('grow() stops at maxSlots', () => {
    const st = new FlowStore(4, 5000);
    for (let n = 0; n < 5000; n++) st.create(setKey(st, n));
    expect(st.slots).toBe(5000);
    expect(() => st.create(setKey(st, 5001))).toThrow(/flow store is full at 5000 slots/);
  });
});
