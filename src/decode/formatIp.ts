/**
 * Text form of an address kept as 32-bit words in a PacketMeta (IPv4: word 0; IPv6: words 0..3), for flow
 * records, not per packet. IPv4 is dotted decimal. IPv6 follows RFC 5952 the way glibc's inet_ntop (and
 * so tshark, which the oracle reads) prints it: lower-case hex without leading zeros, the longest run of
 * two or more zero groups (the first one on a tie) written as `::`, and the IPv4-mapped (::ffff:a.b.c.d)
 * and IPv4-compatible (::a.b.c.d) forms with a dotted tail.
 */
export function formatIp(version: number, words: Uint32Array): string {
  if (version === 4) return dotted(words[0] ?? 0);
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
