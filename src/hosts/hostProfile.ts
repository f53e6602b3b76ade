import { DistinctCounter } from './distinct';

/** Connection states of flows that never completed a handshake: no answer, rejected, or half-open (Zeek names). */
export const FAILED_STATES: ReadonlySet<string> = new Set(['S0', 'REJ', 'SH', 'SHR', 'RSTOS0', 'RSTRH', 'OTH']);
/** Established connections that were then reset. */
export const RESET_STATES: ReadonlySet<string> = new Set(['RSTO', 'RSTR']);

/** (peer, server port) pairs a host's client flows are tracked for (Space-Saving, Metwally et al. 2005). */
export const TOP_PAIRS = 8;

/** What a profile needs of one written flow. */
export interface ProfiledFlow {
  client_ip: string;
  server_ip: string;
  server_port: number;
  first_ts: number;
  duration: number;
  c2s_bytes: number;
  s2c_bytes: number;
  conn_state: string;
  label: string;
  verdict: string;
  anomaly: boolean | null;
  anomaly_score: number | null;
}

/** One tracked (peer, port) pair of a host's client flows, with the spacing of their start times (Welford). */
class Pair {
  n = 0;
  last = 0;
  intervals = 0;
  mean = 0;
  m2 = 0;
  constructor(
    readonly ip: string,
    readonly port: number,
    public count: number,
  ) {}

  /** `ip:port`, as the profile row's top_peer shows it (made when a row is, not per flow). */
  get peer(): string {
    return `${this.ip}:${this.port}`;
  }

  start(ts: number): void {
    if (this.n > 0) {
      const dt = ts - this.last;
      // Records come in the order flows end; a flow that started before the previous one adds no interval.
      if (dt >= 0) {
        this.intervals++;
        const d = dt - this.mean;
        this.mean += d / this.intervals;
        this.m2 += d * (dt - this.mean);
      }
    }
    if (this.n === 0 || ts > this.last) this.last = ts;
    this.n++;
  }

  /** Coefficient of variation of the start intervals; null under 2 intervals or when they are all 0. */
  cv(): number | null {
    if (this.intervals < 2 || this.mean <= 0) return null;
    return Math.sqrt(this.m2 / (this.intervals - 1)) / this.mean;
  }
}

/** A profile row as written to table `hosts` (README "Host profiles"), without its identity columns. */
export interface ProfileRow {
  flows_client: number;
  flows_server: number;
  peers: number;
  server_ports: number;
  distinct_exact: number;
  failed_client: number;
  failed_server: number;
  reset_flows: number;
  bytes_sent: number;
  bytes_received: number;
  duration_mean: number;
  duration_max: number;
  long_flows: number;
  label_entropy: number;
  unknown_share: number;
  top_peer: string;
  top_peer_flows: number;
  top_peer_interval_cv: number | null;
  anomalous_flows: number;
  anomaly_max: number | null;
}

/** One host in one time window, updated flow by flow in constant memory (bounded distinct counters and pairs). */
export class HostProfile {
  flowsClient = 0;
  flowsServer = 0;
  failedClient = 0;
  failedServer = 0;
  resets = 0;
  bytesSent = 0;
  bytesReceived = 0;
  durationSum = 0;
  durationMax = 0;
  longFlows = 0;
  unknown = 0;
  anomalous = 0;
  anomalyMax: number | null = null;
  /** Set when the profile changed since it was last written. */
  dirty = true;
  readonly peers = new DistinctCounter();
  /** Server ports, counted as their decimal text (DistinctCounter takes the number). */
  readonly ports = new DistinctCounter<number>();
  readonly labels = new Map<string, number>();
  private readonly pairs: Pair[] = [];

  /** Adds one flow seen from this host's side (`asClient`: the host is the flow's client). */
  add(f: ProfiledFlow, asClient: boolean, longFlowSeconds: number): void {
    this.dirty = true;
    const failed = FAILED_STATES.has(f.conn_state);
    if (asClient) {
      this.flowsClient++;
      if (failed) this.failedClient++;
      this.bytesSent += f.c2s_bytes;
      this.bytesReceived += f.s2c_bytes;
      this.peers.add(f.server_ip);
      this.ports.add(f.server_port);
      this.trackPair(f);
    } else {
      this.flowsServer++;
      if (failed) this.failedServer++;
      this.bytesSent += f.s2c_bytes;
      this.bytesReceived += f.c2s_bytes;
      this.peers.add(f.client_ip);
    }
    if (RESET_STATES.has(f.conn_state)) this.resets++;
    this.durationSum += f.duration;
    if (f.duration > this.durationMax) this.durationMax = f.duration;
    if (f.duration >= longFlowSeconds) this.longFlows++;
    this.labels.set(f.label, (this.labels.get(f.label) ?? 0) + 1);
    if (f.verdict === 'unknown') this.unknown++;
    if (f.anomaly === true) this.anomalous++;
    if (f.anomaly_score !== null && Number.isFinite(f.anomaly_score) && (this.anomalyMax === null || f.anomaly_score > this.anomalyMax)) {
      this.anomalyMax = f.anomaly_score;
    }
  }

  /** Space-Saving over (peer, port): a pair not tracked replaces the least counted one and inherits its count. */
  private trackPair(f: ProfiledFlow): void {
    const ip = f.server_ip;
    const port = f.server_port;
    const pairs = this.pairs;
    let min = 0;
    for (let i = 0; i < pairs.length; i++) {
      const p = pairs[i]!;
      if (p.port === port && p.ip === ip) {
        p.count++;
        p.start(f.first_ts);
        return;
      }
      if (p.count < pairs[min]!.count) min = i;
    }
    if (pairs.length < TOP_PAIRS) {
      const p = new Pair(ip, port, 1);
      p.start(f.first_ts);
      pairs.push(p);
      return;
    }
    const p = new Pair(ip, port, pairs[min]!.count + 1);
    p.start(f.first_ts);
    pairs[min] = p;
  }

  get flows(): number {
    return this.flowsClient + this.flowsServer;
  }

  toRow(): ProfileRow {
    const n = this.flows;
    let entropy = 0;
    for (const c of this.labels.values()) {
      const p = c / n;
      entropy -= p * Math.log2(p);
    }
    let top: Pair | null = null;
    for (const p of this.pairs) if (top === null || p.count > top.count) top = p;
    return {
      flows_client: this.flowsClient,
      flows_server: this.flowsServer,
      peers: this.peers.count(),
      server_ports: this.ports.count(),
      distinct_exact: this.peers.isExact && this.ports.isExact ? 1 : 0,
      failed_client: this.failedClient,
      failed_server: this.failedServer,
      reset_flows: this.resets,
      bytes_sent: this.bytesSent,
      bytes_received: this.bytesReceived,
      duration_mean: n > 0 ? this.durationSum / n : 0,
      duration_max: this.durationMax,
      long_flows: this.longFlows,
      label_entropy: Math.max(0, entropy),
      unknown_share: n > 0 ? this.unknown / n : 0,
      top_peer: top !== null ? top.peer : '',
      top_peer_flows: top !== null ? top.count : 0,
      top_peer_interval_cv: top !== null ? top.cv() : null,
      anomalous_flows: this.anomalous,
      anomaly_max: this.anomalyMax,
    };
  }
}
