import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ANOMALY_NAMES, type Anomalies, newAnomalies } from '../../src/decode/anomalies';
import { Decoder } from '../../src/decode/decoder';
import { PacketMeta } from '../../src/decode/packetMeta';
import { walkCapture } from './captureWalk';

const PCAPS = path.resolve(__dirname, '../../../shared/pcaps');
const HAVE_PCAPS = existsSync(path.join(PCAPS, 'INDEX.md'));
const HAVE_TSHARK = spawnSync('tshark', ['-v'], { stdio: 'ignore' }).status === 0;

if (!HAVE_PCAPS) console.warn(`decode capture tests skipped: ${PCAPS} not found (the shared test captures)`);
if (HAVE_PCAPS && !HAVE_TSHARK) console.warn('decode tshark comparison skipped: tshark not installed (apt-get install tshark)');

/** Every capture file under shared/pcaps (not the expected/ outputs, not the SOURCE/license texts). */
function captureFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) {
      if (name !== 'expected') out.push(...captureFiles(p));
    } else if (!/\.(md|txt)$/i.test(name) && !/^(LICENSE|COPYING)/i.test(name)) {
      out.push(p);
    }
  }
  return out;
}

function anomalyTotal(a: Anomalies): number {
  let n = 0;
  for (const k of ANOMALY_NAMES) n += a[k];
  return n;
}

interface Decoded {
  frames: number;
  /** Per frame number (1-based, as tshark counts): "srcPort dstPort payloadLen vlan". */
  tcp: Map<number, string>;
  anomalies: Anomalies;
  decoder: Decoder;
  /** Frames skipped without a counter saying why (must stay 0). */
  uncounted: number;
  /** Frames that yielded a PacketMeta with a value out of its range (must stay 0). */
  insane: number;
}

function decodeFile(file: string): Decoded {
  const anomalies = newAnomalies();
  const decoder = new Decoder(anomalies);
  const meta = new PacketMeta();
  const tcp = new Map<number, string>();
  let frames = 0;
  let uncounted = 0;
  let insane = 0;
  walkCapture(file, (frame) => {
    frames++;
    const before = anomalyTotal(anomalies) + decoder.stats.fragments;
    if (decoder.decode(frame, meta)) {
      tcp.set(frames, `${meta.srcPort} ${meta.dstPort} ${meta.payloadLen} ${meta.vlan}`);
      const ok =
        (meta.ipVersion === 4 || meta.ipVersion === 6) &&
        meta.payloadLen >= 0 &&
        meta.ipLen >= meta.payloadLen + 40 &&
        meta.vlan >= 0 &&
        meta.vlan <= 0xfff &&
        meta.ts === frame.ts;
      if (!ok) insane++;
    } else if (anomalyTotal(anomalies) + decoder.stats.fragments === before) {
      uncounted++;
    }
  });
  return { frames, tcp, anomalies, decoder, uncounted, insane };
}

// The oracle's filter (shared/tools/ppi-oracle): plain TCP/IP frames, not TCP carried inside other packets.
const ORACLE_FILTER =
  'tcp && !icmp && !icmpv6 && !udp && !gre && !(count(ip) > 1) && !(count(ipv6) > 1) && !(ip && ipv6) && !(count(tcp) > 1)';

function tsharkSegments(file: string): Map<number, string> {
  const out = execFileSync(
    'tshark',
    ['-n', '-r', file, '-Y', ORACLE_FILTER, '-o', 'tcp.analyze_sequence_numbers:FALSE', '-T', 'fields',
      '-e', 'frame.number', '-e', 'tcp.srcport', '-e', 'tcp.dstport', '-e', 'tcp.len', '-e', 'vlan.id'],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] },
  );
  const first = (v: string | undefined) => (v ?? '').split(',')[0] || '0';
  const m = new Map<number, string>();
  for (const line of out.split('\n')) {
    if (line === '') continue;
    const c = line.split('\t');
    m.set(Number(c[0]), `${first(c[1])} ${first(c[2])} ${first(c[3])} ${first(c[4])}`);
  }
  return m;
}

describe.skipIf(!HAVE_PCAPS)(`Decoder on the shared captures${HAVE_PCAPS ? '' : ` (skipped: ${PCAPS} not found)`}`, () => {
  const files = HAVE_PCAPS ? captureFiles(PCAPS) : [];

  it('decode() handles every packet of every capture without throwing, counting every skip', () => {
    expect(files.length).toBeGreaterThan(150);
    let frames = 0;
    let tcp = 0;
    for (const file of files) {
      const d = decodeFile(file);
      expect({ file, uncounted: d.uncounted, insane: d.insane }).toEqual({ file, uncounted: 0, insane: 0 });
      frames += d.frames;
      tcp += d.tcp.size;
    }
    expect(frames).toBeGreaterThan(30000);
    expect(tcp).toBeGreaterThan(28000);
  });

  it('decode() counts the oddities of the damaged captures under their names', () => {
    const named = (rel: string) => decodeFile(path.join(PCAPS, rel)).anomalies;
    expect(named('zeek/ip4-trunc.pcap').truncated_ip).toBe(1);
    expect(named('zeek/ip6-ext-trunc.pcap').truncated_ipv6_ext).toBe(1);
    expect(named('zeek/trunc-hdr.pcap').truncated_link).toBe(1);
    expect(named('zeek/nflog-bad-tlv-len.pcap').bad_nflog).toBe(1);
    expect(named('tcpdump/LINKTYPE_IPV4_invalid.pcap').bad_ip_version).toBe(1);
    expect(named('tcpdump/LINKTYPE_IPV6_invalid.pcap').bad_ip_version).toBe(1);
    expect(named('tcpdump/tcp_header_heapoverflow.pcap').truncated_tcp).toBe(1);
    expect(named('pcapplusplus/tcp-malformed.pcap').bad_tcp_header_length).toBe(2);
    expect(named('zeek/4in6.pcap').tunnel_skipped).toBe(1);
    expect(named('pcapplusplus/IPv4-encapsulated-IPv6.pcap').tunnel_skipped).toBe(1);
    expect(named('tcpdump/unsupported-link-type-dbus.pcap').unsupported_link_type).toBe(2);
  });

  it('decode() reassembles the fragmented TCP captures and counts the link types it saw', () => {
    const d = decodeFile(path.join(PCAPS, 'pcapplusplus/frag_http_req.pcap'));
    expect(d.decoder.stats.fragmentsReassembled).toBe(1);
    expect(d.decoder.stats.fragmentsPending).toBe(0);
    const multi = decodeFile(path.join(PCAPS, 'pcapplusplus/ldap.pcapng'));
    expect([...multi.decoder.stats.linkTypes.keys()].sort((a, b) => a - b)).toEqual([1, 113]);
    expect(multi.decoder.stats.frames).toBe(multi.frames);
  });

  // One file per oddity: link types, encapsulations, length rules (TSO, jumbo, padding, bogus lengths),
  // fragments (tiny, overlapping, IPv6, over PPP), truncated TCP options.
  const COMPARED = [
    'arkime/arkime_synthetic.pcap',
    'arkime/80211http.pcap',
    'arkime/socks5-http-302-frag.pcap',
    'pcapplusplus/MplsPackets.pcap',
    'pcapplusplus/null_loopback.pcap',
    'pcapplusplus/raw_ip.pcap',
    'pcapplusplus/sll2.pcap',
    'pcapplusplus/ldap.pcapng',
    'suricata-verify/frag-ip-tcp-syn.pcap',
    'suricata-verify/frag-ppp-ipv6-tcp.pcap',
    'suricata-verify/hdlc-http_1tx.pcap',
    'tcpdump/bigtcp-ipv4.pcap',
    'tcpdump/bigtcp-ipv6-hbh.pcap',
    'tcpdump/ipoib.pcap',
    'zeek/fragmented-4.pcap',
    'zeek/fuzz-72.pcap',
    'zeek/ipv6-http-atomic-frag.pcap',
    'zeek/nflog-http.pcap',
    'zeek/pppoe-over-qinq.pcap',
    'zeek/snap-tcp.pcap',
    'zeek/truncated-header.pcap',
    'zeek/vlan-qinqinq.pcap',
  ];

  const tsharkTitle = `decode() finds the TCP segments and payload lengths tshark finds in %s${HAVE_TSHARK ? '' : ' (skipped: tshark is not installed: apt-get install tshark)'}`;
  it.skipIf(!HAVE_TSHARK).each(COMPARED)(tsharkTitle, (rel) => {
    const file = path.join(PCAPS, rel);
    const ours = decodeFile(file).tcp;
    const theirs = tsharkSegments(file);
    expect(theirs.size).toBeGreaterThan(0);
    expect(Object.fromEntries(ours)).toEqual(Object.fromEntries(theirs));
  });
});
