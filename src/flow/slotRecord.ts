import { formatIp } from '../decode/formatIp';
import { communityId } from './communityId';
import { connState } from './connState';
import { Fl } from './flow';
import { K } from './flowKey';
import { EndReason, FlowRecord } from './flowRecord';
import { B, D, H, HISTORY_MAX, HOT_DIR_BITS, Shift, W } from './flowLayout';
import { FlowStore } from './flowStore';

/** Address words of the record being built (formatIp and communityId read them and keep nothing). */
const A_WORDS = new Uint32Array(4);
const B_WORDS = new Uint32Array(4);

/**
 * The texts of recent histories, direct-mapped by a hash of their letters ('' in an empty slot; an empty history is
 * never stored). Most flows of a capture share a handful of histories ("ShADadFf", "ShADadfF", "S", ...):
 * a record takes the text of the earlier ones instead of building it a letter at a time, one new string per letter.
 * A collision only replaces the slot.
 */
const HISTORY_CACHE_BITS = 10;
const historyTexts: string[] = new Array<string>(1 << HISTORY_CACHE_BITS).fill('');

/** The history of `n` letters at `at` of `letters` as text. */
export function historyText(letters: Uint8Array, at: number, n: number): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < n; i++) h = Math.imul(h ^ letters[at + i]!, 0x01000193);
  const slot = h >>> (32 - HISTORY_CACHE_BITS);
  const t = historyTexts[slot]!;
  if (t.length === n) {
    let i = 0;
    while (i < n && t.charCodeAt(i) === letters[at + i]) i++;
    if (i === n) return t;
  }
  let text = '';
  for (let i = 0; i < n; i++) text += String.fromCharCode(letters[at + i]!);
  if (n > 0) historyTexts[slot] = text;
  return text;
}

/**
 * The FlowRecord of the flow in slot s, with endpoints mapped to client/server. Runs once per written flow
 * (not per packet), so formatting, hashing and allocating are fine here.
 */
export function slotRecord(st: FlowStore, s: number, source: string, reason: EndReason): FlowRecord {
  const d = s << Shift.F64;
  const w = s << Shift.W32;
  const b = s << Shift.U8;
  const f64 = st.f64;
  const i32 = st.i32;
  const u32 = st.u32;
  const u8 = st.u8;
  const k = w + W.Key;
  const ipVersion = i32[k + K.VersionVlan]! >>> 16;
  const vlan = i32[k + K.VersionVlan]! & 0xffff;
  const aWords = A_WORDS;
  const bWords = B_WORDS;
  for (let i = 0; i < 4; i++) {
    aWords[i] = i32[k + K.AddrA + i]!;
    bWords[i] = i32[k + K.AddrB + i]!;
  }
  const portA = i32[k + K.Ports]! >>> 16;
  const portB = i32[k + K.Ports]! & 0xffff;
  const aIp = formatIp(ipVersion, aWords);
  const bIp = formatIp(ipVersion, bWords);

  const L = st.seqLength;
  const count = st.u16[(s << Shift.U16) + H.SeqCount]!;
  // A copy of the store's zeros rather than `new Array(L).fill(0)`: V8 keeps an allocation site for an Array
  // constructor call, and when the garbage collector decided to allocate the (long-lived) arrays of that site in the
  // old generation, it threw this function's optimized code away and compiled it again. slice() has no allocation
  // site; the copy has the same elements kind. A run of the 1M bench capture compiles this function twice instead of
  // three times (round perf16); the other recompile is still there.
  const lengths = st.zeroLengths.slice();
  const hotDir = u32[w + W.Dir]!;
  const dir = s * st.seqDirBytes;
  for (let i = 0; i < count; i++) {
    const len = st.seq[s * L + i]!;
    const j = i - HOT_DIR_BITS;
    const back = j < 0 ? ((hotDir >>> i) & 1) !== 0 : (st.seqDir[dir + (j >> 3)]! & (1 << (j & 7))) !== 0;
    lengths[i] = back ? -len : len;
  }

  const history = historyText(st.histLetters, s * HISTORY_MAX, st.histCount[s]!);

  const flags = u8[b + B.Flags]!;
  const cA = (flags & Fl.ClientIsA) !== 0;
  const stateA = u8[b + B.StateA]!;
  const stateB = u8[b + B.StateB]!;
  const pktsA = u32[w + W.PktsA]!;
  const pktsB = u32[w + W.PktsB]!;
  const bytesA = f64[d + D.BytesA]!;
  const bytesB = f64[d + D.BytesB]!;
  const payA = f64[d + D.PayA]!;
  const payB = f64[d + D.PayB]!;
  return new FlowRecord(
    source,
    st.firstTs[s]!,
    f64[d + D.LastTs]!,
    ipVersion,
    cA ? aIp : bIp,
    cA ? portA : portB,
    cA ? bIp : aIp,
    cA ? portB : portA,
    vlan,
    cA ? pktsA : pktsB,
    cA ? pktsB : pktsA,
    cA ? bytesA : bytesB,
    cA ? bytesB : bytesA,
    cA ? payA : payB,
    cA ? payB : payA,
    count,
    u32[w + W.Retrans]!,
    (flags & Fl.Midstream) !== 0,
    connState(cA ? stateA : stateB, cA ? stateB : stateA, history, payA + payB > 0),
    history,
    communityId(ipVersion, aWords, portA, bWords, portB),
    reason,
    lengths,
  );
}
