'use strict';
/** Medians and the plain-text tables `npm run bench` prints, and the small bench scripts' option parser. */

function median(values) {
  const v = values.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const mid = v.length >> 1;
  return v.length % 2 === 1 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

/** Median of every numeric field of the run objects (fields missing or non-numeric in all runs are left out). */
function medians(runs) {
  const out = {};
  const keys = new Set(runs.flatMap((r) => Object.keys(r)));
  for (const k of keys) {
    const m = median(runs.map((r) => r[k]));
    if (m !== null) out[k] = m;
  }
  return out;
}

function fmtInt(x) {
  return x === null || x === undefined ? '-' : Math.round(x).toLocaleString('en-US');
}

function fmtFixed(x, digits) {
  return x === null || x === undefined ? '-' : x.toFixed(digits);
}

function fmtRate(x) {
  if (x === null || x === undefined) return '-';
  if (x >= 1e6) return `${(x / 1e6).toFixed(2)} M`;
  if (x >= 1e3) return `${(x / 1e3).toFixed(1)} k`;
  return x.toFixed(0);
}

function fmtMB(bytes) {
  return bytes === null || bytes === undefined ? '-' : (bytes / 1048576).toFixed(0);
}

/** Fixed-width table: first column left-aligned, the rest right-aligned. */
function table(header, rows) {
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((r) => String(r[i] ?? '').length)));
  const line = (r) => r.map((c, i) => (i === 0 ? String(c ?? '').padEnd(widths[i]) : String(c ?? '').padStart(widths[i]))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/**
 * `--name value` pairs over `defaults` (a name not in defaults is an error; a value is a number where the default is
 * one).
 */
function optionArgs(defaults, argv) {
  const o = { ...defaults };
  for (let i = 0; i < argv.length; i += 2) {
    const k = argv[i].replace(/^--/, '');
    if (!(k in o)) throw new Error(`unknown option ${argv[i]}`);
    o[k] = typeof o[k] === 'number' ? Number(argv[i + 1]) : argv[i + 1];
  }
  return o;
}

/**
 * Positional arguments and `--name value` pairs in any order: returns [positionals, options], the pairs read by
 * optionArgs() (a name not in defaults is an error).
 */
function positionalArgs(defaults, argv) {
  const pos = [];
  const pairs = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i].startsWith('--')) pairs.push(argv[i], argv[++i]);
    else pos.push(argv[i]);
  }
  return [pos, optionArgs(defaults, pairs)];
}

module.exports = { median, medians, optionArgs, positionalArgs, fmtInt, fmtFixed, fmtRate, fmtMB, table };
