/** ISO 8601 date-times the API takes (a date alone means its midnight UTC; no zone means UTC). */
const ISO = /^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?)(Z|[+-]\d{2}:?\d{2})?)?$/;
const UNIX = /^-?\d{1,12}(?:\.\d{1,9})?$/;

/** A time bound as Unix seconds; a 400 error naming the parameter when it is neither form. */
export function parseTime(text: string, name: string): number {
  if (UNIX.test(text)) return Number(text);
  const m = ISO.exec(text);
  if (m !== null) {
    const [, date, time, zone] = m;
    // Date.parse reads at most milliseconds; the rest of the fraction is added back.
    let frac = 0;
    let t = time;
    if (t !== undefined && t.includes('.')) {
      const [hms, digits] = t.split('.') as [string, string];
      frac = Number(`0.${digits}`);
      t = hms;
    }
    const ms = Date.parse(`${date}T${t ?? '00:00:00'}${zone === undefined ? 'Z' : zone.length === 5 ? zone.slice(0, 3) + ':' + zone.slice(3) : zone}`);
    if (Number.isFinite(ms)) return ms / 1000 + frac;
  }
  throw Object.assign(new Error(`${name} '${text.slice(0, 40)}' is not a time: give Unix seconds (1732888800) or ISO 8601 (2026-11-29T14:00:00Z)`), {
    statusCode: 400,
  });
}
