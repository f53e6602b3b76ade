/** The largest |seconds| a JavaScript Date can hold (±100,000,000 days around 1970). */
const DATE_LIMIT_S = 8.64e12;

/** Seconds per day (UTC days have no leap seconds in ISO 8601 as JavaScript writes it). */
const DAY_S = 86400;

/**
 * The formatted whole seconds seen last, up to and including the '.', in a direct-mapped cache indexed by the second's
 * low bits: records come roughly in time order, but a flow's first and last packet are often seconds apart, and a
 * batch of flows that ended together started over a span of seconds (a two-entry cache missed for 28% of the 1M bench
 * capture's timestamps; bench/HISTORY.md, round perf12).
 */
const SLOTS = 64;
const slotSecond = new Float64Array(SLOTS).fill(NaN);
const slotPrefix: string[] = new Array<string>(SLOTS).fill('');

/** The day of the last miss (days since 1970-01-01) and its `YYYY-MM-DDT` text. */
let lastDay = NaN;
let lastDayText = '';

/** The bytes of isoMicros()'s text (ASCII; the longest prefix, a year's extended form, has 24 characters). */
const ISO = Buffer.alloc(64);

/** '00' to '59'. */
const TWO_DIGITS: readonly string[] = Array.from({ length: 60 }, (_, i) => (i < 10 ? '0' : '') + String(i));

/** `YYYY-MM-DDTHH:MM:SS.` of a whole second: the day from Date (once per day), the time of day by arithmetic. */
function secondPrefix(sec: number): string {
  const day = Math.floor(sec / DAY_S);
  if (day !== lastDay) {
    // toISOString() ends in `HH:MM:SS.mmmZ` (13 characters) after the date and its 'T', for every year.
    const iso = new Date(day * DAY_S * 1000).toISOString();
    lastDayText = iso.slice(0, iso.length - 13);
    lastDay = day;
  }
  const s = sec - day * DAY_S;
  const h = Math.floor(s / 3600);
  const m = Math.floor((s - h * 3600) / 60);
  return lastDayText + TWO_DIGITS[h]! + ':' + TWO_DIGITS[m]! + ':' + TWO_DIGITS[s - h * 3600 - m * 60]! + '.';
}

/**
 * Unix seconds as ISO 8601 UTC with microseconds (`2026-11-29T14:00:00.123456Z`), the form Elastic, Splunk and
 * Vector parse without a pattern. Rounded to the microsecond (pcap timestamps have at most that precision;
 * nanosecond captures are rounded). Years past 9999 (a damaged capture's timestamps) take ISO's extended form
 * (`+020000-...`), and values beyond what a date can hold are clamped, so this never throws. Twice per flow.
 */
export function isoMicros(ts: number): string {
  const n = isoMicrosInto(ts, ISO, 0);
  if (n >= 0) return ISO.toString('latin1', 0, n);
  // Past 2^53 microseconds (beyond the year 2255) `us` is no longer exact: the text as it always was.
  const us = Math.round(clamped(ts) * 1e6);
  const sec = Math.floor(us / 1e6);
  const frac = us - sec * 1e6;
  return prefixOf(sec) + (frac < 100000 ? String(frac + 1000000).slice(1) : String(frac)) + 'Z';
}

/** Most bytes isoMicrosInto() writes: the longest prefix (24), six digits and the 'Z'. */
export const ISO_MICROS_ROOM = 31;

/**
 * Writes isoMicros(ts)'s text (ASCII) at `at` in `into`, which has ISO_MICROS_ROOM bytes there; returns the end, or -1
 * past 2^53 microseconds, where isoMicros() builds the text another way. isoMicros() makes its one flat string out of
 * these bytes: `prefix + digits + 'Z'` made two short strings and two cons strings, which better-sqlite3's UTF-8
 * conversion then copied flat again (bench/HISTORY.md, round perf18); the SQLite sink binds them as they are (round
 * perf34).
 */
export function isoMicrosInto(ts: number, into: Uint8Array, at: number): number {
  const us = Math.round(clamped(ts) * 1e6);
  const sec = Math.floor(us / 1e6);
  let frac = us - sec * 1e6;
  if (!(frac >= 0 && frac < 1e6 && frac === Math.floor(frac))) return -1;
  const prefix = prefixOf(sec);
  let n = at;
  for (let i = 0; i < prefix.length; i++) into[n++] = prefix.charCodeAt(i);
  for (let i = n + 5; i >= n; i--) {
    const q = (frac / 10) | 0;
    into[i] = 0x30 + frac - q * 10;
    frac = q;
  }
  into[n + 6] = 0x5a;
  return n + 7;
}

/** `ts` within what a date can hold, 0 for a value that is not finite. */
function clamped(ts: number): number {
  return Number.isFinite(ts) ? Math.min(DATE_LIMIT_S, Math.max(-DATE_LIMIT_S, ts)) : 0;
}

/** secondPrefix(sec) through the cache of recent seconds. */
function prefixOf(sec: number): string {
  const slot = sec & (SLOTS - 1);
  if (slotSecond[slot] === sec) return slotPrefix[slot]!;
  const prefix = secondPrefix(sec);
  slotSecond[slot] = sec;
  slotPrefix[slot] = prefix;
  return prefix;
}
