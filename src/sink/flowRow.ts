import type { ScoredFlow } from '../anomaly/scoredFlow';
import type { VerdictStatus } from '../classify/verdict';
import type { EndReason } from '../flow/flowRecord';
import { isoMicros } from './isoTime';

/**
 * One output record, built once per flow by flowToRow() for every sink, so names cannot drift between them.
 * SQLite stores the FLOW_COLUMNS (arrays as JSON text, midstream as 0/1); JSON lines carry the JSON_KEYS (arrays
 * as arrays, midstream as a boolean): the same names, except that JSON lines add `event_type` and leave out
 * `source` (an object in ECS and in Filebeat's index templates, so a string there breaks indexing; `in_iface` /
 * `pcap_filename` say the same thing). The README's "Flow records" table documents every field.
 */
export interface FlowRow {
  /** Always "flow" (JSON lines only), like Suricata's eve `event_type`. */
  event_type: 'flow';
  /** Stable flow id, Zeek-style (src/flow/flowUid.ts); an `active` interim record and the final one share it. */
  uid: string;
  /** The sensor's name (config `sensor.name`, default the host name). */
  sensor: string;
  /** Capture file path or interface name (SQLite only; JSON lines use in_iface / pcap_filename). */
  source: string;
  /** The interface a live flow was captured on; null offline. */
  in_iface: string | null;
  /** The capture file an offline flow started in; null live. */
  pcap_filename: string | null;
  /** First and last packet, ISO 8601 UTC with microseconds. */
  start: string;
  end: string;
  /** The same instants as Unix seconds, and last - first in seconds. */
  first_ts: number;
  last_ts: number;
  duration: number;
  /** Transport protocol: always "tcp". */
  proto: 'tcp';
  ip_version: number;
  vlan: number;
  client_ip: string;
  client_port: number;
  server_ip: string;
  server_port: number;
  c2s_packets: number;
  s2c_packets: number;
  c2s_bytes: number;
  s2c_bytes: number;
  c2s_payload_bytes: number;
  s2c_payload_bytes: number;
  payload_packets: number;
  retrans_skipped: number;
  midstream: boolean;
  conn_state: string;
  history: string;
  community_id: string;
  end_reason: EndReason;
  /** Application name, or the status sentinel (`unknown`, `no-payload`, `classify-error`, `unclassified`). */
  label: string;
  /** What kind of answer `label` is. */
  verdict: VerdictStatus;
  confidence: number;
  /** The model's k best classes and their probabilities, best first (empty for the rule verdicts). */
  topk_labels: string[];
  topk_scores: number[];
  model_version: string;
  /** The signed payload-length sequence, zero padded. */
  lengths: number[];
  /** The anomaly model's score (higher = less like normal traffic); null without an anomaly model. */
  anomaly_score: number | null;
  /** The score is above the threshold for `anomaly_fpr`; null without an anomaly model. */
  anomaly: boolean | null;
  /** The false-positive rate on normal traffic that the anomaly threshold was set for; null without a model. */
  anomaly_fpr: number | null;
}

/**
 * The SQLite columns of table `flows` in table order (the table adds `id INTEGER PRIMARY KEY` in front): the
 * version-1 columns, then those schema versions 2 and 3 appended (src/sink/schema.ts).
 */
export const FLOW_COLUMNS: readonly (keyof FlowRow)[] = [
  'source', 'first_ts', 'last_ts', 'duration', 'ip_version', 'client_ip', 'client_port', 'server_ip', 'server_port',
  'vlan', 'c2s_packets', 's2c_packets', 'c2s_bytes', 's2c_bytes', 'c2s_payload_bytes', 's2c_payload_bytes',
  'payload_packets', 'retrans_skipped', 'midstream', 'conn_state', 'history', 'community_id', 'end_reason', 'lengths',
  'label', 'confidence', 'model_version',
  'uid', 'sensor', 'in_iface', 'pcap_filename', 'start', 'end', 'proto', 'verdict', 'topk_labels', 'topk_scores',
  'anomaly_score', 'anomaly', 'anomaly_fpr',
];

/** The keys of a JSON-lines record, in the order they are written. */
export const JSON_KEYS: readonly (keyof FlowRow)[] = [
  'event_type', 'uid', 'sensor', 'in_iface', 'pcap_filename', 'start', 'end', 'duration', 'first_ts', 'last_ts', 'proto',
  'ip_version', 'vlan', 'client_ip', 'client_port', 'server_ip', 'server_port', 'c2s_packets', 's2c_packets',
  'c2s_bytes', 's2c_bytes', 'c2s_payload_bytes', 's2c_payload_bytes', 'payload_packets', 'retrans_skipped', 'midstream',
  'conn_state', 'history', 'community_id', 'end_reason', 'label', 'verdict', 'confidence', 'topk_labels',
  'topk_scores', 'model_version', 'anomaly_score', 'anomaly', 'anomaly_fpr', 'lengths',
];

/** A verdict's top k as the record's two columns, `topk_labels` and `topk_scores`, best first. */
export function topkColumns(topk: readonly { label: string; p: number }[]): [string[], number[]] {
  const labels = new Array<string>(topk.length);
  const scores = new Array<number>(topk.length);
  for (let i = 0; i < topk.length; i++) {
    labels[i] = topk[i]!.label;
    scores[i] = topk[i]!.p;
  }
  return [labels, scores];
}

/**
 * A flow's duration as recorded: rounded to the microsecond, the timestamps' precision (the difference of two
 * doubles has float noise).
 */
export function roundedDuration(seconds: number): number {
  return Math.round(seconds * 1e6) / 1e6;
}

/** Builds the record with every field set in one order, so all rows share one shape. */
export function flowToRow(cf: ScoredFlow): FlowRow {
  const f = cf.flow;
  const v = cf.verdict;
  const a = cf.anomaly ?? null;
  const [topkLabels, topkScores] = topkColumns(v.topk);
  return {
    event_type: 'flow',
    uid: f.uid,
    sensor: f.sensor,
    source: f.source,
    in_iface: f.live ? f.source : null,
    pcap_filename: f.live ? null : f.source,
    start: isoMicros(f.first_ts),
    end: isoMicros(f.last_ts),
    first_ts: f.first_ts,
    last_ts: f.last_ts,
    duration: roundedDuration(f.duration),
    proto: 'tcp',
    ip_version: f.ip_version,
    vlan: f.vlan,
    client_ip: f.client_ip,
    client_port: f.client_port,
    server_ip: f.server_ip,
    server_port: f.server_port,
    c2s_packets: f.c2s_packets,
    s2c_packets: f.s2c_packets,
    c2s_bytes: f.c2s_bytes,
    s2c_bytes: f.s2c_bytes,
    c2s_payload_bytes: f.c2s_payload_bytes,
    s2c_payload_bytes: f.s2c_payload_bytes,
    payload_packets: f.payload_packets,
    retrans_skipped: f.retrans_skipped,
    midstream: f.midstream,
    conn_state: f.conn_state,
    history: f.history,
    community_id: f.community_id,
    end_reason: f.end_reason,
    label: v.label,
    verdict: v.status,
    confidence: v.confidence,
    topk_labels: topkLabels,
    topk_scores: topkScores,
    model_version: v.model_version,
    lengths: f.lengths,
    anomaly_score: a !== null ? a.score : null,
    anomaly: a !== null ? a.anomaly : null,
    anomaly_fpr: a !== null ? a.fpr : null,
  };
}

/**
 * A record as one JSON line (without the newline): the JSON_KEYS in their order. Built as a fresh literal rather
 * than with a JSON.stringify key list, which takes V8's slow generic path (measured ~2x slower per record).
 */
export function rowToJson(r: FlowRow): string {
  return JSON.stringify({
    event_type: r.event_type,
    uid: r.uid,
    sensor: r.sensor,
    in_iface: r.in_iface,
    pcap_filename: r.pcap_filename,
    start: r.start,
    end: r.end,
    duration: r.duration,
    first_ts: r.first_ts,
    last_ts: r.last_ts,
    proto: r.proto,
    ip_version: r.ip_version,
    vlan: r.vlan,
    client_ip: r.client_ip,
    client_port: r.client_port,
    server_ip: r.server_ip,
    server_port: r.server_port,
    c2s_packets: r.c2s_packets,
    s2c_packets: r.s2c_packets,
    c2s_bytes: r.c2s_bytes,
    s2c_bytes: r.s2c_bytes,
    c2s_payload_bytes: r.c2s_payload_bytes,
    s2c_payload_bytes: r.s2c_payload_bytes,
    payload_packets: r.payload_packets,
    retrans_skipped: r.retrans_skipped,
    midstream: r.midstream,
    conn_state: r.conn_state,
    history: r.history,
    community_id: r.community_id,
    end_reason: r.end_reason,
    label: r.label,
    verdict: r.verdict,
    confidence: r.confidence,
    topk_labels: r.topk_labels,
    topk_scores: r.topk_scores,
    model_version: r.model_version,
    anomaly_score: r.anomaly_score,
    anomaly: r.anomaly,
    anomaly_fpr: r.anomaly_fpr,
    lengths: r.lengths,
  } satisfies Record<Exclude<keyof FlowRow, 'source'>, unknown>);
}
