import { AnomalyScore, type ScoredFlow } from '../anomaly/scoredFlow';
import type { ClassScore, VerdictStatus } from '../classify/verdict';
import { Verdict } from '../classify/verdict';
import { FlowRecord, type EndReason } from '../flow/flowRecord';

/**
 * A batch of classified flows in the form that crosses to a sink's worker thread (sqliteThreadSink.ts): every number in
 * one Float64Array (transferred, not copied), every string in one array. Structured cloning the records themselves
 * cost ~5 µs per flow on the capture thread (V8's serializer walks each object and property); this is a few hundred
 * nanoseconds, and the worker rebuilds FlowRecord and Verdict objects so the sink code is the same as on the
 * capture thread.
 */
export interface PackedBatch {
  n: number;
  num: Float64Array;
  str: string[];
}

/** Numbers per flow besides its lengths and top-k scores (see packBatch()). */
const FIXED_NUMBERS = 24;
/** Strings per flow before its top-k labels. */
const FIXED_STRINGS = 12;

/** Packs a batch (the records are not changed; a uid not computed yet stays for the worker to compute). */
export function packBatch(batch: readonly ScoredFlow[]): PackedBatch {
  let size = 0;
  for (const cf of batch) size += FIXED_NUMBERS + cf.flow.lengths.length + cf.verdict.topk.length;
  const num = new Float64Array(size);
  const str: string[] = [];
  let o = 0;
  for (const { flow: f, verdict: v, anomaly: a } of batch) {
    const uid = f.uidIfKnown;
    num[o++] = f.first_ts;
    num[o++] = f.last_ts;
    num[o++] = f.ip_version;
    num[o++] = f.vlan;
    num[o++] = f.client_port;
    num[o++] = f.server_port;
    num[o++] = f.c2s_packets;
    num[o++] = f.s2c_packets;
    num[o++] = f.c2s_bytes;
    num[o++] = f.s2c_bytes;
    num[o++] = f.c2s_payload_bytes;
    num[o++] = f.s2c_payload_bytes;
    num[o++] = f.payload_packets;
    num[o++] = f.retrans_skipped;
    num[o++] = f.midstream ? 1 : 0;
    num[o++] = f.live ? 1 : 0;
    num[o++] = uid !== null ? 1 : 0;
    num[o++] = v.confidence;
    // The anomaly score: absent (undefined or null) and present are told apart by the first number.
    num[o++] = a != null ? 1 : 0;
    num[o++] = a != null ? a.score : 0;
    num[o++] = a != null && a.anomaly ? 1 : 0;
    num[o++] = a != null ? a.fpr : 0;
    const lengths = f.lengths;
    const topk = v.topk;
    num[o++] = lengths.length;
    for (let i = 0; i < lengths.length; i++) num[o++] = lengths[i]!;
    num[o++] = topk.length;
    for (let i = 0; i < topk.length; i++) num[o++] = topk[i]!.p;
    str.push(
      f.source,
      f.sensor,
      uid ?? '',
      f.client_ip,
      f.server_ip,
      f.conn_state,
      f.history,
      f.community_id,
      f.end_reason,
      v.label,
      v.status,
      v.model_version,
    );
    for (let i = 0; i < topk.length; i++) str.push(topk[i]!.label);
  }
  return { n: batch.length, num, str };
}

/** The scored flows of a packed batch, equal field for field to the ones packed (a missing anomaly score is null). */
export function unpackBatch(p: PackedBatch): ScoredFlow[] {
  const out: ScoredFlow[] = new Array(p.n);
  const { num, str } = p;
  let o = 0;
  let s = 0;
  for (let k = 0; k < p.n; k++) {
    const first = num[o]!;
    const last = num[o + 1]!;
    const ipVersion = num[o + 2]!;
    const vlan = num[o + 3]!;
    const clientPort = num[o + 4]!;
    const serverPort = num[o + 5]!;
    const c2sPackets = num[o + 6]!;
    const s2cPackets = num[o + 7]!;
    const c2sBytes = num[o + 8]!;
    const s2cBytes = num[o + 9]!;
    const c2sPay = num[o + 10]!;
    const s2cPay = num[o + 11]!;
    const payloadPackets = num[o + 12]!;
    const retrans = num[o + 13]!;
    const midstream = num[o + 14] === 1;
    const live = num[o + 15] === 1;
    const hasUid = num[o + 16] === 1;
    const confidence = num[o + 17]!;
    const anomaly = num[o + 18] === 1 ? new AnomalyScore(num[o + 19]!, num[o + 20] === 1, num[o + 21]!) : null;
    const nLengths = num[o + 22]!;
    o += FIXED_NUMBERS - 1;
    const lengths = new Array<number>(nLengths);
    for (let i = 0; i < nLengths; i++) lengths[i] = num[o++]!;
    const source = str[s]!;
    const sensor = str[s + 1]!;
    const uid = str[s + 2]!;
    const flow = new FlowRecord(
      source,
      first,
      last,
      ipVersion,
      str[s + 3]!,
      clientPort,
      str[s + 4]!,
      serverPort,
      vlan,
      c2sPackets,
      s2cPackets,
      c2sBytes,
      s2cBytes,
      c2sPay,
      s2cPay,
      payloadPackets,
      retrans,
      midstream,
      str[s + 5]!,
      str[s + 6]!,
      str[s + 7]!,
      str[s + 8] as EndReason,
      lengths,
    );
    flow.sensor = sensor;
    flow.live = live;
    if (hasUid) flow.uid = uid;
    const nTopk = num[o++]!;
    const topk: ClassScore[] = new Array(nTopk);
    const labelsAt = s + FIXED_STRINGS;
    for (let i = 0; i < nTopk; i++) topk[i] = { label: str[labelsAt + i]!, p: num[o++]! };
    const verdict = new Verdict(str[s + 9]!, confidence, topk, str[s + 11]!, str[s + 10] as VerdictStatus);
    s = labelsAt + nTopk;
    out[k] = { flow, verdict, anomaly };
  }
  return out;
}
