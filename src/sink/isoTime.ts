/** The largest |seconds| a JavaScript Date can hold (±100,000,000 days around 1970). */
const DATE_LIMIT_S = 8.64e12;

/**
 * The last two whole seconds formatted, up to and including the '.': records come roughly in time order, and each
 * formats its first and its last packet, which are often in different seconds (one slot would miss for both).
 */
let secondA = NaN;
let prefixA = '';
let secondB = NaN;
let prefixB = '';
/** Which slot the next miss overwrites (the older one). */
let nextSlotIsA = true;

/**
 * Unix seconds as ISO 8601 UTC with microseconds (`2026-11-29T14:00:00.123456Z`), the form Elastic, Splunk and
 * Vector parse without a pattern. Rounded to the microsecond (pcap timestamps have at most that precision;
 * nanosecond captures are rounded). Years past 9999 (a damaged capture's timestamps) take ISO's extended form
 * (`+020000-...`), and values beyond what a date can hold are clamped, so this never throws. Twice per flow.
 */
export function isoMicros(ts: number): string {
  const t = Number.isFinite(ts) ? Math.min(DATE_LIMIT_S, Math.max(-DATE_LIMIT_S, ts)) : 0;
  const us = Math.round(t * 1e6);
  const sec = Math.floor(us / 1e6);
  const frac = us - sec * 1e6;
  let prefix: string;
  if (sec === secondA) prefix = prefixA;
  else if (sec === secondB) prefix = prefixB;
  else {
    // toISOString() ends in `.mmmZ`: keep everything up to the '.', the fraction is ours.
    const iso = new Date(sec * 1000).toISOString();
    prefix = iso.slice(0, iso.length - 4);
    if (nextSlotIsA) {
      secondA = sec;
      prefixA = prefix;
    } else {
      secondB = sec;
      prefixB = prefix;
    }
    nextSlotIsA = !nextSlotIsA;
  }
  return prefix + (frac < 100000 ? String(frac + 1000000).slice(1) : String(frac)) + 'Z';
}
