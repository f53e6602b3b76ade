/**
 * ClickHouse exception codes that mean the batch (or the table, or the login) is wrong rather than the server
 * away: sending the same bytes again gives the same answer, so the sink stops inserting and says why, once.
 * Every other failure (refused or reset connection, timeout, 5xx without a code, too many parts, memory limit,
 * a shard unreachable) is transient and retried from the spool. Codes as in ClickHouse's ErrorCodes.cpp.
 */
export const PERMANENT_CODES: ReadonlyMap<number, string> = new Map([
  [6, 'CANNOT_PARSE_TEXT'],
  [8, 'THERE_IS_NO_COLUMN'],
  [10, 'NOT_FOUND_COLUMN_IN_BLOCK'],
  [16, 'NO_SUCH_COLUMN_IN_TABLE'],
  [20, 'NUMBER_OF_COLUMNS_DOESNT_MATCH'],
  [26, 'CANNOT_PARSE_QUOTED_STRING'],
  [27, 'CANNOT_PARSE_INPUT_ASSERTION_FAILED'],
  [38, 'CANNOT_PARSE_DATE'],
  [41, 'CANNOT_PARSE_DATETIME'],
  [47, 'UNKNOWN_IDENTIFIER'],
  [53, 'TYPE_MISMATCH'],
  [60, 'UNKNOWN_TABLE'],
  [62, 'SYNTAX_ERROR'],
  [69, 'ARGUMENT_OUT_OF_BOUND'],
  [70, 'CANNOT_CONVERT_TYPE'],
  [72, 'CANNOT_PARSE_NUMBER'],
  [81, 'UNKNOWN_DATABASE'],
  [115, 'UNKNOWN_SETTING'],
  [117, 'INCORRECT_DATA'],
  [164, 'READONLY'],
  [192, 'UNKNOWN_USER'],
  [193, 'WRONG_PASSWORD'],
  [194, 'REQUIRED_PASSWORD'],
  [195, 'IP_ADDRESS_NOT_ALLOWED'],
  [497, 'ACCESS_DENIED'],
  [516, 'AUTHENTICATION_FAILED'],
]);

/** The exception code in a ClickHouse error message: `Code: 117, e.displayText() = ...` (18.x) or `Code: 117. DB::Exception: ...`. */
export function exceptionCode(message: string): number | null {
  const m = /\bCode: (\d+)/.exec(message);
  return m === null ? null : Number(m[1]);
}

export interface InsertFailure {
  permanent: boolean;
  /** One line: the server's message without its stack trace and ClickHouse's repeated suffixes. */
  message: string;
  code: number | null;
}

/** Sorts a failed INSERT into permanent (data, schema, login) or transient, with a one-line message. */
export function classifyInsertError(e: unknown): InsertFailure {
  const raw = e instanceof Error ? e.message : String(e);
  const code = exceptionCode(raw);
  // 18.x: "Code: 16, e.displayText() = DB::Exception: No such column x in table y, e.what() = DB::Exception"
  let message = raw
    .replace(/, e\.what\(\) = DB::\w*Exception\s*$/s, '')
    .replace(/\s*\(version [^)]*\)\s*$/, '')
    .replace(/^\s*Code: \d+(, e\.displayText\(\) = |\. )(DB::\w*Exception: )?/, '')
    .replace(/\. \([A-Z0-9_]+\)$/, '');
  message = message.replace(/\s+/g, ' ').trim();
  if (message === '') message = (e as { code?: string } | null)?.code ?? 'unknown error';
  return { permanent: code !== null && PERMANENT_CODES.has(code), message, code };
}
