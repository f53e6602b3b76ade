import { Writable } from 'node:stream';

/** A writable stream that keeps what is written to it, for commands that print to a stream they are given. */
export function textSink(): { stream: Writable; text: () => string } {
  let buf = '';
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      buf += chunk.toString();
      cb();
    },
  });
  return { stream, text: () => buf };
}
