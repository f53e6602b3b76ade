import { PcapWriter } from '../../../src/capture/pcapWriter';
import { ipChecksum, rng } from '../../helpers/synthBits';

/**
 * A tiny classic-pcap writer for the replay tests: `flows` TCP connections between 10.213.9.x hosts,
 * interleaved round-robin, each a handshake, data segments in both directions (sizes from a fixed-seed
 * generator) and a FIN exchange, until `packets` frames are written. Payload bytes are zeros.
 */
export interface SynthSummary {
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

export function writeSynthCapture(file: string, packets: number, flows: number): SynthSummary {
  const next = rng(0x5e5507);
  const out = new PcapWriter(file, LINKTYPE_ETHERNET, { snaplen: 65535 });
  // Per flow: packets sent so far and the sequence numbers of both sides.
  const state = Array.from({ length: flows }, (_, i) => ({ n: 0, cseq: 1000 + i, sseq: 9000 + i, done: false }));
  const perFlow = Math.ceil(packets / flows);
  let written = 0;
  let bytes = 0;
  let ts = 1_700_000_000;
  for (let f = 0; written < packets; f = (f + 1) % flows) {
    const s = state[f]!;
    if (s.done) continue;
    const last = s.n >= perFlow - 3 || written >= packets - 3;
    let fromClient: boolean;
    let flags: number;
    let len = 0;
    if (s.n === 0) [fromClient, flags] = [true, SYN];
    else if (s.n === 1) [fromClient, flags] = [false, SYN | ACK];
    else if (s.n === 2) [fromClient, flags] = [true, ACK];
    else if (last) {
      [fromClient, flags] = [s.n % 2 === 0, FIN | ACK];
      if (s.n >= perFlow - 1 || written >= packets - 1) s.done = true;
    } else {
      fromClient = next() % 3 === 0;
      flags = ACK | PSH;
      // Mostly small (requests, ACK-sized) and full-size segments, like real traffic.
      const r = next() % 10;
      len = r < 4 ? 0 : r < 7 ? next() % 400 : 1460;
      if (len === 0) flags = ACK;
    }
    const frame = Buffer.alloc(ETH + IP + TCP + len);
    frame.set(fromClient ? [2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1] : [2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2], 0);
    frame.writeUInt16BE(0x0800, 12);
    frame[ETH] = 0x45;
    frame.writeUInt16BE(IP + TCP + len, ETH + 2);
    frame.writeUInt16BE(written & 0xffff, ETH + 4);
    frame[ETH + 8] = 64;
    frame[ETH + 9] = 6;
    const client = [10, 213, 9, 1 + (f % 200)];
    const server = [10, 213, 9, 250];
    frame.set(fromClient ? client : server, ETH + 12);
    frame.set(fromClient ? server : client, ETH + 16);
    frame.writeUInt16BE(ipChecksum(frame, ETH), ETH + 10);
    const t = ETH + IP;
    const cport = 20000 + f;
    frame.writeUInt16BE(fromClient ? cport : 443, t);
    frame.writeUInt16BE(fromClient ? 443 : cport, t + 2);
    frame.writeUInt32BE((fromClient ? s.cseq : s.sseq) >>> 0, t + 4);
    frame.writeUInt32BE((fromClient ? s.sseq : s.cseq) >>> 0, t + 8);
    frame[t + 12] = 5 << 4;
    frame[t + 13] = flags;
    frame.writeUInt16BE(65535, t + 14);
    const adv = len + (flags & (SYN | FIN) ? 1 : 0);
    if (fromClient) s.cseq += adv;
    else s.sseq += adv;
    s.n++;
    ts += 0.0001;
    out.write(ts, frame);
    written++;
    bytes += frame.length;
  }
  out.close();
  return { packets: written, flows, bytes };
}
