import { spawnSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { FAST_PATH_ADDON, fastPathBinding, fastPathDisabled, type FastPathBinding, type NativeFastPath } from '../../src/fastpath/binding';
import { TRANSITIONS } from '../../src/flow/tcpTransitions';
import { pcapBytes, session } from '../helpers/frames';
import { runPath, scratch } from './fuzz';

/**
 * The addon's boundary (native/fastpath/fast_path.cc, round perf32): what JavaScript can hand set() and walk() must
 * give a TypeError or a refusal, never a crash or a write to memory the fast path no longer owns.
 */

const binding = fastPathDisabled() ? null : fastPathBinding();
const IO_STOP = 5;
const INTERNAL = 16;

describe.skipIf(binding === null)('fast path addon boundary', () => {
  const b = binding as FastPathBinding;

  it('arguments of the wrong type throw a TypeError', () => {
    const fp = b.create();
    const call = (f: unknown, ...a: unknown[]): unknown => (f as (...x: unknown[]) => unknown)(...a);
    expect(() => call(fp.walk)).toThrow(TypeError);
    expect(() => call(fp.walk, 0)).toThrow(TypeError);
    expect(() => call(fp.walk, '0', 10)).toThrow(TypeError);
    expect(() => call(fp.walk, 0, {})).toThrow(TypeError);
    expect(() => call(fp.walk, 0n, 1n)).toThrow(TypeError);
    expect(() => call(fp.set)).toThrow(TypeError);
    expect(() => call(fp.set, 6)).toThrow(TypeError);
    expect(() => call(fp.set, '6', new Float64Array(b.ioLength))).toThrow(TypeError);
    expect(() => call(fp.set, 6, [1, 2, 3])).toThrow(TypeError);
    expect(() => call(fp.set, 6, 'io')).toThrow(TypeError);
    expect(() => call(fp.set, 6, null)).toThrow(TypeError);
    // Numbers of the right type but out of range: refused, not thrown (fastPath.ts then leaves records to JavaScript).
    expect(fp.set(12, new Uint8Array(8))).toBe(false);
    expect(fp.set(-1, new Uint8Array(8))).toBe(false);
    expect(fp.set(NaN, new Uint8Array(8))).toBe(false);
    expect(fp.set(1.5, new Uint8Array(8))).toBe(false);
    expect(fp.set(2 ** 32 + 6, new Float64Array(b.ioLength))).toBe(false);
    expect(fp.set(6, new Float64Array(b.ioLength - 1))).toBe(false);
    // Nothing registered: walk() takes nothing.
    expect(fp.walk(0, 100)).toBe(-1);
  });

  it('refuses an array not aligned to the element its region is read as', () => {
    const fp = b.create();
    const raw = new ArrayBuffer(b.ioLength * 8 + 8);
    expect(fp.set(6, new Uint8Array(raw, 1, b.ioLength * 8))).toBe(false);
    expect(fp.set(6, new Uint8Array(raw, 8, b.ioLength * 8))).toBe(true);
    expect(fp.set(2, new Uint8Array(raw, 2, 16))).toBe(false); // seq: Uint32
    expect(fp.set(4, new Uint8Array(raw, 1, 16))).toBe(false); // transitions: Uint16
    expect(fp.set(5, new Uint8Array(raw, 6, 16))).toBe(false); // index: Int32
    expect(fp.set(9, new Uint8Array(raw, 4, 16))).toBe(false); // lastMove: Float64
    expect(fp.set(11, new Uint8Array(raw, 4, 24))).toBe(false); // interfaces (pcapng): Float64
    expect(fp.set(11, new Uint8Array(raw, 8, 24))).toBe(true);
    expect(fp.set(0, new Uint8Array(raw, 3, 16))).toBe(true); // capture: bytes
    expect(fp.set(3, new Uint8Array(0))).toBe(true); // an empty seqDir (length <= 32) has no backing store
  });

  it('a detached io block is not written through the pointer set() kept', () => {
    const fp = b.create();
    const io = new Float64Array(b.ioLength);
    expect(fp.set(6, io)).toBe(true);
    expect(fp.set(0, new Uint8Array(64))).toBe(true);
    const moved = new Float64Array(structuredClone(io.buffer, { transfer: [io.buffer] }));
    expect(io.length).toBe(0);
    moved.fill(7);
    expect(fp.walk(0, 64)).toBe(-1);
    expect([...moved].every((v) => v === 7)).toBe(true);
  });

  it('a detached capture buffer is not read', () => {
    const fp = b.create();
    const io = new Float64Array(b.ioLength);
    const cap = new Uint8Array(4096).fill(0xff);
    expect(fp.set(6, io)).toBe(true);
    expect(fp.set(0, cap)).toBe(true);
    structuredClone(cap.buffer, { transfer: [cap.buffer] });
    // The region has no bytes now: an end past them takes nothing and says why.
    expect(fp.walk(0, 4096)).toBe(0);
    expect(io[IO_STOP]).toBe(INTERNAL);
  });

  it('a resizable io block shrunk after set() is refused', () => {
    const fp = b.create();
    const ab = new (ArrayBuffer as unknown as new (n: number, o: { maxByteLength: number }) => ArrayBuffer & { resize(n: number): void })(
      b.ioLength * 8,
      { maxByteLength: b.ioLength * 8 * 4 },
    );
    const io = new Float64Array(ab);
    expect(fp.set(6, io)).toBe(true);
    ab.resize(8);
    expect(fp.walk(0, 0)).toBe(-1);
    ab.resize(b.ioLength * 8);
    expect(fp.walk(0, 0)).toBe(0);
  });

  it('set() and walk() kept after their object is collected still work (the state lives as long as they do)', () => {
    const script = `
      const b = require(${JSON.stringify(FAST_PATH_ADDON)});
      let kept = [];
      for (let i = 0; i < 50; i++) { const o = b.create(); kept.push([o.set, o.walk]); }
      // Finalizers run after a collection, from the event loop: collect, then let them run, a few times.
      const settle = () => new Promise((r) => setImmediate(r));
      (async () => {
      for (let i = 0; i < 5; i++) { globalThis.gc(); await settle(); await settle(); }
      let n = 0;
      for (const [set, walk] of kept) {
        const io = new Float64Array(b.ioLength);
        if (set(6, io) && set(0, new Uint8Array(64)) && walk(0, 64) === 0 && io[5] === 16) n++;
      }
      kept = null;
      globalThis.gc();
      await settle();
      console.log(n);
      })();
    `;
    const r = spawnSync(process.execPath, ['--expose-gc', '-e', script], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe('50');
  });
});

describe.skipIf(binding === null)('fast path history bits', () => {
  it('a transition entry with bits past the eight history letters adds no letter (no read past the letter table)', async () => {
    const dir = scratch();
    try {
      const frames = session(1_700_000_000, '10.0.0.1', '10.0.0.2', 40000, 80, [100, -200, 300, -400, 0, 500, -600]);
      const file = path.join(dir, 'session.pcap');
      writeFileSync(file, pcapBytes(frames));
      // Bits 14 and 15 of an entry are history bits 8 and 9 (tr >> 6): no letter has them. The eight real bits are
      // unchanged, so the records must be the JavaScript path's.
      const wide = TRANSITIONS.map((v) => v | 0xc000);
      const js = await runPath(file, false);
      const fast = await runPath(file, true, {}, undefined, (fp) => {
        expect((fp as unknown as { native: NativeFastPath }).native.set(4, wide)).toBe(true);
      });
      expect(fast.fast!.packets).toBeGreaterThan(5);
      expect(fast.records).toEqual(js.records);
      expect(fast.records.join('')).not.toContain('\\u0000');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
