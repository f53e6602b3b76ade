import type { ClassifiedFlow } from '../classify/verdict';
import type { ClassScore } from '../classify/verdict';
import type { EndReason } from '../flow/flowRecord';

/**
 * One output record: the SQLite columns (less `id`) and the JSON-lines keys, in column order. Both sinks build
 * it with flowToRow(), so their names cannot drift. Arrays and booleans stay as such here; the SQLite sink
 * stores lengths/topk as JSON text and midstream as 0/1.
 */
export interface FlowRow {
  source: string;
  first_ts: number;
  last_ts: number;
  duration: number;
  ip_version: number;
  client_ip: string;
  client_port: number;
  server_ip: string;
  server_port: number;
  vlan: number;
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
  lengths: number[];
  label: string;
  confidence: number;
  topk: ClassScore[];
  model_version: string;
}

/** The record's keys in column order (the SQLite table adds `id INTEGER PRIMARY KEY` in front). */
export const FLOW_COLUMNS: readonly (keyof FlowRow)[] = [
  'source', 'first_ts', 'last_ts', 'duration', 'ip_version', 'client_ip', 'client_port', 'server_ip', 'server_port',
  'vlan', 'c2s_packets', 's2c_packets', 'c2s_bytes', 's2c_bytes', 'c2s_payload_bytes', 's2c_payload_bytes',
  'payload_packets', 'retrans_skipped', 'midstream', 'conn_state', 'history', 'community_id', 'end_reason', 'lengths',
  'label', 'confidence', 'topk', 'model_version',
];

/** Builds the record with every field set in column order, so all rows share one shape. */
export function flowToRow(cf: ClassifiedFlow): FlowRow {
  const f = cf.flow;
  const v = cf.verdict;
  return {
    source: f.source,
    first_ts: f.first_ts,
    last_ts: f.last_ts,
    duration: f.duration,
    ip_version: f.ip_version,
    client_ip: f.client_ip,
    client_port: f.client_port,
    server_ip: f.server_ip,
    server_port: f.server_port,
    vlan: f.vlan,
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
    lengths: f.lengths,
    label: v.label,
    confidence: v.confidence,
    topk: v.topk,
    model_version: v.model_version,
  };
}
