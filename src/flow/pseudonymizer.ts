import { createHmac } from 'node:crypto';
import type { FlowRecord } from './flowRecord';

/** Hex digits of the keyed hash kept per address: 64 bits, collision-free in practice for one site's hosts. */
const PSEUDONYM_HEX_DIGITS = 16;

/**
 * Replaces the addresses of a finished flow by keyed hashes (HMAC-SHA256 with a site secret), for sites that must
 * not store addresses (SPEC.md "Metadata only"). The same address always maps to the same pseudonym under one
 * key, so per-host queries still work; without the key the mapping cannot be reversed or recomputed. The
 * Community ID is a plain hash of the real 5-tuple (guessable by trying the IPv4 space), so it is cleared.
 * Runs once per written flow, never per packet.
 */
export class Pseudonymizer {
  private readonly key: Buffer;
  private readonly cache = new Map<string, string>();
  /** Bound on the memo of recent addresses (memory stays flat on a busy span port). */
  private static readonly CACHE_LIMIT = 65536;

  constructor(key: string) {
    this.key = Buffer.from(key, 'utf8');
  }

  address(ip: string): string {
    let p = this.cache.get(ip);
    if (p === undefined) {
      p = 'anon:' + createHmac('sha256', this.key).update(ip).digest('hex').slice(0, PSEUDONYM_HEX_DIGITS);
      if (this.cache.size >= Pseudonymizer.CACHE_LIMIT) this.cache.clear();
      this.cache.set(ip, p);
    }
    return p;
  }

  apply(r: FlowRecord): void {
    r.client_ip = this.address(r.client_ip);
    r.server_ip = this.address(r.server_ip);
    r.community_id = '';
  }
}
