/**
 * Text form of an address kept as 32-bit words in a PacketMeta (IPv4: word 0; IPv6: words 0..3), for flow
 * records, not per packet. IPv4 is dotted decimal. IPv6 follows RFC 5952 the way glibc's inet_ntop (and
 * so tshark, which the oracle reads) prints it: lower-case hex without leading zeros, the longest run of
 * two or more zero groups (the first one on a tie) written as `::`, and the IPv4-mapped (::ffff:a.b.c.d)
 * and IPv4-compatible (::a.b.c.d) forms with a dotted tail.
 */
export function formatIp(version: number, words: Uint32Array): string {
  const w0 = words[0] ?? 0;
  if (version === 4) {
    const i = Math.imul(w0, 0x9e3779b1) >>> (32 - TEXT_CACHE_BITS);
    const t = v4Texts[i]!;
    if (t !== '' && v4Words[i] === w0) return t;
    const s = dotted(w0);
    v4Words[i] = w0;
    v4Texts[i] = s;
    return s;
  }
  const w1 = words[1] ?? 0;
  const w2 = words[2] ?? 0;
  const w3 = words[3] ?? 0;
  const i = Math.imul(w0 ^ Math.imul(w1 ^ Math.imul(w2 ^ Math.imul(w3, 0x85ebca6b), 0xc2b2ae35), 0x27d4eb2f), 0x9e3779b1) >>> (32 - TEXT_CACHE_BITS);
  const t = v6Texts[i]!;
  const k = i * 4;
  if (t !== '' && v6Words[k] === w0 && v6Words[k + 1] === w1 && v6Words[k + 2] === w2 && v6Words[k + 3] === w3) return t;
  const s = formatIp6(words);
  v6Words[k] = w0;
  v6Words[k + 1] = w1;
  v6Words[k + 2] = w2;
  v6Words[k + 3] = w3;
  v6Texts[i] = s;
  return s;
}

/**
 * The texts of recently formatted addresses, direct-mapped by a hash of their words ('' = an empty slot: no address
 * formats as ''). A record's two addresses are then, for a host seen before, the very string objects of its earlier
 * records: no new strings per record, and the host profiles' Maps and Sets and the run summary's talkers find them
 * by identity with their hash already computed. A collision only replaces the slot (at most one more formatting).
 * Memory is bounded: 4,096 texts per family.
 */
const TEXT_CACHE_BITS = 12;
const v4Words = new Uint32Array(1 << TEXT_CACHE_BITS);
const v4Texts: string[] = new Array<string>(1 << TEXT_CACHE_BITS).fill('');
const v6Words = new Uint32Array(4 << TEXT_CACHE_BITS);
const v6Texts: string[] = new Array<string>(1 << TEXT_CACHE_BITS).fill('');

function formatIp6(words: Uint32Array): string {
  const groups: number[] = [];
  for (let i = 0; i < 4; i++) {
    const w = words[i] ?? 0;
    groups.push(w >>> 16, w & 0xffff);
  }
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (bestLen < 2) bestStart = -1;
  // glibc: a dotted tail when the first 6 groups are zero, or the first 5 are zero and the sixth is ffff.
  const embedsIpv4 = bestStart === 0 && (bestLen === 6 || (bestLen === 5 && groups[5] === 0xffff));
  const last = embedsIpv4 ? 6 : 8;
  let s = '';
  for (let i = 0; i < last; i++) {
    if (i === bestStart) {
      s += i === 0 ? '::' : ':';
      i += bestLen - 1;
      continue;
    }
    s += groups[i]!.toString(16);
    if (i < last - 1 || embedsIpv4) s += ':';
  }
  if (embedsIpv4) s += dotted(words[3] ?? 0);
  return s;
}

function dotted(w: number): string {
  return `${w >>> 24}.${(w >>> 16) & 0xff}.${(w >>> 8) & 0xff}.${w & 0xff}`;
}
