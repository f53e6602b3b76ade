/*
 * Round perf28: what a native packet path would cost, as a floor. Not the sensor's semantics (no Zeek states, no
 * community ID, no fragments, no timers but end of file), only the work every packet path has to do, written plainly:
 *
 *   read the pcap (mmap, or pread in 4 MiB windows like the sensor's reader: `-r`), decode Ethernet with up to two
 *   VLAN tags, IPv4 / IPv6 and TCP, look the 5-tuple (+ VLAN) up in an open-addressing table (linear probing,
 *   backward-shift deletion), keep per-direction packet / byte / payload counters, first and last time, a history
 *   of flags and the first 30 signed payload lengths (a retransmission rule on the next expected sequence number),
 *   and hand a finished flow record (a fixed struct, ~200 bytes) to a callback at a RST, at the first packet without
 *   FIN after both FINs (the last ACK), or at the end of the file.
 *
 * Build and run (one core):
 *   cc -O2 -o /tmp/packet-path bench/packet-path.c
 *   taskset -c 0 /tmp/packet-path bench/out/bench-1m.pcap        # mmap
 *   taskset -c 0 /tmp/packet-path -r bench/out/bench-1m.pcap     # pread, 4 MiB windows
 * Prints frames, TCP packets, flows (and those still open at the end of the file), a checksum of the records (so
 * nothing is optimised away) and the seconds, as one JSON line.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SEQ_LEN 30
#define WINDOW (4u << 20)

typedef struct {
  uint8_t a[16], b[16]; /* canonical order: (a, pa) <= (b, pb) */
  uint16_t pa, pb, vlan;
  uint8_t v6;
} Key;

typedef struct {
  Key key;
  uint8_t used, client_is_a, fin_c, fin_s;
  double first_ts, last_ts;
  uint32_t pkts[2], bytes[2];
  uint64_t payload[2];
  uint32_t next_seq[2];
  uint8_t seq_known[2];
  uint16_t history;
  uint8_t nlen, retrans;
  int16_t lengths[SEQ_LEN];
} Flow;

typedef struct {
  Key key;
  double first_ts, last_ts;
  uint32_t pkts[2], bytes[2];
  uint64_t payload[2];
  uint16_t history;
  uint8_t nlen, end_reason;
  int16_t lengths[SEQ_LEN];
} Record;

static Flow *table;
static uint32_t mask, live;
static uint64_t flows, eof_flows, tcp_packets, checksum;

static void emit(const Flow *f, uint8_t reason) {
  Record r;
  r.key = f->key;
  r.first_ts = f->first_ts;
  r.last_ts = f->last_ts;
  memcpy(r.pkts, f->pkts, sizeof r.pkts);
  memcpy(r.bytes, f->bytes, sizeof r.bytes);
  memcpy(r.payload, f->payload, sizeof r.payload);
  r.history = f->history;
  r.nlen = f->nlen;
  r.end_reason = reason;
  memcpy(r.lengths, f->lengths, sizeof r.lengths);
  flows++;
  /* The record's consumer: a checksum, so that the copy is not optimised away. */
  checksum = checksum * 31 + r.pkts[0] + r.pkts[1] + r.payload[0] + (uint64_t)r.lengths[0] + r.nlen + r.end_reason;
}

static inline uint64_t hash_key(const Key *k) {
  /* FNV-1a over the key's bytes, then a final mix. */
  const uint8_t *p = (const uint8_t *)k;
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < sizeof(Key); i++) h = (h ^ p[i]) * 1099511628211ull;
  h ^= h >> 29;
  return h;
}

static void remove_at(uint32_t i) {
  /* Backward-shift deletion for linear probing. */
  uint32_t j = i;
  for (;;) {
    table[i].used = 0;
    for (;;) {
      j = (j + 1) & mask;
      if (!table[j].used) return;
      uint32_t home = (uint32_t)hash_key(&table[j].key) & mask;
      if (i <= j ? (i < home && home <= j) : (i < home || home <= j)) continue;
      break;
    }
    table[i] = table[j];
    i = j;
  }
}

static void packet(const Key *k, int from_a, double ts, uint32_t ipbytes, uint32_t plen, uint8_t flags, uint32_t seq) {
  tcp_packets++;
  uint32_t i = (uint32_t)hash_key(k) & mask;
  while (table[i].used && memcmp(&table[i].key, k, sizeof(Key)) != 0) i = (i + 1) & mask;
  Flow *f = &table[i];
  if (!f->used) {
    if (live * 2 > mask) { fprintf(stderr, "table full\n"); exit(1); }
    memset(f, 0, sizeof *f);
    f->used = 1;
    f->key = *k;
    /* The client: a SYN-ACK's receiver, else the first packet's sender. */
    f->client_is_a = (flags & 0x12) == 0x12 ? !from_a : from_a;
    f->first_ts = ts;
    live++;
  }
  int d = from_a == f->client_is_a ? 0 : 1;
  f->last_ts = ts;
  f->pkts[d]++;
  f->bytes[d] += ipbytes;
  f->payload[d] += plen;
  f->history |= (uint16_t)(flags & 0x3f) << (d ? 8 : 0);
  if (plen > 0) {
    if (f->seq_known[d] && (int32_t)(seq - f->next_seq[d]) < 0) {
      f->retrans++;
    } else {
      if (f->nlen < SEQ_LEN) f->lengths[f->nlen++] = (int16_t)(d ? -(int32_t)plen : (int32_t)plen);
      f->next_seq[d] = seq + plen;
      f->seq_known[d] = 1;
    }
  }
  if (flags & 0x04) {
    emit(f, 1);
    live--;
    remove_at(i);
    return;
  }
  if (f->fin_c && f->fin_s && !(flags & 0x01)) {
    /* The last ACK after both FINs ends the flow (the sensor waits a FIN grace; no timer here). */
    emit(f, 0);
    live--;
    remove_at(i);
    return;
  }
  if (flags & 0x01) {
    if (d) f->fin_s = 1; else f->fin_c = 1;
  }
}

static uint64_t frames;

static void frame(const uint8_t *p, uint32_t caplen, uint32_t wirelen, double ts) {
  (void)wirelen;
  frames++;
  if (caplen < 14) return;
  uint32_t off = 12;
  uint16_t et = (uint16_t)(p[off] << 8 | p[off + 1]);
  uint16_t vlan = 0;
  for (int t = 0; t < 2 && (et == 0x8100 || et == 0x88a8); t++) {
    if (caplen < off + 6) return;
    if (t == 0) vlan = (uint16_t)((p[off + 2] << 8 | p[off + 3]) & 0x0fff);
    off += 4;
    et = (uint16_t)(p[off] << 8 | p[off + 1]);
  }
  off += 2;
  Key k;
  memset(&k, 0, sizeof k);
  k.vlan = vlan;
  const uint8_t *src, *dst;
  uint32_t alen, ipbytes, l4, l4len;
  if (et == 0x0800) {
    if (caplen < off + 20 || (p[off] >> 4) != 4) return;
    uint32_t ihl = (uint32_t)(p[off] & 15) * 4;
    ipbytes = (uint32_t)(p[off + 2] << 8 | p[off + 3]);
    if (p[off + 9] != 6 || ihl < 20 || ipbytes < ihl) return;
    if ((p[off + 6] & 0x3f) | p[off + 7]) return; /* fragments: not followed here */
    src = p + off + 12;
    dst = p + off + 16;
    alen = 4;
    l4 = off + ihl;
    l4len = ipbytes - ihl;
  } else if (et == 0x86dd) {
    if (caplen < off + 40 || (p[off] >> 4) != 6) return;
    if (p[off + 6] != 6) return; /* extension headers: not followed here */
    l4len = (uint32_t)(p[off + 4] << 8 | p[off + 5]);
    ipbytes = l4len + 40;
    src = p + off + 8;
    dst = p + off + 24;
    alen = 16;
    l4 = off + 40;
    k.v6 = 1;
  } else {
    return;
  }
  if (caplen < l4 + 20) return;
  const uint8_t *t = p + l4;
  uint16_t sp = (uint16_t)(t[0] << 8 | t[1]), dp = (uint16_t)(t[2] << 8 | t[3]);
  uint32_t seq = (uint32_t)t[4] << 24 | (uint32_t)t[5] << 16 | (uint32_t)t[6] << 8 | t[7];
  uint32_t doff = (uint32_t)(t[12] >> 4) * 4;
  if (doff < 20 || doff > l4len) return;
  uint8_t flags = t[13];
  int c = memcmp(src, dst, alen);
  int from_a = c < 0 || (c == 0 && sp <= dp);
  if (from_a) {
    memcpy(k.a, src, alen); memcpy(k.b, dst, alen); k.pa = sp; k.pb = dp;
  } else {
    memcpy(k.a, dst, alen); memcpy(k.b, src, alen); k.pa = dp; k.pb = sp;
  }
  packet(&k, from_a, ts, ipbytes, l4len - doff, flags, seq);
}

/* Parses the records in buf[0, len); returns the bytes consumed (whole records only). */
static size_t records(const uint8_t *buf, size_t len, int nano) {
  size_t off = 0;
  while (off + 16 <= len) {
    uint32_t h[4];
    memcpy(h, buf + off, 16);
    if (off + 16 + h[2] > len) break;
    double ts = h[0] + h[1] * (nano ? 1e-9 : 1e-6);
    frame(buf + off + 16, h[2], h[3], ts);
    off += 16 + h[2];
  }
  return off;
}

int main(int argc, char **argv) {
  int use_read = 0, a = 1;
  if (a < argc && strcmp(argv[a], "-r") == 0) { use_read = 1; a++; }
  if (a >= argc) { fprintf(stderr, "usage: packet-path [-r] FILE.pcap\n"); return 2; }
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  int fd = open(argv[a], O_RDONLY);
  if (fd < 0) { perror(argv[a]); return 1; }
  struct stat st;
  fstat(fd, &st);
  mask = (1u << 16) - 1;
  table = calloc((size_t)mask + 1, sizeof(Flow));
  uint8_t hdr[24];
  if (pread(fd, hdr, 24, 0) != 24) { fprintf(stderr, "short file\n"); return 1; }
  uint32_t magic;
  memcpy(&magic, hdr, 4);
  int nano = magic == 0xa1b23c4d;
  if (magic != 0xa1b2c3d4 && !nano) { fprintf(stderr, "not a little-endian pcap\n"); return 1; }
  if (use_read) {
    uint8_t *buf = malloc(WINDOW);
    off_t pos = 24;
    size_t have = 0;
    for (;;) {
      ssize_t n = pread(fd, buf + have, WINDOW - have, pos);
      if (n <= 0) break;
      pos += n;
      have += (size_t)n;
      size_t used = records(buf, have, nano);
      memmove(buf, buf + used, have - used);
      have -= used;
    }
  } else {
    uint8_t *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (m == MAP_FAILED) { perror("mmap"); return 1; }
    madvise(m, (size_t)st.st_size, MADV_SEQUENTIAL);
    records(m + 24, (size_t)st.st_size - 24, nano);
  }
  /* End of file: every open flow ends. */
  for (uint32_t i = 0; i <= mask; i++)
    if (table[i].used) {
      emit(&table[i], 2);
      eof_flows++;
    }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
  printf("{\"reader\":\"%s\",\"frames\":%llu,\"tcpPackets\":%llu,\"flows\":%llu,\"eofFlows\":%llu,"
         "\"checksum\":%llu,\"seconds\":%.4f}\n",
         use_read ? "pread" : "mmap", (unsigned long long)frames, (unsigned long long)tcp_packets,
         (unsigned long long)flows, (unsigned long long)eof_flows, (unsigned long long)checksum, s);
  return 0;
}
