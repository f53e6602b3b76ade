import { closeSync, lstatSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, readlinkSync, readSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { writeFileAtomic } from '../../src/sink/atomicWrite';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'atomic-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** Everything readable through `fd` from its start. */
function readFd(fd: number): string {
  const buf = Buffer.alloc(1 << 16);
  const n = readSync(fd, buf, 0, buf.length, 0);
  return buf.subarray(0, n).toString('utf8');
}

describe('writeFileAtomic', () => {
  it('creates a file that was not there, and leaves no temporary file', () => {
    const f = path.join(dir, 'groups.json');
    writeFileAtomic(f, '{"a":1}\n');
    expect(readFileSync(f, 'utf8')).toBe('{"a":1}\n');
    expect(readdirSync(dir)).toEqual(['groups.json']);
  });

  it('replaces an existing file by a rename: a reader that opened the old one still reads all of the old one', () => {
    const f = path.join(dir, 'report.html');
    const old = 'old '.repeat(5000);
    writeFileSync(f, old);
    const before = statSync(f).ino;
    const fd = openSync(f, 'r');
    try {
      writeFileAtomic(f, Buffer.from('new'));
      // writeFileSync would have truncated the open file under the reader.
      expect(readFd(fd)).toBe(old);
    } finally {
      closeSync(fd);
    }
    expect(readFileSync(f, 'utf8')).toBe('new');
    expect(statSync(f).ino).not.toBe(before);
    expect(readdirSync(dir)).toEqual(['report.html']);
  });

  it('follows a link: the file it names is replaced and the link stays a link', () => {
    mkdirSync(path.join(dir, 'real'));
    const target = path.join(dir, 'real', 'groups.json');
    writeFileSync(target, 'old');
    const link = path.join(dir, 'groups.json');
    symlinkSync(target, link);
    writeFileAtomic(link, 'new');
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readlinkSync(link)).toBe(target);
    expect(readFileSync(target, 'utf8')).toBe('new');
    expect(readdirSync(path.join(dir, 'real'))).toEqual(['groups.json']);
  });

  it('writes in place to a path that is no regular file (/dev/null stays a device)', () => {
    writeFileAtomic('/dev/null', 'anything');
    expect(statSync('/dev/null').isCharacterDevice()).toBe(true);
  });

  it('throws where the file cannot be written, and leaves nothing behind', () => {
    const f = path.join(dir, 'missing', 'groups.json');
    expect(() => writeFileAtomic(f, 'x')).toThrow(/ENOENT/);
    expect(readdirSync(dir)).toEqual([]);
    // A directory in the way of the file: the in-place write fails as writeFileSync's would.
    mkdirSync(path.join(dir, 'taken'));
    expect(() => writeFileAtomic(path.join(dir, 'taken'), 'x')).toThrow(/EISDIR/);
    expect(readdirSync(dir)).toEqual(['taken']);
  });
});
