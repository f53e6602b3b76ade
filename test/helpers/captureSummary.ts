/**
 * The summary an offline run logs at its end (`"message":"capture done"`, src/cli/offline.ts), parsed from the run's
 * stderr. The JSON starts at the line's first `{`: with --progress the erased progress line (`\r ESC[K`) comes before
 * it on the same line. Throws, with the whole stderr, where there is no such line.
 */
export function captureSummary<T = Record<string, unknown>>(stderr: string): T {
  const line = stderr.split('\n').find((l) => l.includes('"capture done"'));
  if (line === undefined) throw new Error(`no "capture done" summary line in:\n${stderr}`);
  return JSON.parse(line.slice(line.indexOf('{'))) as T;
}
