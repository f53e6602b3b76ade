import { mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { listCaptures } from '../../src/capture/listCaptures';
import { pcapFile, shb } from './captureBytes';
import { tempDir } from './readAll';

const tmp = tempDir('list-captures-');
afterAll(() => tmp.cleanup());

describe('listCaptures', () => {
  const dir = join(tmp.dir, 'caps');
  mkdirSync(dir);
  const sub = join(dir, 'sub');
  mkdirSync(sub);
  const put = (name: string, bytes: Uint8Array): string => tmp.write(join('caps', name), bytes);
  put('b-le.pcap', pcapFile({}, []));
  put('a-be.cap', pcapFile({ littleEndian: false }, []));
  put('c-ns-le', pcapFile({ nanosecond: true }, []));
  put('D-ns-be.dump', pcapFile({ nanosecond: true, littleEndian: false }, []));
  put('e.pcapng', shb());
  put('f.pcap.gz', gzipSync(pcapFile({}, [])));
  put('notes.txt', Buffer.from('not a capture'));
  put('tiny', Buffer.from([0xd4]));
  put('empty.pcap', Buffer.alloc(0));
  tmp.write(join('caps', 'sub', 'inner.pcap'), pcapFile({}, []));
  symlinkSync(join(dir, 'missing-target'), join(dir, 'dangling.pcap'));

  it('expands a directory to its capture files by magic number, sorted by name, not recursive', () => {
    expect(listCaptures([dir])).toEqual(['D-ns-be.dump', 'a-be.cap', 'b-le.pcap', 'c-ns-le', 'e.pcapng', 'f.pcap.gz'].map((n) => join(dir, n)));
  });

  it('keeps a file argument as given, whatever it holds, in argument order', () => {
    const notes = join(dir, 'notes.txt');
    const inner = join(sub, 'inner.pcap');
    expect(listCaptures([notes, inner, sub])).toEqual([notes, inner, inner]);
  });

  it('throws one line naming a missing path', () => {
    const missing = join(tmp.dir, 'no-such-dir');
    expect(() => listCaptures([dir, missing])).toThrow(`Capture path ${missing} does not exist (check the path)`);
  });
});
