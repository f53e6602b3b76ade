import { PcapWriter } from '../../../src/capture/pcapWriter';
import { ipChecksum, rng } from '../../helpers/synthBits';

/**
 * A deterministic classic-pcap capture for the replay-equality test: Ethernet/IPv4/TCP connections between
 * 10.214.x.x hosts, `concurrency` open at a time and interleaved at random, each a handshake, 40-80 packets of
 * data and ACKs both ways, and a FIN exchange (one in twenty ends with a RST instead). Same arguments, same bytes:
 * every choice comes from one seeded generator. Payload bytes are zeros; frames are full size (1514 bytes at most).
 *
 * Differs from test/capture-live/helpers/synthCapture.ts (round-robin over a fixed set of flows) in that flows
 * start and end all through the file, as on a real link, and several thousand of them are seen.
 */
export interface ReplayCaptureSummary {
  packets: number;
  flows: number;
  bytes: number;
}

const LINKTYPE_ETHERNET = 1;
const ETH = 14;
const IP = 20;
const TCP = 20;
const SYN = 0x02;
const ACK = 0x10;
const PSH = 0x08;
const FIN = 0x01;
const RST = 0x04;
const MSS = 1460;
const SERVER_PORTS = [443, 80, 22, 8443, 993];
/** Destination MACs that no interface has: the replayed frames are PACKET_OTHERHOST, never routed by the host. */
const CLIENT_MAC = [0x02, 0x5d, 0, 0, 0, 0x01];
const SERVER_MAC = [0x02, 0x5d, 0, 0, 0, 0x02];

interface OpenFlow {
  index: number;
  /** Packets in the whole flow, handshake and close included. */
  total: number;
  sent: number;
  cseq: number;
  sseq: number;
  rst: boolean;
}

export function writeReplayCapture(file: string, packets: number, concurrency = 400): ReplayCaptureSummary {
  const next = rng(0x214);
  const out = new PcapWriter(file, LINKTYPE_ETHERNET, { snaplen: 65535 });

  let flows = 0;
  /** Packets already promised to open flows (written or not), so that new flows stop at the budget. */
  let committed = 0;
  const open: OpenFlow[] = [];
  const startFlow = (): void => {
    const total = 40 + (next() % 41);
    open.push({ index: flows++, total, sent: 0, cseq: next(), sseq: next(), rst: next() % 20 === 0 });
    committed += total;
  };
  while (open.length < concurrency && committed < packets) startFlow();

  let written = 0;
  let bytes = 0;
  let usec = 0;
  while (open.length > 0) {
    const slot = next() % open.length;
    const s = open[slot]!;
    const n = s.sent;
    let fromClient: boolean;
    let flags: number;
    let len = 0;
    if (n === 0) [fromClient, flags] = [true, SYN];
    else if (n === 1) [fromClient, flags] = [false, SYN | ACK];
    else if (n === 2) [fromClient, flags] = [true, ACK];
    else if (s.rst && n === s.total - 1) [fromClient, flags] = [false, RST | ACK];
    else if (!s.rst && n === s.total - 3) [fromClient, flags] = [true, FIN | ACK];
    else if (!s.rst && n === s.total - 2) [fromClient, flags] = [false, FIN | ACK];
    else if (!s.rst && n === s.total - 1) [fromClient, flags] = [true, ACK];
    else {
      // Downloads dominate: the server sends two segments in three.
      fromClient = next() % 3 === 0;
      const r = next() % 10;
      len = r < 4 ? 0 : r < 7 ? 1 + (next() % 400) : MSS;
      flags = len === 0 ? ACK : ACK | PSH;
    }

    const frame = Buffer.alloc(ETH + IP + TCP + len);
    frame.set(fromClient ? SERVER_MAC : CLIENT_MAC, 0);
    frame.set(fromClient ? CLIENT_MAC : SERVER_MAC, 6);
    frame.writeUInt16BE(0x0800, 12);
    frame[ETH] = 0x45;
    frame.writeUInt16BE(IP + TCP + len, ETH + 2);
    frame.writeUInt16BE(written & 0xffff, ETH + 4);
    frame[ETH + 8] = 64;
    frame[ETH + 9] = 6;
    const i = s.index;
    const client = [10, 214, 10 + (Math.floor(i / 250) % 100), 1 + (i % 250)];
    const server = [10, 214, 200, 1 + (i % 8)];
    frame.set(fromClient ? client : server, ETH + 12);
    frame.set(fromClient ? server : client, ETH + 16);
    frame.writeUInt16BE(ipChecksum(frame, ETH), ETH + 10);
    const t = ETH + IP;
    const cport = 30000 + ((i * 7) % 30000);
    const sport = SERVER_PORTS[i % SERVER_PORTS.length]!;
    frame.writeUInt16BE(fromClient ? cport : sport, t);
    frame.writeUInt16BE(fromClient ? sport : cport, t + 2);
    frame.writeUInt32BE((fromClient ? s.cseq : s.sseq) >>> 0, t + 4);
    frame.writeUInt32BE(flags & ACK ? (fromClient ? s.sseq : s.cseq) >>> 0 : 0, t + 8);
    frame[t + 12] = 5 << 4;
    frame[t + 13] = flags;
    frame.writeUInt16BE(65535, t + 14);
    const adv = len + (flags & (SYN | FIN) ? 1 : 0);
    if (fromClient) s.cseq = (s.cseq + adv) >>> 0;
    else s.sseq = (s.sseq + adv) >>> 0;

    // 10 µs apart in traffic time: the whole file spans a few seconds, far below any timeout.
    usec += 10;
    out.write(1_700_000_000 + usec / 1e6, frame);
    written++;
    bytes += frame.length;

    if (++s.sent === s.total) {
      open[slot] = open[open.length - 1]!;
      open.pop();
      if (committed < packets) startFlow();
    }
  }
  out.close();
  return { packets: written, flows, bytes };
}
