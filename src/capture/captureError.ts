/**
 * A live capture problem the user can fix (bad option, missing interface, no permission, engine not
 * installed): the message is one line that says what to do. `code` marks it as a user error, so the CLI prints
 * the message alone instead of a stack trace.
 */
export class CaptureError extends Error {
  override name = 'CaptureError';
  readonly code = 'ERR_SENSOR_CAPTURE';
}
