import { existsSync } from 'node:fs';
import * as path from 'node:path';

/** ../shared/pcaps beside the checkout (present in CI and dev sessions, absent in a user's clone). */
export const SHARED_PCAPS = path.resolve(__dirname, '../../../shared/pcaps');
export const HAVE_SHARED = existsSync(path.join(SHARED_PCAPS, 'INDEX.md'));
export const SKIP_SHARED_MSG = `../shared/pcaps not found at ${SHARED_PCAPS}: golden tests on the public captures are skipped`;
