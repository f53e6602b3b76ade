import { closeSync, openSync, readSync, readdirSync, statSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { MAGIC_BYTES, captureKind } from './captureMagic';

/**
 * Expands the capture arguments: a file stays as given (a damaged or foreign file is reported when it
 * is read); a directory becomes the capture files directly in it (pcap in both byte orders, µs or ns,
 * pcapng, gzip; recognised by their first bytes, not their names), sorted by name, not recursive.
 * Throws a one-line Error for a path that does not exist or cannot be listed.
 */
export function listCaptures(paths: string[]): string[] {
  const out: string[] = [];
  for (const path of paths) {
    const stat = statOrThrow(path);
    if (!stat.isDirectory()) {
      out.push(path);
      continue;
    }
    let names: string[];
    try {
      names = readdirSync(path);
    } catch (err) {
      throw new Error(`Cannot list capture directory ${path}: ${(err as Error).message}`);
    }
    // Code-unit order, so the result does not depend on the locale.
    names.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    for (const name of names) {
      const full = join(path, name);
      if (looksLikeCapture(full)) out.push(full);
    }
  }
  return out;
}

function statOrThrow(path: string): Stats {
  try {
    return statSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new Error(`Capture path ${path} does not exist (check the path)`);
    throw new Error(`Cannot read capture path ${path}: ${(err as Error).message}`);
  }
}

/** True for a regular, readable file whose first bytes are a capture or gzip magic. */
function looksLikeCapture(path: string): boolean {
  let fd: number;
  try {
    if (!statSync(path).isFile()) return false;
    fd = openSync(path, 'r');
  } catch {
    // Unreadable entries (dangling links, no permission) are not captures we can use.
    return false;
  }
  try {
    const head = Buffer.alloc(MAGIC_BYTES);
    const got = readSync(fd, head, 0, MAGIC_BYTES, 0);
    return captureKind(head, got) !== null;
  } finally {
    closeSync(fd);
  }
}
