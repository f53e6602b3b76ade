import { closeSync, openSync, readSync, readdirSync, statSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { MAGIC_BYTES, captureKind } from './captureMagic';
import { STDIN_PATH } from './fileSource';

/**
 * Expands the capture arguments: a file stays as given (a damaged or foreign file is reported when it
 * is read; `-` is standard input, a FIFO is read as a stream); a directory becomes the capture files
 * directly in it (pcap in both byte orders, µs or ns, pcapng, gzip; recognised by their first bytes, not
 * their names), sorted by name, not recursive. Throws a one-line Error for a path that does not exist or
 * cannot be listed, and for a directory that holds no capture file (a wrong directory must not look like a
 * quiet network).
 */
export function listCaptures(paths: string[]): string[] {
  const out: string[] = [];
  for (const path of paths) {
    if (path === STDIN_PATH) {
      out.push(path);
      continue;
    }
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
    const before = out.length;
    for (const name of names) {
      const full = join(path, name);
      if (looksLikeCapture(full)) out.push(full);
    }
    if (out.length === before) {
      throw new Error(
        `Capture directory ${path} holds no capture files (${names.length} entries, none a pcap, pcapng or gzip file by its first bytes)`,
      );
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
