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
  constructor(
    /** Capture file path or interface name. */
    public source: string,
    /** Unix seconds of the first and last packet. */
    public first_ts: number,
    public last_ts: number,
    public ip_version: number,
    public client_ip: string,
    public client_port: number,
    public server_ip: string,
    public server_port: number,
    /** Outermost VLAN ID, 0 untagged. */
    public vlan: number,
    public c2s_packets: number,
    public s2c_packets: number,
    /** IP-layer bytes per direction. */
    public c2s_bytes: number,
    public s2c_bytes: number,
    /** TCP payload bytes per direction (every segment, retransmissions included). */
    public c2s_payload_bytes: number,
    public s2c_payload_bytes: number,
    /** Entries in `lengths` that are non-zero (payload packets counted into the sequence). */
    public payload_packets: number,
    /** Payload segments skipped by the retransmission rule. */
    public retrans_skipped: number,
    /** The flow was first seen without a SYN. */
    public midstream: boolean,
    /** Zeek-style connection state (S0, S1, SF, REJ, ...). */
    public conn_state: string,
    /** Zeek-style history letters; upper case client, lower case server. */
    public history: string,
    /** Community ID v1 of the 5-tuple ("1:..."). */
    public community_id: string,
    public end_reason: EndReason,
    /** Signed payload lengths: +client->server, -server->client, zero padded to the model length. */
    public lengths: number[],
  ) {}

  /**
   * Where the record comes from, stamped by the pipeline when the flow leaves the flow stage (after
   * pseudonymisation, see Pipeline): the sensor's name and whether `source` is a live interface (else a capture
   * file).
   */
  sensor = '';
  live = false;
  /** The uid once computed or set; see `uid`. */
  private uidText: string | null = null;

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
  learned: Learned | null = null;

  get duration(): number {
    return this.last_ts - this.first_ts;
  }
}
