import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileSource, type FileReadResult } from '../../src/capture/fileSource';
import type { Frame } from '../../src/capture/frame';

/** A frame copied out of the reused Frame, for assertions after the read. */
export interface SeenFrame {
  ts: number;
  capLen: number;
  wireLen: number;
  linkType: number;
  ifIndex: number;
  bytes: Buffer;
}

export function copyFrame(f: Frame): SeenFrame {
  return { ts: f.ts, capLen: f.capLen, wireLen: f.wireLen, linkType: f.linkType, ifIndex: f.ifIndex, bytes: Buffer.from(f.buf.subarray(f.off, f.off + f.capLen)) };
}

/** Reads a capture file with FileSource and returns the result with copies of every frame. */
export async function readFile(path: string, chunkSize?: number): Promise<FileReadResult & { seen: SeenFrame[] }> {
  const seen: SeenFrame[] = [];
  const src = new FileSource(path, chunkSize === undefined ? {} : { chunkSize });
  const result = await src.run((f) => seen.push(copyFrame(f)));
  return { ...result, seen };
}

/** A temporary directory for one test file's captures; call cleanup() in afterAll. */
export function tempDir(prefix: string): { dir: string; write(name: string, bytes: Uint8Array): string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return {
    dir,
    write(name, bytes) {
      const p = join(dir, name);
      writeFileSync(p, bytes);
      return p;
    },
    cleanup() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Writes `bytes` to a temp file and reads it back. */
export async function readBytes(tmp: ReturnType<typeof tempDir>, name: string, bytes: Uint8Array, chunkSize?: number): Promise<FileReadResult & { seen: SeenFrame[]; path: string }> {
  const path = tmp.write(name, bytes);
  return { ...(await readFile(path, chunkSize)), path };
}
