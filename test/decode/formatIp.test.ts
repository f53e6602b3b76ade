import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../bench/synth';
import { formatIp } from '../../src/decode/formatIp';

/** Words of an address written as 8 groups. */
function words(groups: number[]): Uint32Array {
  const w = new Uint32Array(4);
  for (let i = 0; i < 4; i++) w[i] = ((groups[2 * i]! << 16) | groups[2 * i + 1]!) >>> 0;
  return w;
}

describe('formatIp()', () => {
  it('formatIp() prints IPv4 in dotted decimal from word 0', () => {
    expect(formatIp(4, new Uint32Array([0xc0a80001, 0, 0, 0]))).toBe('192.168.0.1');
    expect(formatIp(4, new Uint32Array([0xffffffff, 0, 0, 0]))).toBe('255.255.255.255');
    expect(formatIp(4, new Uint32Array([0, 0, 0, 0]))).toBe('0.0.0.0');
  });

  // Expected strings are glibc inet_ntop's (what tshark, and so the oracle, prints), checked with
  // python3 socket.inet_ntop on Debian 12.
  const CASES: Array<[number[], string]> = [
    [[0, 0, 0, 0, 0, 0, 0, 0], '::'],
    [[0, 0, 0, 0, 0, 0, 0, 1], '::1'],
    [[0, 0, 0, 0, 0, 0, 0, 2], '::2'],
    [[1, 0, 0, 0, 0, 0, 0, 0], '1::'],
    [[0x2001, 0xdb8, 0, 0, 0, 0, 0, 1], '2001:db8::1'],
    [[1, 0, 0, 1, 0, 0, 0, 1], '1:0:0:1::1'],
    [[1, 0, 1, 0, 1, 0, 1, 0], '1:0:1:0:1:0:1:0'],
    [[0xfe80, 0, 0, 0, 1, 0, 0, 0], 'fe80::1:0:0:0'],
    [[1, 2, 3, 4, 5, 6, 7, 8], '1:2:3:4:5:6:7:8'],
    [[1, 2, 3, 4, 5, 6, 0, 0], '1:2:3:4:5:6::'],
    [[0x2001, 0xdb8, 0, 0, 1, 0, 0, 1], '2001:db8::1:0:0:1'],
    [[0xabcd, 0xef01, 0x2345, 0x6789, 0xabcd, 0xef01, 0x2345, 0x6789], 'abcd:ef01:2345:6789:abcd:ef01:2345:6789'],
    [[0, 0, 0, 0, 0, 0xffff, 0x0102, 0x0304], '::ffff:1.2.3.4'],
    [[0, 0, 0, 0, 0, 0xffff, 0, 0], '::ffff:0.0.0.0'],
    [[0, 0, 0, 0, 0, 0, 0x0102, 0x0304], '::1.2.3.4'],
    [[0, 0, 0, 0, 0, 0, 0xff, 1], '::0.255.0.1'],
    [[0, 0, 0, 0, 0, 1, 0, 0], '::1:0:0'],
    [[0, 0, 0, 0, 0, 0, 1, 0], '::0.1.0.0'],
  ];

  it.each(CASES)('formatIp() prints IPv6 %j as %s', (groups, text) => {
    expect(formatIp(6, words(groups))).toBe(text);
  });

  // formatIp() keeps the texts of recent addresses in a 4,096-slot direct-mapped cache: 20,000 random addresses of
  // each family, each formatted several times in a shuffled order, collide in it all the time; every text must still
  // be the address's own.
  it('formatIp() gives each address its own text while its cache slots are replaced', () => {
    const next = mulberry32(12345);
    /** A random integer in [0, n). */
    const rand = (n: number): number => Math.floor(next() * n);
    const v4: number[] = [];
    const v6: number[][] = [];
    for (let i = 0; i < 20000; i++) {
      v4.push(rand(2 ** 32));
      // Eight non-zero groups: no run of zeros, so the text is the groups in hex joined by ':'.
      v6.push(Array.from({ length: 8 }, () => 1 + rand(0xffff)));
    }
    const w = new Uint32Array(4);
    for (let round = 0; round < 3; round++) {
      for (let j = 0; j < 20000; j++) {
        const i = rand(20000);
        const a = v4[i]!;
        w.set([a, 0, 0, 0]);
        expect(formatIp(4, w)).toBe(`${a >>> 24}.${(a >>> 16) & 0xff}.${(a >>> 8) & 0xff}.${a & 0xff}`);
        const g = v6[i]!;
        expect(formatIp(6, words(g))).toBe(g.map((x) => x.toString(16)).join(':'));
      }
    }
    // An address text is right after another address took its slot and back.
    expect(formatIp(4, new Uint32Array([0x0a000001, 0, 0, 0]))).toBe('10.0.0.1');
    expect(formatIp(6, words([0, 0, 0, 0, 0, 0, 0x0a00, 1]))).toBe('::10.0.0.1');
    expect(formatIp(4, new Uint32Array([0x0a000001, 0, 0, 0]))).toBe('10.0.0.1');
  });
});
