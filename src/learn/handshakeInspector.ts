import type { Learned } from '../flow/flowRecord';
import type { FlowRecord } from '../flow/flowRecord';
import type { PacketMeta } from '../decode/packetMeta';
import type { PayloadInspector } from '../flow/payloadInspector';
import { cleartextProtocol, firstLine, hasLine } from './cleartext';
import { HTTP_REQUEST, httpMethodLength, NEED_MORE as HTTP_NEED_MORE, readHttpRequest } from './httpRequest';
import type { Labeller } from './labeller';
import { DEFAULT_INSPECT_PACKETS } from './learnDefaults';
import { CLIENT_HELLO, ClientHello, looksLikeClientHello, readClientHello } from './tlsClientHello';

export interface InspectorOptions {
  /** Payload segments of each flow looked at (default 24: enough for a STARTTLS / FTP AUTH TLS exchange to reach its ClientHello). */
  packets?: number;
  /** Bytes of payload held at once over all flows being looked at (default 64 MiB); past it new flows are not read. */
  maxBytes?: number;
}

export const DEFAULT_INSPECT_BYTES = 64 * 1024 * 1024;
/** Client bytes kept per flow: a ClientHello with a post-quantum key share and a STARTTLS preamble fit. */
const CLIENT_BYTES = 8192;
/** Server bytes kept per flow: the greeting line or a database's first message. */
const SERVER_BYTES = 1024;
/** First allocation of a side's buffer; doubled up to the limits above as bytes arrive. */
const INITIAL_BYTES = 1024;

/** Implicit-TLS ports named as their service (the convention of ../shared/outside's labels and the model card). */
const IMPLICIT_TLS: ReadonlyMap<number, string> = new Map([
  [993, 'imaps'],
  [995, 'pop3s'],
  [465, 'smtps'],
  [636, 'ldaps'],
  [8883, 'mqtts'],
]);

/** Cleartext protocols that can switch to TLS later in the flow (STARTTLS, SSLRequest): their SNI comes later. */
const CAN_UPGRADE = new Set(['smtp', 'imap', 'pop3', 'ftp', 'xmpp', 'ldap', 'postgresql', 'mysql']);

/** Counters of the labeller, for the `sensor learn` summary and the stats line. */
export class InspectorStats {
  /** Flows whose payload was looked at. */
  flows = 0;
  /** Flows whose inspected payload was cut by the capture's snaplen (the handshake could not be read whole). */
  truncated = 0;
  /** Flows not looked at because the byte bound (maxBytes) was reached. */
  skipped = 0;
  /** Final records that got a label / a protocol / a name. */
  labelled = 0;
  protocols = 0;
  names = 0;
}

/** One side's first bytes, in sequence order from its first payload segment. */
class Side {
  buf: Uint8Array | null = null;
  len = 0;
  base = 0;
  started = false;
  /** A gap, a cut by the snaplen or the limit ended this side's bytes. */
  closed = false;
}

/** What is known about one flow while its first payload segments pass. */
class Probe {
  readonly client = new Side();
  readonly server = new Side();
  protocol: string | null = null;
  name: string | null = null;
  alpn: string[] = [];
  banner: string | null = null;
  clientLine: string | null = null;
  truncated = false;
  /** Client bytes before this offset hold no ClientHello start (the STARTTLS scan resumes here). */
  scanned = 1;
  /** Where each client segment after the first starts in the client's bytes (a request behind a SOCKS handshake). */
  readonly clientStarts: number[] = [];
  /** clientStarts before this index have been looked at. */
  startsSeen = 0;
  /** Nothing more can be learnt: the buffers are gone. */
  done = false;
  /** Bytes allocated to the two sides. */
  bytes = 0;
}

/**
 * The flow table's PayloadInspector for learn mode and monitor.groundTruth: joins each flow's first client and
 * server bytes (in memory, never written), reads the TLS ClientHello (SNI, ALPN), the HTTP Host, and greeting
 * banners, and at the flow's record names it with the Labeller. The buffers are dropped as soon as the flow is
 * named or its first `packets` payload segments have passed; only the small result stays until the record.
 * `buf` must be set to the current frame's buffer before each packet reaches the flow table (Pipeline does it).
 */
export class HandshakeInspector implements PayloadInspector {
  readonly packets: number;
  readonly stats = new InspectorStats();
  /** The current frame's bytes (Frame.buf), set per packet by the pipeline in learn mode. */
  buf: Uint8Array = new Uint8Array(0);
  private readonly maxBytes: number;
  private bytes = 0;
  private readonly probes = new Map<number, Probe>();
  /** 1 for a slot whose flow needs nothing more (named, or not read): its later packets return at once. */
  private finished = new Uint8Array(1024);
  private readonly hello: ClientHello = { sni: null, alpn: [] };
  private readonly http = { host: null as string | null };

  constructor(
    private readonly labeller: Labeller,
    opts: InspectorOptions = {},
  ) {
    this.packets = opts.packets ?? DEFAULT_INSPECT_PACKETS;
    this.maxBytes = opts.maxBytes ?? DEFAULT_INSPECT_BYTES;
    if (!Number.isInteger(this.packets) || this.packets < 1) throw new RangeError(`inspector: packets must be an integer >= 1, not ${this.packets}`);
    if (!Number.isInteger(this.maxBytes) || this.maxBytes < 0) throw new RangeError(`inspector: maxBytes must be an integer >= 0, not ${this.maxBytes}`);
  }

  /** Flows looked at whose record has not been written yet. */
  get openFlows(): number {
    return this.probes.size;
  }

  /** Payload bytes held now. */
  get heldBytes(): number {
    return this.bytes;
  }

  open(s: number): void {
    if (s < this.finished.length) this.finished[s] = 0;
    const old = this.probes.get(s);
    if (old !== undefined) this.drop(s, old);
  }

  payload(s: number, index: number, c2s: boolean, p: PacketMeta): void {
    if (s < this.finished.length && this.finished[s] === 1) return;
    let probe = this.probes.get(s);
    if (probe === undefined) {
      if (index !== 0) return; // started while the byte bound was reached: not read
      if (this.bytes + INITIAL_BYTES > this.maxBytes) {
        this.stats.skipped++;
        this.finish(s);
        return;
      }
      probe = new Probe();
      this.probes.set(s, probe);
      this.stats.flows++;
    }
    if (probe.done) return;
    const side = c2s ? probe.client : probe.server;
    this.append(probe, side, c2s ? CLIENT_BYTES : SERVER_BYTES, p);
    this.settle(probe, false);
    if (!probe.done && index + 1 >= this.packets) this.settle(probe, true);
    if (probe.done) {
      this.release(probe);
      this.finish(s);
    }
  }

  /** Marks slot s as needing no more packets. */
  private finish(s: number): void {
    if (s >= this.finished.length) {
      let n = this.finished.length;
      while (n <= s) n *= 2;
      const grown = new Uint8Array(n);
      grown.set(this.finished);
      this.finished = grown;
    }
    this.finished[s] = 1;
  }

  record(s: number, rec: FlowRecord, final: boolean): void {
    const probe = this.probes.get(s);
    if (probe === undefined) return;
    if (!probe.done) {
      this.settle(probe, true);
      this.release(probe);
    }
    rec.learned = this.learned(probe, rec.server_port);
    if (final) {
      this.probes.delete(s);
      if (rec.learned.label !== null) this.stats.labelled++;
      if (rec.learned.protocol !== null) this.stats.protocols++;
      if (rec.learned.name !== null) this.stats.names++;
      if (probe.truncated) this.stats.truncated++;
    }
  }

  private learned(probe: Probe, serverPort: number): Learned {
    let protocol = probe.protocol;
    if (protocol === 'tls') protocol = IMPLICIT_TLS.get(serverPort) ?? 'tls';
    const alpn = probe.alpn.join(',');
    const { label, evidence } = this.labeller.label({ protocol, name: probe.name, alpn: probe.alpn, banner: probe.banner, clientLine: probe.clientLine, serverPort });
    return { label, protocol, name: probe.name, alpn, evidence };
  }

  /** Adds the packet's captured payload to a side, in sequence order; a gap or a cut closes the side. */
  private append(probe: Probe, side: Side, limit: number, p: PacketMeta): void {
    if (side.closed) return;
    if (p.payloadOff < 0) {
      side.closed = true; // reassembled from IP fragments: no bytes to read here
      return;
    }
    if (p.payloadCap < p.payloadLen) probe.truncated = true;
    if (!side.started) {
      side.started = true;
      side.base = p.seq;
    }
    const at = (p.seq - side.base) >>> 0;
    if (at !== side.len) {
      // Not the next bytes (a gap: a segment was lost or arrived out of order; or an overlap): stop here.
      if (at > side.len) side.closed = true;
      return;
    }
    const n = Math.min(p.payloadCap, limit - side.len);
    if (side === probe.client && side.len > 0 && n > 0) probe.clientStarts.push(side.len);
    if (n > 0) {
      const need = side.len + n;
      if (side.buf === null || side.buf.length < need) {
        let size = side.buf === null ? INITIAL_BYTES : side.buf.length;
        while (size < need) size *= 2;
        size = Math.min(size, limit);
        const grown = new Uint8Array(size);
        if (side.buf !== null) grown.set(side.buf.subarray(0, side.len));
        const added = size - (side.buf?.length ?? 0);
        this.bytes += added;
        probe.bytes += added;
        side.buf = grown;
      }
      side.buf.set(this.buf.subarray(p.payloadOff, p.payloadOff + n), side.len);
      side.len += n;
    }
    if (p.payloadCap < p.payloadLen || side.len >= limit) side.closed = true;
  }

  /** Reads what the bytes say so far; `final` when no more will come. Sets probe.done when nothing more can be learnt. */
  private settle(probe: Probe, final: boolean): void {
    const c = probe.client;
    const sv = probe.server;
    const cb = c.buf ?? EMPTY;
    const sb = sv.buf ?? EMPTY;
    const cFinal = final || c.closed;
    if (c.len > 0 && looksLikeClientHello(cb, 0, c.len)) {
      probe.protocol = 'tls';
      const r = readClientHello(cb, 0, c.len, cFinal, this.hello);
      probe.name = this.hello.sni;
      probe.alpn = this.hello.alpn;
      if (r === CLIENT_HELLO || cFinal) probe.done = true;
      return;
    }
    if (c.len > 0 && httpMethodLength(cb, 0, c.len) > 0) {
      const r = readHttpRequest(cb, 0, c.len, cFinal, this.http);
      if (r === HTTP_REQUEST) {
        probe.protocol = 'http';
        probe.name = this.http.host;
        probe.clientLine = firstLine(cb, 0, c.len);
        probe.done = true;
        return;
      }
      if (r === HTTP_NEED_MORE && !cFinal) return;
    }
    if (probe.banner === null && sv.len > 0 && (hasLine(sb, 0, sv.len) || final || sv.closed)) probe.banner = firstLine(sb, 0, sv.len);
    if (probe.clientLine === null && c.len > 0 && (hasLine(cb, 0, c.len) || cFinal)) probe.clientLine = firstLine(cb, 0, c.len);
    if (probe.protocol === null) probe.protocol = cleartextProtocol(sb, sv.len, cb, c.len, probe.banner, probe.clientLine);
    if (probe.protocol === null) {
      // Nothing known at the start: a later client segment may open a TLS or HTTP conversation (after a SOCKS or
      // other proxy handshake). Each segment start is looked at once.
      const starts = probe.clientStarts;
      while (probe.startsSeen < starts.length) {
        const at = starts[probe.startsSeen]!;
        if (looksLikeClientHello(cb, at, c.len)) {
          const r = readClientHello(cb, at, c.len, cFinal, this.hello);
          if (r !== CLIENT_HELLO && !cFinal) return; // wait for the rest of it, from the same start
          probe.protocol = 'tls';
          probe.name = this.hello.sni;
          probe.alpn = this.hello.alpn;
          probe.done = true;
          return;
        }
        if (httpMethodLength(cb, at, c.len) > 0) {
          const r = readHttpRequest(cb, at, c.len, cFinal, this.http);
          if (r === HTTP_NEED_MORE && !cFinal) return;
          if (r === HTTP_REQUEST) {
            probe.protocol = 'http';
            probe.name = this.http.host;
            probe.done = true;
            return;
          }
        }
        probe.startsSeen++;
      }
      if (final) probe.done = true;
      return;
    }
    if (!CAN_UPGRADE.has(probe.protocol)) {
      probe.done = true;
      return;
    }
    // STARTTLS and the like: a ClientHello later in the client's bytes names the server. Each byte is looked at
    // once: the scan resumes where the last one ended, or at a ClientHello that was still incomplete.
    for (let i = probe.scanned; i + 6 <= c.len; i++) {
      if (!looksLikeClientHello(cb, i, c.len)) continue;
      const r = readClientHello(cb, i, c.len, cFinal, this.hello);
      probe.name = this.hello.sni;
      probe.alpn = this.hello.alpn;
      if (r === CLIENT_HELLO) {
        probe.done = true;
        return;
      }
      probe.scanned = i;
      if (final) probe.done = true;
      return;
    }
    probe.scanned = Math.max(1, c.len - 5);
    if (final) probe.done = true;
  }

  private release(probe: Probe): void {
    this.bytes -= probe.bytes;
    probe.bytes = 0;
    probe.client.buf = null;
    probe.server.buf = null;
  }

  private drop(s: number, probe: Probe): void {
    this.release(probe);
    this.probes.delete(s);
  }
}

const EMPTY = new Uint8Array(0);
