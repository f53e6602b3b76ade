import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../bench/synth';
import { historyText } from '../../src/flow/slotRecord';

describe('historyText()', () => {
  // historyText() keeps recent histories' texts in a 1,024-slot direct-mapped cache: 5,000 random histories of 0-16
  // letters, looked up many times in a shuffled order, collide in it all the time; each text must stay its own.
  it('gives each history its own text while its cache slots are replaced', () => {
    const next = mulberry32(99);
    /** A random integer in [0, n). */
    const rand = (n: number): number => Math.floor(next() * n);
    const LETTERS = 'ShADadFfRrTtWwIiQqCcGg^';
    const histories: string[] = [];
    for (let i = 0; i < 5000; i++) {
      let h = '';
      const n = rand(17);
      for (let j = 0; j < n; j++) h += LETTERS[rand(LETTERS.length)];
      histories.push(h);
    }
    // Letters in a store-like array, at an offset as slotRecord() passes them.
    const letters = new Uint8Array(32);
    for (let r = 0; r < 30000; r++) {
      const h = histories[rand(histories.length)]!;
      letters.fill(0x7a);
      for (let j = 0; j < h.length; j++) letters[8 + j] = h.charCodeAt(j);
      expect(historyText(letters, 8, h.length)).toBe(h);
    }
    // A prefix of a cached history, and the empty one.
    letters.set([0x53, 0x68, 0x41, 0x44], 0);
    expect(historyText(letters, 0, 4)).toBe('ShAD');
    expect(historyText(letters, 0, 2)).toBe('Sh');
    expect(historyText(letters, 0, 0)).toBe('');
    expect(historyText(letters, 0, 4)).toBe('ShAD');
  });
});
