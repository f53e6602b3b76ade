/** A sink cannot open or write its output; the message is one line naming the file and what to do. */
export class SinkError extends Error {
  override name = 'SinkError';
}
