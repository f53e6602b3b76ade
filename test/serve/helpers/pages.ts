import { expect } from 'vitest';

/**
 * Every item of a paged list route, page by page: `route` with its query (`limit` and filters), `key` the array of
 * each page; `next` of one page is passed as `before` of the next until it is null or `maxPages` were read.
 */
export async function allPages(
  get: (p: string) => Promise<{ status: number; body: any }>,
  route: string,
  key: string,
  maxPages: number,
): Promise<any[]> {
  const seen: any[] = [];
  let before: number | null = null;
  for (let pages = 0; pages < maxPages; pages++) {
    const r = await get(`${route}${before !== null ? `&before=${before}` : ''}`);
    expect(r.status).toBe(200);
    seen.push(...r.body[key]);
    before = r.body.next;
    if (before === null) break;
  }
  return seen;
}
