import { describe, expect, it } from 'vitest';

import { CloseOnce, FirstFailure } from '../../src/classify/queueEnd';

describe('FirstFailure', () => {
  it('keeps the first error, drops later ones, and throws it once', () => {
    const f = new FirstFailure();
    expect(() => f.rethrow()).not.toThrow();
    const first = new Error('first');
    f.keep(first);
    f.keep(new Error('second'));
    expect(() => f.rethrow()).toThrow(first);
    expect(() => f.rethrow()).not.toThrow();
    f.keep(new Error('third'));
    expect(() => f.rethrow()).toThrow('third');
  });
});

describe('CloseOnce', () => {
  it('drains, then counts as closed and releases; a second close() does nothing', async () => {
    const c = new CloseOnce();
    const order: string[] = [];
    const drain = async (): Promise<void> => {
      order.push(`drain closed=${c.closed}`);
    };
    const release = async (): Promise<void> => {
      order.push(`release closed=${c.closed}`);
    };
    await c.close(drain, release);
    await c.close(drain, release);
    expect(order).toEqual(['drain closed=false', 'release closed=true']);
    expect(c.closed).toBe(true);
  });

  it('releases and counts as closed when draining rejects or throws, and passes the rejection on', async () => {
    for (const drain of [() => Promise.reject(new Error('sink broke')), (): Promise<void> => { throw new Error('sink broke'); }]) {
      const c = new CloseOnce();
      let released = 0;
      await expect(c.close(drain, async () => void released++)).rejects.toThrow('sink broke');
      expect(c.closed).toBe(true);
      expect(released).toBe(1);
    }
  });
});
