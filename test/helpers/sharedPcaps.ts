import { existsSync } from 'node:fs';
import * as path from 'node:path';

/** ../shared/pcaps beside the checkout (present in CI and dev sessions, absent in a user's clone). */
export const SHARED_PCAPS = path.resolve(__dirname, '../../../shared/pcaps');
export const HAVE_SHARED = existsSync(path.join(SHARED_PCAPS, 'INDEX.md'));
export const SKIP_SHARED_MSG = `../shared/pcaps not found at ${SHARED_PCAPS}`;

/** ../shared/outside/pcaps: public captures from other projects (Zeek's test traces among them). */
export const SHARED_OUTSIDE_PCAPS = path.resolve(__dirname, '../../../shared/outside/pcaps');
