'use strict';
/**
 * ndpiReader (Debian libndpi-bin) as the reference: where it is, its version, and the numbers it prints about
 * its own run. It is run as `ndpiReader -i FILE` without -q: -q also drops the end-of-run summary that carries
 * its own throughput and packet counts; without -v it prints no per-flow lines, so the output is a few dozen
 * lines either way. On a pcap file ndpiReader uses one processing thread (-n is ignored for files).
 */
const fs = require('node:fs');
const { spawnSync } = require('node:child_process');

const CANDIDATES = ['/usr/bin/ndpiReader', '/usr/local/bin/ndpiReader', '/usr/sbin/ndpiReader'];

function findNdpiReader() {
  for (const c of CANDIDATES) if (fs.existsSync(c)) return c;
  const r = spawnSync('sh', ['-c', 'command -v ndpiReader'], { encoding: 'utf8' });
  const p = r.stdout.trim();
  return p !== '' ? p : null;
}

/** "4.2.0" from the banner, plus the Debian package version when dpkg knows it. */
function ndpiVersion(bin) {
  const r = spawnSync(bin, ['-h'], { encoding: 'utf8' });
  const m = /nDPI\s+([0-9][^\s)]*)/.exec(`${r.stdout}${r.stderr}`);
  const pkg = spawnSync('dpkg-query', ['-W', '-f', '${Version}', 'libndpi-bin'], { encoding: 'utf8' });
  return { ndpi: m === null ? null : m[1], debianPackage: pkg.status === 0 ? pkg.stdout.trim() : null };
}

function ndpiArgs(file) {
  return ['-i', file];
}

const NUM = '([0-9.]+)\\s*([KMG]?)';
const SCALE = { '': 1, K: 1e3, M: 1e6, G: 1e9 };

function scaled(m, i) {
  return Number(m[i]) * SCALE[m[i + 1]];
}

/** The figures ndpiReader prints about its own run (null where a line is missing). */
function parseNdpiOutput(text) {
  const pick = (re, f) => {
    const m = re.exec(text);
    return m === null ? null : f(m);
  };
  return {
    ipPackets: pick(/IP packets:\s+(\d+)\s+of\s+(\d+) packets total/, (m) => Number(m[1])),
    totalPackets: pick(/IP packets:\s+(\d+)\s+of\s+(\d+) packets total/, (m) => Number(m[2])),
    discardedBytes: pick(/Discarded bytes:\s+(\d+)/, (m) => Number(m[1])),
    uniqueFlows: pick(/Unique flows:\s+(\d+)/, (m) => Number(m[1])),
    dpiPacketsTcp: pick(/DPI Packets \(TCP\):\s+(\d+)/, (m) => Number(m[1])),
    processingMs: pick(/Packet Processing Time:\s+(\d+) msec/, (m) => Number(m[1])),
    setupMs: pick(/Setup Time:\s+(\d+) msec/, (m) => Number(m[1])),
    ownPacketsPerSecond: pick(new RegExp(`nDPI throughput:\\s+${NUM} pps`), (m) => scaled(m, 1)),
    flowMemoryBytes: pick(/Flow Memory \(per flow\):\s+(\d+) B/, (m) => Number(m[1])),
  };
}

module.exports = { findNdpiReader, ndpiVersion, ndpiArgs, parseNdpiOutput };
