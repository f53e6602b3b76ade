/** A sink cannot open or write its output; the message is one line naming the file and what to do. */
export class SinkError extends Error {
  override name = 'SinkError';

  /**
   * @param rowsLost for a failed write: records of the batch that were not written (a batch split into several
   *   transactions keeps the ones committed before the failure); undefined: the whole batch.
   */
  constructor(
    message: string,
    options?: ErrorOptions,
    readonly rowsLost?: number,
  ) {
    super(message, options);
  }
}
