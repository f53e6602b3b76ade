import { ANOMALY_NAMES, type Anomalies, newAnomalies } from '../../src/decode/anomalies';
import { Decoder, type DecoderOptions } from '../../src/decode/decoder';
import { PacketMeta } from '../../src/decode/packetMeta';
import { type Bytes, type FrameOptions, makeFrame } from './frames';

/** A decoder, its anomaly counters and one reused PacketMeta, as the pipeline holds them. */
export class Harness {
  readonly anomalies: Anomalies = newAnomalies();
  readonly decoder: Decoder;
  readonly meta = new PacketMeta();

  constructor(opts?: DecoderOptions) {
    this.decoder = new Decoder(this.anomalies, opts);
  }

  decode(linkType: number, bytes: Bytes, o?: FrameOptions): boolean {
    return this.decoder.decode(makeFrame(linkType, bytes, o), this.meta);
  }

  /** Anomaly counters that are not zero, for exact assertions. */
  counted(): Partial<Record<string, number>> {
    const r: Record<string, number> = {};
    for (const n of ANOMALY_NAMES) if (this.anomalies[n] !== 0) r[n] = this.anomalies[n];
    return r;
  }
}

/** Decodes one frame with a fresh decoder. */
export function decodeOne(
  linkType: number,
  bytes: Bytes,
  o?: FrameOptions,
): { ok: boolean; meta: PacketMeta; counted: Partial<Record<string, number>> } {
  const h = new Harness();
  const ok = h.decode(linkType, bytes, o);
  return { ok, meta: h.meta, counted: h.counted() };
}
