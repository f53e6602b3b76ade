import { closeSync, fsyncSync, openSync, realpathSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

/**
 * Writes `data` to `file` by a temporary file beside it and a rename, so that a reader sees the old file or the new
 * one, never half of one: `sensor hosts-fit` rewrites the groups file a running daemon reloads on SIGHUP
 * (config hosts.groups), and `sensor report` a page someone may have open. The data is flushed to disk before the
 * rename, so a crash leaves the old file or the whole new one. The temporary file (a dot name with the process id) is
 * removed when the write or the rename fails (a full disk, a directory in the way), and the error is thrown.
 *
 * A link is followed (the file it names is replaced, the link stays), and a path that exists but is no regular file
 * (/dev/stdout, a pipe) is written in place, as writeFileSync() would.
 */
export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  let target = file;
  try {
    target = realpathSync(file);
    if (!statSync(target).isFile()) {
      writeFileSync(target, data);
      return;
    }
  } catch (e) {
    // Not there yet: created by the rename below. Any other failure to look is the open's to report.
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  const tmp = path.join(path.dirname(target), `.${path.basename(target)}.${process.pid}.tmp`);
  let fd = -1;
  try {
    // The mode writeFileSync() creates a file with (less the umask).
    fd = openSync(tmp, 'w', 0o666);
    writeFileSync(fd, data);
    fsyncSync(fd);
    closeSync(fd);
    fd = -1;
    renameSync(tmp, target);
  } catch (e) {
    if (fd >= 0) closeSync(fd);
    rmSync(tmp, { force: true });
    throw e;
  }
}
