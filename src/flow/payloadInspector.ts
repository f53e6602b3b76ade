import type { PacketMeta } from '../decode/packetMeta';
import type { FlowRecord } from './flowRecord';

/**
 * Sees the first payload segments of each flow while the packet is being handled (the learn labeller,
 * src/learn). The flow table calls it only when one is installed; without one the per-packet path pays a
 * single comparison per counted payload segment. The bytes are those of the current frame (Frame.buf at
 * PacketMeta.payloadOff, payloadCap of them) and must not be kept past the call.
 */
export interface PayloadInspector {
  /** The current frame's bytes (Frame.buf), set before each frame reaches the decoder (Pipeline does it). */
  buf: Uint8Array;
  /** How many payload entries of each flow are handed to payload() (entries 0 .. packets-1). */
  readonly packets: number;
  /** A flow starts in slot s (the slot's previous flow, if any, has been recorded). */
  open(s: number): void;
  /**
   * Payload entry `index` of the flow in slot s (counted into the sequence, retransmissions skipped), sent by
   * the client when `c2s`.
   */
  payload(s: number, index: number, c2s: boolean, p: PacketMeta): void;
  /** The record of the flow in slot s has been built; `final` when the flow ends (not an `active` snapshot). */
  record(s: number, rec: FlowRecord, final: boolean): void;
}
