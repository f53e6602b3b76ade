import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { communityId } from '../../src/flow/communityId';
import { Pseudonymizer } from '../../src/flow/pseudonymizer';
import { makeFlow } from '../classify/makeFlow';
import { ACK, SYN, tcpFrame, pcapBytes, v6Groups } from '../helpers/frames';
import { KEY_1, KEY_2, PSEUDONYMS } from '../helpers/knownAnswers';
import { runCapture } from '../helpers/runCapture';

/**
 * Known answers computed outside this code: the Community ID v1 test vectors of the specification's own baseline
 * (github.com/corelight/community-id-spec, baseline/README.md and baseline_*.json: TCP rows), and HMAC-SHA256
 * pseudonyms computed with Python's hmac module.
 */

/** [address, port, address, port, Community ID with seed 0, with seed 1]: TCP rows of the spec's baseline. */
const COMMUNITY_ID_V1: [string, number, string, number, string, string][] = [
  ['1.2.3.4', 1122, '5.6.7.8', 3344, '1:wCb3OG7yAFWelaUydu0D+125CLM=', '1:HhA1B+6CoLbiKPEs5nhNYN4XWfk='],
  ['128.232.110.120', 34855, '66.35.250.204', 80, '1:LQU9qZlK+B5F3KDmev6m5PMibrg=', '1:3V71V58M3Ksw/yuFALMcW0LAHvc='],
  ['2001:470:e5bf:dead:4957:2174:e82c:4887', 63943, '2607:f8b0:400c:c03::1a', 25, '1:/qFaeAR+gFe1KYjMzVDsMv+wgU4=', '1:eJYTW6AOzFLlSUoESovMjnu7rMw='],
];

/** The 32-bit address words the flow table keeps (IPv4: one word). */
function words(ip: string): number[] {
  if (!ip.includes(':')) return [ip.split('.').reduce((acc, x) => acc * 256 + Number(x), 0)];
  const g = v6Groups(ip);
  return [0, 2, 4, 6].map((i) => g[i]! * 65536 + g[i + 1]!);
}

describe('Community ID v1: the specification\'s test vectors', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'sensor-cid-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each(COMMUNITY_ID_V1)('flow records of %s:%i <-> %s:%i carry %s, whichever side is the client', async (ipA, portA, ipB, portB, expected) => {
    for (const [client, cport, server, sport] of [[ipA, portA, ipB, portB], [ipB, portB, ipA, portA]] as const) {
      const file = path.join(dir, `${client}-${cport}.pcap`.replace(/:/g, '_'));
      writeFileSync(file, pcapBytes([
        { ts: 1, data: tcpFrame({ src: client, dst: server, sport: cport, dport: sport, seq: 1, flags: SYN }) },
        { ts: 2, data: tcpFrame({ src: server, dst: client, sport, dport: cport, seq: 9, ack: 2, flags: SYN | ACK }) },
      ]));
      const { records } = await runCapture(file);
      expect(records).toHaveLength(1);
      expect(records[0]).toMatchObject({ client_ip: client, client_port: cport, community_id: expected });
    }
  });

  it.each(COMMUNITY_ID_V1)('communityId() with seed 1 for %s:%i <-> %s:%i', (ipA, portA, ipB, portB, _seed0, seed1) => {
    // The spec orders the endpoints (lesser address first); the flow table hands them over in that order.
    const [a, pa, b, pb] = words(ipA)[0]! < words(ipB)[0]! ? [ipA, portA, ipB, portB] : [ipB, portB, ipA, portA];
    const version = ipA.includes(':') ? 6 : 4;
    expect(communityId(version, words(a), pa, words(b), pb, 1)).toBe(seed1);
  });
});

describe('Pseudonymizer: HMAC-SHA256 known answers', () => {
  it.each(Object.entries(PSEUDONYMS))('key %j gives the independently computed pseudonyms', (key, expected) => {
    const p = new Pseudonymizer(key);
    for (const [ip, anon] of Object.entries(expected)) {
      expect(p.address(ip)).toBe(anon);
      expect(p.address(ip)).toBe(anon); // again, from its memo
    }
  });

  it('a different key gives a different pseudonym for every address', () => {
    for (const ip of Object.keys(PSEUDONYMS[KEY_2]!)) {
      expect(new Pseudonymizer(KEY_1).address(ip)).not.toBe(new Pseudonymizer(KEY_2).address(ip));
    }
  });

  it('apply() replaces both addresses and clears the Community ID (an unkeyed hash of the real tuple)', () => {
    const r = makeFlow([10, -20], { client_ip: '10.0.0.1', server_ip: '2001:db8::1', community_id: '1:x' });
    new Pseudonymizer(KEY_1).apply(r);
    expect(r).toMatchObject({ client_ip: PSEUDONYMS[KEY_1]!['10.0.0.1'], server_ip: PSEUDONYMS[KEY_1]!['2001:db8::1'], community_id: '' });
  });
});
