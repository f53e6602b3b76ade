import { flowUid } from './flowUid';

/** Why a flow record was written (SPEC.md "Flow end"). */
export type EndReason = 'fin' | 'rst' | 'idle' | 'active' | 'eof' | 'shutdown' | 'evicted';

export const END_REASONS: readonly EndReason[] = ['fin', 'rst', 'idle', 'active', 'eof', 'shutdown', 'evicted'];

/**
 * What the learn labeller (src/learn) read from a flow's first packets: the label it gives the flow, the
 * protocol it recognised, the server name (TLS SNI or HTTP Host) and the ALPN offer. Kept in memory only; the
 * sinks never write it (`sensor learn` writes the label, and the name only with --keep-names).
 */
export interface Learned {
  /** Application label (rules file, else the name's registrable domain), or null when nothing names the flow. */
  label: string | null;
  /** Protocol seen in cleartext ('tls', 'http', 'ssh', 'smtp', ..., implicit-TLS ports as 'imaps' etc.), or null. */
  protocol: string | null;
  /** TLS SNI or HTTP Host (lower case, no port), or null. */
  name: string | null;
  /** ALPN protocols the client offered, comma separated ('' when none). */
  alpn: string;
  /** What decided the label: 'rule:<n>' (1-based rule number), 'domain', or '' when unlabelled. */
  evidence: string;
}

/**
 * A finished (or interim, end_reason 'active') flow, as handed from the flow table to the classifier.
 * Field names are the SQLite column names and the JSON-lines keys. Metadata only: no payload byte.
 */
export class FlowRecord {
  // Fields are declared (`declare`: tsc emits no class field for them) and assigned in the constructor, in the order
  // they had as parameter properties. As class fields (the ES2022 target's define semantics) every record first got
  // 28 properties defined as undefined by a separate initializer function and then assigned: an extra function for V8
  // to compile and inline into slotRecord(), and two writes per field per flow (round perf16).
  /** Capture file path or interface name. */
  declare source: string;
  /** Unix seconds of the first and last packet. */
  declare first_ts: number;
  declare last_ts: number;
  declare ip_version: number;
  declare client_ip: string;
  declare client_port: number;
  declare server_ip: string;
  declare server_port: number;
  /** Outermost VLAN ID, 0 untagged. */
  declare vlan: number;
  declare c2s_packets: number;
  declare s2c_packets: number;
  /** IP-layer bytes per direction. */
  declare c2s_bytes: number;
  declare s2c_bytes: number;
  /** TCP payload bytes per direction (every segment, retransmissions included). */
  declare c2s_payload_bytes: number;
  declare s2c_payload_bytes: number;
  /** Entries in `lengths` that are non-zero (payload packets counted into the sequence). */
  declare payload_packets: number;
  /** Payload segments skipped by the retransmission rule. */
  declare retrans_skipped: number;
  /** The flow was first seen without a SYN. */
  declare midstream: boolean;
  /** Zeek-style connection state (S0, S1, SF, REJ, ...). */
  declare conn_state: string;
  /** Zeek-style history letters; upper case client, lower case server. */
  declare history: string;
  /** Community ID v1 of the 5-tuple ("1:..."). */
  declare community_id: string;
  declare end_reason: EndReason;
  /** Signed payload lengths: +client->server, -server->client, zero padded to the model length. */
  declare lengths: number[];

  constructor(
    source: string,
    first_ts: number,
    last_ts: number,
    ip_version: number,
    client_ip: string,
    client_port: number,
    server_ip: string,
    server_port: number,
    vlan: number,
    c2s_packets: number,
    s2c_packets: number,
    c2s_bytes: number,
    s2c_bytes: number,
    c2s_payload_bytes: number,
    s2c_payload_bytes: number,
    payload_packets: number,
    retrans_skipped: number,
    midstream: boolean,
    conn_state: string,
    history: string,
    community_id: string,
    end_reason: EndReason,
    lengths: number[],
  ) {
    this.source = source;
    this.first_ts = first_ts;
    this.last_ts = last_ts;
    this.ip_version = ip_version;
    this.client_ip = client_ip;
    this.client_port = client_port;
    this.server_ip = server_ip;
    this.server_port = server_port;
    this.vlan = vlan;
    this.c2s_packets = c2s_packets;
    this.s2c_packets = s2c_packets;
    this.c2s_bytes = c2s_bytes;
    this.s2c_bytes = s2c_bytes;
    this.c2s_payload_bytes = c2s_payload_bytes;
    this.s2c_payload_bytes = s2c_payload_bytes;
    this.payload_packets = payload_packets;
    this.retrans_skipped = retrans_skipped;
    this.midstream = midstream;
    this.conn_state = conn_state;
    this.history = history;
    this.community_id = community_id;
    this.end_reason = end_reason;
    this.lengths = lengths;
    this.sensor = '';
    this.live = false;
    this.uidText = null;
    this.learned = null;
  }

  /**
   * Where the record comes from, stamped by the pipeline when the flow leaves the flow stage (after
   * pseudonymisation, see Pipeline): the sensor's name and whether `source` is a live interface (else a capture
   * file).
   */
  declare sensor: string;
  declare live: boolean;
  /** The uid once computed or set; see `uid`. */
  private declare uidText: string | null;

  /**
   * The flow's stable uid (flowUid.ts), computed from the written addresses and the sensor name on first read:
   * a SHA-256 per flow is a large part of a record's cost, and when the only output is the database, whose rows
   * are built in its own thread, it is computed there instead of on the capture thread. Read it only once the
   * record is final (after the pipeline stamped `sensor` and pseudonymised the addresses).
   */
  get uid(): string {
    if (this.uidText === null) {
      this.uidText = flowUid(this.sensor, this.ip_version, this.client_ip, this.client_port, this.server_ip, this.server_port, this.vlan, this.first_ts);
    }
    return this.uidText;
  }

  set uid(uid: string) {
    this.uidText = uid;
  }

  /** The uid if it was computed or set already, else null (a record packed for another thread, see recordPack.ts). */
  get uidIfKnown(): string | null {
    return this.uidText;
  }

  /** Set by the learn labeller when it runs (learn mode, monitor.groundTruth); never written by the sinks. */
  declare learned: Learned | null;

  get duration(): number {
    return this.last_ts - this.first_ts;
  }
}
